//go:build amd64 && !purego

package kernels

import "github.com/klauspost/cpuid/v2"

//go:noescape
func gemm12x32AVX512(k, rows int, a, b, c *float32, ldc int, accumulate bool, pf *float32)

//go:noescape
func gemm8x32AVX512(k, rows int, a, b, c *float32, ldc int, accumulate bool, pf *float32)

//go:noescape
func gemm4x32AVX512(k, rows int, a, b, c *float32, ldc int, accumulate bool, pf *float32)

// avx512 multiplies with 512-bit FMAs; the element-wise kernels (layer
// norm, softmax, GELU, dot, axpy) are the AVX2 ones, which every AVX-512
// CPU runs: they are a few per cent of a forward pass and memory-bound.
var avx512 = &Impl{
	Name:     "avx512",
	Priority: 30,
	// AVX512F covers every instruction of the kernels; cpuid reports it
	// only when the OS saves the ZMM and mask registers.
	Supported:    func() bool { return cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX2, cpuid.FMA3) },
	panel:        avx512Panel,
	aRows:        avx512Rows,
	aSlice:       avx512KBlock,
	pack:         packPanels32,
	packA:        avx512Gemm.packA,
	gemm:         avx512Gemm.gemm,
	qkernel:      qKernelAVX2, // qKernelVNNI where the CPU has it (qgemm_amd64.go)
	Dot:          dotAVX2Slice,
	Axpy:         axpyAVX2Slice,
	AddLayerNorm: addLayerNormAVX2,
	Softmax:      softmaxAVX2,
	GELU:         geluAVX2Slice,
}

func init() { register(avx512) }

const (
	avx512Panel = 32 // columns of W per packed panel: two ZMM registers
	avx512Rows  = 12 // rows of x per micro-kernel call: 24 accumulators
	// 128 × 32 × 4 B = a 16 KiB panel slice, half of the smallest L1D
	// among AVX-512 cores (Zen 4's 32 KiB), next to 6 KiB of A per group.
	avx512KBlock = 128
)

var avx512Gemm = &blockedGemm{
	panel:  avx512Panel,
	rows:   avx512Rows,
	kBlock: avx512KBlock,
	// Up to 144 rows stream W panels whole, as on AVX2.
	smallMGroups: 12,
	// 12 groups × 12 rows × 128 × 4 B = 72 KiB of packed A stays in L2.
	rowBlockGroups: 12,
	kernel:         microKernelAVX512,
	exactRows:      1<<(avx512Rows+1) - 2, // every count 1…12
	prefetchC:      prefetchTile,
	packGroup:      packGroup12,
	tiles:          newTilePool(avx512Rows, avx512Panel),
}

// microKernelAVX512 picks the smallest kernel that covers rows.
func microKernelAVX512(rows, k int, a, b, c *float32, ldc int, accumulate bool, pf *float32) {
	switch {
	case rows <= 4:
		gemm4x32AVX512(k, rows, a, b, c, ldc, accumulate, pf)
	case rows <= 8:
		gemm8x32AVX512(k, rows, a, b, c, ldc, accumulate, pf)
	default:
		gemm12x32AVX512(k, rows, a, b, c, ldc, accumulate, pf)
	}
}

// packPanels32 lays W out in 32-column panels: two ZMM loads per k.
func packPanels32(dst, w []float32, out, in, ld int, transposed bool) []float32 {
	return packPanels(dst, w, out, in, ld, transposed, avx512Panel)
}

// packGroup12 packs a whole 12-row group: eight columns at a time
// transposed in registers, six rows per pass (pack6x8AVX2, as avx2 packs
// its 6-row groups: 1.7-2.9x faster than scalar copies on Zen 3), the
// rest by an unrolled copy (the generic row-by-row scatter took ~5 % of
// an M=128, N=768 product).
func packGroup12(dst, x []float32, in, ldx int) {
	const rows = 12
	blocks := in / 8
	if blocks > 0 {
		_ = x[11*ldx+blocks*8-1] // the last value read
		_ = dst[blocks*8*rows-1] // the last value written
		pack6x8AVX2(&dst[0], &x[0], blocks, ldx, rows)
		pack6x8AVX2(&dst[6], &x[6*ldx], blocks, ldx, rows)
	}
	k0 := blocks * 8
	r0 := x[k0:in]
	r1 := x[ldx+k0:][:len(r0)]
	r2 := x[2*ldx+k0:][:len(r0)]
	r3 := x[3*ldx+k0:][:len(r0)]
	r4 := x[4*ldx+k0:][:len(r0)]
	r5 := x[5*ldx+k0:][:len(r0)]
	r6 := x[6*ldx+k0:][:len(r0)]
	r7 := x[7*ldx+k0:][:len(r0)]
	r8 := x[8*ldx+k0:][:len(r0)]
	r9 := x[9*ldx+k0:][:len(r0)]
	r10 := x[10*ldx+k0:][:len(r0)]
	r11 := x[11*ldx+k0:][:len(r0)]
	dst = dst[k0*rows:]
	for k := range r0 {
		d := dst[k*rows : k*rows+rows : k*rows+rows]
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[k], r1[k], r2[k], r3[k], r4[k], r5[k]
		d[6], d[7], d[8], d[9], d[10], d[11] = r6[k], r7[k], r8[k], r9[k], r10[k], r11[k]
	}
}

//go:noescape
func fmaLoopAVX512(n int)

func init() {
	if avx512.Supported() {
		peakLoops[avx512.Name] = peakLoop{run: fmaLoopAVX512, flopsPerIter: 24 * 16 * 2}
	}
}
