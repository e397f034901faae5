//go:build amd64 && !purego

package kernels

import (
	"math"

	"github.com/klauspost/cpuid/v2"
)

//go:noescape
func gemm12x32AVX512(k, rows int, a, b, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)

//go:noescape
func gemm8x32AVX512(k, rows int, a, b, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)

//go:noescape
func gemm4x32AVX512(k, rows int, a, b, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)

//go:noescape
func geluAVX512(x *float32, n int)

//go:noescape
func expSubSumAVX512(x *float32, n int, sub float32) float32

// softmaxAVX512 takes softmax's exponentials sixteen at a time.
func softmaxAVX512(x []float32) { softmaxWith(x, true) }

// avx512 multiplies with 512-bit FMAs. GELU and softmax's exponentials,
// compute-bound, have their own 512-bit loops; the other element-wise
// kernels (layer norm, dot, axpy) are the AVX2 ones, which every AVX-512
// CPU runs: they are a few per cent of a forward pass and memory-bound.
var avx512 = newImpl(Impl{
	name:     "avx512",
	priority: 30,
	// AVX512F covers every instruction of the kernels; cpuid reports it
	// only when the OS saves the ZMM and mask registers.
	supported:    func() bool { return cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX2, cpuid.FMA3) },
	panel:        avx512Panel,
	aRows:        avx512Rows,
	aSlice:       avx512Gemm.slice,
	pack:         packPanels32,
	packA:        avx512Gemm.packA,
	gemm:         avx512Gemm.gemm,
	dot:          dotAVX2Slice,
	axpy:         axpyAVX2Slice,
	addLayerNorm: addLayerNormAVX2,
	softmax:      softmaxAVX512,
	gelu:         geluAVX512Slice,
	int8Prefs:    []string{"avx512-vnni", "avx-vnni", "avx2"},
	peak:         peakLoop{run: fmaLoopAVX512, opsPerIter: 24 * 16 * 2},
})

func init() { register(avx512) }

const (
	avx512Panel = 32 // columns of W per packed panel: two ZMM registers
	avx512Rows  = 12 // rows of x per micro-kernel call: 24 accumulators
	// 128 × 32 × 4 B = a 16 KiB panel slice, half of the smallest L1D
	// among AVX-512 cores (32 KiB), next to 6 KiB of A per group.
	avx512KBlock = 128
	// In the BLIS order every group's C tile goes through L2/L3 once per
	// K slice; longer slices mean fewer trips, and B then streams from
	// L2, which keeps up with two loads per 24 FMAs (BenchmarkBlocking).
	avx512BlisKBlock = 384
)

var avx512Gemm = (&blockedGemm{
	panel:      avx512Panel,
	rows:       avx512Rows,
	kBlock:     avx512KBlock,
	blisKBlock: avx512BlisKBlock,
	// Up to 144 rows stream W panels whole, as on AVX2.
	smallMGroups: 12,
	// 8 groups × 12 rows × 384 × 4 B = 144 KiB of packed A stays in L2.
	rowBlockGroups: 8,
	// Every call shares the next slice: where W's next slice takes longer
	// to arrive than one 12-row call lasts, a prefetch spread over every
	// call keeps more misses in flight than the first two calls can.
	prefetchShare:  math.MaxInt32,
	kernel:         microKernelAVX512,
	prefetchesPerK: 2,
	exactRows:      1<<(avx512Rows+1) - 2, // every count 1…12
	prefetchC:      prefetchTile,
	packGroup:      packGroup12,
	tiles:          newTilePool(avx512Rows, avx512Panel),
}).withSums()

// microKernelAVX512 picks the smallest kernel that covers rows.
func microKernelAVX512(rows, k int, a, b, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int) {
	switch {
	case rows <= 4:
		gemm4x32AVX512(k, rows, a, b, c, ldc, cin, ldcin, pf, pfStep)
	case rows <= 8:
		gemm8x32AVX512(k, rows, a, b, c, ldc, cin, ldcin, pf, pfStep)
	default:
		gemm12x32AVX512(k, rows, a, b, c, ldc, cin, ldcin, pf, pfStep)
	}
}

// packPanels32 lays W out in 32-column panels: two ZMM loads per k.
func packPanels32(dst, w []float32, out, in, ld int, transposed bool) []float32 {
	return packPanelsWith(dst, w, out, in, ld, transposed, avx512Panel, packPanel32)
}

// packPanel32 is packPanel16 for the avx512 path's 32-wide panels: the
// scalar scatter cost as much as the product it fed at batch 32.
func packPanel32(dst, w []float32, in, ld, rows int) int {
	return packPanelRows(dst, w, in, ld, rows, avx512Panel)
}

//go:noescape
func pack32x8AVX2(dst, w *float32, blocks, ld int)

// packGroup12 packs a whole 12-row group as two passes of six rows
// (packSixRows: register transposes, as avx2 packs its groups, instead of
// the generic row-by-row scatter).
func packGroup12(dst, x []float32, in, ldx int) {
	packSixRows(dst, x, in, ldx, avx512Rows)
	packSixRows(dst[6:], x[6*ldx:], in, ldx, avx512Rows)
}

//go:noescape
func fmaLoopAVX512(n int)

// geluAVX512Slice finishes the tail through a 16-element buffer.
func geluAVX512Slice(x []float32) {
	n16 := len(x) &^ 15
	if n16 > 0 {
		geluAVX512(&x[0], n16)
	}
	if tail := x[n16:]; len(tail) > 0 {
		var buf [16]float32
		copy(buf[:], tail)
		geluAVX512(&buf[0], 16)
		copy(tail, buf[:])
	}
}
