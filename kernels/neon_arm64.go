//go:build arm64 && !purego

package kernels

import (
	"math"

	"github.com/klauspost/cpuid/v2"
)

//go:noescape
func gemm8x12NEON(k int, a *float32, b *float32, c *float32, ldc int, cin *float32, ldcin int)

var neon = newImpl(Impl{
	name:         "neon",
	priority:     20,
	supported:    func() bool { return cpuid.CPU.Supports(cpuid.ASIMD) },
	panel:        neonPanel,
	aRows:        neonRows,
	aSlice:       neonGemm.slice,
	pack:         packPanelsNEON,
	packA:        neonGemm.packA,
	gemm:         neonGemm.gemm,
	dot:          dotNEON,
	axpy:         axpyNEON,
	addLayerNorm: addLayerNormGeneric,
	softmax:      softmaxGeneric,
	gelu:         geluGeneric,
	int8Prefs:    []string{"neon-sdot"},
	peak:         peakLoop{run: fmaLoopNEON, opsPerIter: 24 * 4 * 2},
})

func init() { register(neon) }

const (
	neonPanel  = 12  // columns of W per packed panel: three Q registers
	neonRows   = 8   // rows of x per micro-kernel call: 24 accumulators
	neonKBlock = 256 // K slice kept hot in L1: a 12 KiB panel slice + 8 KiB of A per row group
)

// neonGemm runs BLIS order for every M: per K slice, each panel slice
// (L1-resident) sweeps the whole packed A. The streaming order and row
// blocks of the amd64 drivers are untried on arm64 hardware.
var neonGemm = &blockedGemm{
	panel:          neonPanel,
	rows:           neonRows,
	kBlock:         neonKBlock,
	smallMGroups:   0,
	rowBlockGroups: math.MaxInt32,
	kernel: func(_, k int, a, b, c *float32, ldc int, cin *float32, ldcin int, _ *float32, _ int) {
		gemm8x12NEON(k, a, b, c, ldc, cin, ldcin)
	},
	exactRows: 1 << neonRows,
	tiles:     newTilePool(neonRows, neonPanel),
}

// packPanelsNEON lays W out in 12-column panels: one three-register load per k.
func packPanelsNEON(dst, w []float32, out, in, ld int, transposed bool) []float32 {
	return packPanels(dst, w, out, in, ld, transposed, neonPanel)
}

//go:noescape
func dot16NEON(a *float32, b *float32, blocks int) float32

//go:noescape
func axpy16NEON(alpha float32, x *float32, y *float32, blocks int)

// dotNEON runs whole blocks of 16 in assembly and the rest in Go.
func dotNEON(a, b []float32) float32 {
	b = b[:len(a)]
	n := len(a) &^ 15
	var s float32
	if n > 0 {
		s = dot16NEON(&a[0], &b[0], n/16)
	}
	for i := n; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// axpyNEON runs whole blocks of 16 in assembly and the rest in Go.
func axpyNEON(alpha float32, x, y []float32) {
	y = y[:len(x)]
	n := len(x) &^ 15
	if n > 0 {
		axpy16NEON(alpha, &x[0], &y[0], n/16)
	}
	for i := n; i < len(x); i++ {
		y[i] += alpha * x[i]
	}
}

//go:noescape
func fmaLoopNEON(n int)
