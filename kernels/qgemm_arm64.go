//go:build arm64 && !purego

package kernels

import (
	"unsafe"

	"github.com/klauspost/cpuid/v2"
)

// qdot6x16NEON sums a group's and a panel's int8 products with SDOT, the
// inputs shifted to int8, for the first rows rows (see the assembly).
//
//go:noescape
func qdot6x16NEON(steps int, a *uint8, b *int8, sums *int32, rows int)

// dotLoopSDOT is the SDOT kernel's peak loop (see Int8PeakGOPS).
//
//go:noescape
func dotLoopSDOT(n int)

// int8Kernels are arm64's int8 micro-kernels, best first. SDOT is
// optional in ARMv8.2 (most cores of the last years have it); without it
// the portable kernel runs.
var int8Kernels = []int8Kernel{
	{name: "neon-sdot", kind: qKernelNEONDot, supported: func() bool { return cpuid.CPU.Supports(cpuid.ASIMDDP) },
		peak: peakLoop{run: dotLoopSDOT, opsPerIter: 24 * 16 * 2}},
	int8Go,
}

func qMicro(kind qKernel, steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, _ *int8) {
	if kind != qKernelNEONDot {
		qMicroGo(steps, a, b, c, ldc, rows, zero, scale, colSum, colScale, bias)
		return
	}
	var sums [qRows][qPanel]int32
	qdot6x16NEON(steps, a, b, &sums[0][0], rows)
	// Σ (x−128)·w + 128·Σ w = Σ x·w, exactly (int32 wraps alike).
	cs := (*[qPanel]int32)(unsafe.Slice(colSum, qPanel))
	for r := range sums {
		for j := range sums[r] {
			sums[r][j] += 128 * cs[j]
		}
	}
	qDequant(&sums, c, ldc, rows, zero, scale, colSum, colScale, bias)
}

// qWidePanels: every kernel here covers one panel at a time.
func qWidePanels(qKernel) int { return 1 }

func qMicroWide(kind qKernel, steps int, a *uint8, b *int8, panelBytes int, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8) {
	qMicroWideGo(kind, steps, a, b, panelBytes, c, ldc, rows, zero, scale, colSum, colScale, bias, pf)
}

func qRange(_ qKernel, x []float32) (lo, hi float32, finite bool) { return qRangeGo(x) }

func qQuantize(qKernel, []float32, []uint8, float32, float32) int { return 0 }
