//go:build amd64 && !purego

package kernels

import "github.com/klauspost/cpuid/v2"

// qgemm6x16AVX2 is the AVX2 int8 micro-kernel (see qMicroGo for the contract).
//
//go:noescape
func qgemm6x16AVX2(steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8)

// qgemm6x16VNNI is the AVX-512 VNNI int8 micro-kernel (same contract).
//
//go:noescape
func qgemm6x16VNNI(steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8)

// qgemm6x16AVXVNNI is the AVX-VNNI int8 micro-kernel (same contract).
//
//go:noescape
func qgemm6x16AVXVNNI(steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8)

// qgemm6x64VNNI is qgemm6x16VNNI over four adjacent panels, panelBytes
// apart (see qMicroWideGo for the contract).
//
//go:noescape
func qgemm6x64VNNI(steps int, a *uint8, b *int8, panelBytes int, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8)

// int8Kernels are amd64's int8 micro-kernels, best first. VNNI's
// VPDPBUSD does in one instruction, on 16 columns, what the AVX2 kernel
// does in three on 8; AVX-VNNI brings it, on 8 columns, to CPUs without
// AVX-512. The weights stay 7-bit for all: one layout, and every kernel
// agrees bit for bit.
var int8Kernels = []int8Kernel{
	{name: "avx512-vnni", kind: qKernelVNNI, supported: func() bool {
		return cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512VNNI, cpuid.AVX2, cpuid.FMA3)
	}, peak: peakLoop{run: dotLoopVNNI, opsPerIter: 24 * 64 * 2}},
	{name: "avx-vnni", kind: qKernelAVXVNNI, supported: func() bool {
		return cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3, cpuid.AVXVNNI)
	}, peak: peakLoop{run: dotLoopAVXVNNI, opsPerIter: 12 * 32 * 2}},
	{name: "avx2", kind: qKernelAVX2, supported: func() bool { return cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3) },
		peak: peakLoop{run: dotLoopAVX2, opsPerIter: 8 * 32 * 2}},
	int8Go,
}

// dotLoopVNNI, dotLoopAVX2 and dotLoopAVXVNNI are the int8 kernels' peak loops (see
// Int8PeakGOPS).
//
//go:noescape
func dotLoopVNNI(n int)

//go:noescape
func dotLoopAVX2(n int)

//go:noescape
func dotLoopAVXVNNI(n int)

func qMicro(kind qKernel, steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8) {
	switch kind {
	case qKernelAVX2:
		qgemm6x16AVX2(steps, a, b, c, ldc, rows, zero, scale, colSum, colScale, bias, pf)
	case qKernelVNNI:
		qgemm6x16VNNI(steps, a, b, c, ldc, rows, zero, scale, colSum, colScale, bias, pf)
	case qKernelAVXVNNI:
		qgemm6x16AVXVNNI(steps, a, b, c, ldc, rows, zero, scale, colSum, colScale, bias, pf)
	default:
		qMicroGo(steps, a, b, c, ldc, rows, zero, scale, colSum, colScale, bias)
	}
}

// qWidePanels is how many panels kind's widest micro-kernel covers.
func qWidePanels(kind qKernel) int {
	if kind == qKernelVNNI {
		return qMaxWide
	}
	return 1
}

func qMicroWide(kind qKernel, steps int, a *uint8, b *int8, panelBytes int, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8) {
	if kind == qKernelVNNI {
		qgemm6x64VNNI(steps, a, b, panelBytes, c, ldc, rows, zero, scale, colSum, colScale, bias, pf)
		return
	}
	qMicroWideGo(kind, steps, a, b, panelBytes, c, ldc, rows, zero, scale, colSum, colScale, bias, pf)
}

// hasAVX2 reports whether kind's CPU runs the AVX2 input scan and quantizer.
func (kind qKernel) hasAVX2() bool {
	return kind == qKernelAVX2 || kind == qKernelVNNI || kind == qKernelAVXVNNI
}

//go:noescape
func minMaxAVX2(x *float32, n int) (lo, hi float32, finite bool)

//go:noescape
func quantizeAVX2(x *float32, n int, dst *uint8, inv, zero float32)

// qRange returns min(0, x…), max(0, x…) and whether x is all finite.
func qRange(kind qKernel, x []float32) (lo, hi float32, finite bool) {
	n := 0
	if kind.hasAVX2() && len(x) >= 8 {
		n = len(x) &^ 7
		lo, hi, finite = minMaxAVX2(&x[0], n)
		if !finite {
			return 0, 0, false
		}
	}
	lo2, hi2, finite := qRangeGo(x[n:])
	return min(lo, lo2), max(hi, hi2), finite
}

//go:noescape
func quantizeAVX512(x *float32, n int, dst *uint8, inv, zero float32)

// qQuantize quantizes x into a row's place of a packed group (see
// quantizeRow), returning how many leading values it did: a multiple of 8.
// The VNNI kernel's CPUs take sixteen at a time.
func qQuantize(kind qKernel, x []float32, dst []uint8, inv, zero float32) int {
	if !kind.hasAVX2() || len(x) < 8 {
		return 0
	}
	n := 0
	if kind == qKernelVNNI && len(x) >= 16 {
		n = len(x) &^ 15
		_ = dst[(n/4-1)*qRows*4+3] // the last byte written
		quantizeAVX512(&x[0], n, &dst[0], inv, zero)
	}
	if rest := (len(x) - n) &^ 7; rest > 0 {
		_ = dst[((n+rest)/4-1)*qRows*4+3]
		quantizeAVX2(&x[n], rest, &dst[n/4*qRows*4], inv, zero)
		n += rest
	}
	return n
}
