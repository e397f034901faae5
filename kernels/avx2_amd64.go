//go:build amd64 && !purego

package kernels

import (
	"github.com/klauspost/cpuid/v2"
)

//go:noescape
func gemm6x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)

//go:noescape
func gemm4x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)

//go:noescape
func gemm2x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)

// microKernel runs the kernel for a group with rows valid rows: the
// partial last group skips the FMAs of padding rows (a 16-token request is
// 6+6+4 rows, not 18). Direct calls, not a func value, so that escape
// analysis keeps the caller's scratch tile on the stack.
func microKernel(rows, k int, a, b, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int) {
	switch {
	case rows <= 2:
		gemm2x16AVX2(k, a, b, c, ldc, cin, ldcin, pf, pfStep)
	case rows <= 4:
		gemm4x16AVX2(k, a, b, c, ldc, cin, ldcin, pf, pfStep)
	default:
		gemm6x16AVX2(k, a, b, c, ldc, cin, ldcin, pf, pfStep)
	}
}

var avx2 = newImpl(Impl{
	name:         "avx2",
	priority:     20,
	supported:    func() bool { return cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3) },
	panel:        panelWidth,
	aRows:        microRows,
	aSlice:       avx2Gemm.slice,
	pack:         packPanels16,
	packA:        avx2Gemm.packA,
	gemm:         avx2Gemm.gemm,
	dot:          dotAVX2Slice,
	axpy:         axpyAVX2Slice,
	addLayerNorm: addLayerNormAVX2,
	softmax:      softmaxAVX2,
	gelu:         geluAVX2Slice,
	int8Prefs:    []string{"avx-vnni", "avx2"},
	peak:         peakLoop{run: fmaLoopAVX2, opsPerIter: 12 * 8 * 2},
})

func init() { register(avx2) }

const (
	panelWidth = 16  // columns of W per packed panel: two YMM registers
	microRows  = 6   // rows of x per micro-kernel call: 12 accumulators
	kBlock     = 256 // K slice kept hot in L1: a 16 KiB panel slice
)

var avx2Gemm = (&blockedGemm{
	panel:  panelWidth,
	rows:   microRows,
	kBlock: kBlock,
	// Up to 144 rows (a 128-token request) W panels stream whole, which
	// beats the BLIS order at M=128. Past that, with two or more threads
	// every core would re-read the packed A from L3 for every panel.
	smallMGroups: 24,
	// 24 groups × 6 rows × 256 × 4 B = 144 KiB of packed A stays in L2.
	rowBlockGroups: 24,
	// The first two 6-row calls share the next slice (M=16 is 6+6+4):
	// as good as more sharers, better than one call fetching it all
	// (BenchmarkStreamPrefetch).
	prefetchShare:  2,
	kernel:         microKernel,
	prefetchesPerK: 1, // every kernel, a [CLS] row's and a 4-row group's too
	exactRows:      1<<2 | 1<<4 | 1<<6,
	prefetchC:      prefetchTile,
	packGroup:      packGroup6,
	tiles:          newTilePool(microRows, panelWidth),
}).withSums()

// packPanels16 lays W out in 16-column panels: two YMM loads per k.
func packPanels16(dst, w []float32, out, in, ld int, transposed bool) []float32 {
	return packPanelsWith(dst, w, out, in, ld, transposed, panelWidth, packPanel16)
}

// packPanel16 packs rows (8 or 16) rows of w (ld apart) into a 16-wide
// panel by 8×8 register transposes, up to the last whole 8 of in, and
// returns how far it got: attention packs each head's keys per call.
func packPanel16(dst, w []float32, in, ld, rows int) int {
	return packPanelRows(dst, w, in, ld, rows, panelWidth)
}

// packPanelRows is packPanel16 and packPanel32: a whole panel by its own
// transposer, a narrower one (a short sequence's keys) 8 rows at a time.
func packPanelRows(dst, w []float32, in, ld, rows, width int) int {
	blocks := in / 8
	if blocks == 0 {
		return 0
	}
	_ = w[(rows-1)*ld+blocks*8-1]      // the last value read
	_ = dst[(blocks*8-1)*width+rows-1] // the last value written
	switch {
	case rows == 16 && width == 16:
		pack16x8AVX2(&dst[0], &w[0], blocks, ld)
	case rows == 32 && width == 32:
		pack32x8AVX2(&dst[0], &w[0], blocks, ld)
	default:
		for r := 0; r < rows; r += 8 {
			pack8x8Stride(&dst[r], &w[r*ld], blocks, ld, width)
		}
	}
	return blocks * 8
}

//go:noescape
func pack16x8AVX2(dst, w *float32, blocks, ld int)

//go:noescape
func pack8x8Stride(dst, w *float32, blocks, ld, stride int)

// packGroup6 packs a whole 6-row group.
func packGroup6(dst, x []float32, in, ldx int) { packSixRows(dst, x, in, ldx, microRows) }

// packSixRows packs six rows of x (ldx apart) k-major into dst, stride
// floats per column (dst[stride·k+r] = x[r][k]): eight columns at a time
// transposed in registers (pack6x8AVX2), the rest by an unrolled copy.
func packSixRows(dst, x []float32, in, ldx, stride int) {
	blocks := in / 8
	if blocks > 0 {
		_ = x[5*ldx+blocks*8-1]        // the last value read
		_ = dst[(blocks*8-1)*stride+5] // the last value written
		pack6x8AVX2(&dst[0], &x[0], blocks, ldx, stride)
	}
	k0 := blocks * 8
	r0 := x[k0:in]
	r1 := x[ldx+k0:][:len(r0)]
	r2 := x[2*ldx+k0:][:len(r0)]
	r3 := x[3*ldx+k0:][:len(r0)]
	r4 := x[4*ldx+k0:][:len(r0)]
	r5 := x[5*ldx+k0:][:len(r0)]
	for k := range r0 {
		o := (k0 + k) * stride
		d := dst[o : o+6 : o+6]
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[k], r1[k], r2[k], r3[k], r4[k], r5[k]
	}
}

//go:noescape
func pack6x8AVX2(dst, x *float32, blocks, ldx, stride int)

//go:noescape
func fmaLoopAVX2(n int)

// prefetchTile prefetches rows rows of width bytes, ldc floats apart.
//
//go:noescape
func prefetchTile(c *float32, ldc, rows, width int)
