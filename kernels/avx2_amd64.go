//go:build amd64 && !purego

package kernels

import (
	"github.com/klauspost/cpuid/v2"
)

//go:noescape
func gemm6x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, accumulate bool, pf *float32)

//go:noescape
func gemm4x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, accumulate bool)

//go:noescape
func gemm2x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, accumulate bool)

// microKernel runs the kernel for a group with rows valid rows: the
// partial last group skips the FMAs of padding rows (a 16-token request is
// 6+6+4 rows, not 18). Direct calls, not a func value, so that escape
// analysis keeps the caller's scratch tile on the stack.
func microKernel(rows, k int, a, b, c *float32, ldc int, accumulate bool, pf *float32) {
	switch {
	case rows <= 2:
		gemm2x16AVX2(k, a, b, c, ldc, accumulate)
	case rows <= 4:
		gemm4x16AVX2(k, a, b, c, ldc, accumulate)
	default:
		gemm6x16AVX2(k, a, b, c, ldc, accumulate, pf)
	}
}

var avx2 = &Impl{
	Name:         "avx2",
	Priority:     20,
	Supported:    func() bool { return cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3) },
	panel:        panelWidth,
	aRows:        microRows,
	pack:         packPanels16,
	packA:        packRowsAVX2,
	gemm:         gemmAVX2,
	Dot:          dotAVX2Slice,
	Axpy:         axpyAVX2Slice,
	AddLayerNorm: addLayerNormAVX2,
	Softmax:      softmaxAVX2,
	GELU:         geluAVX2Slice,
}

func init() { register(avx2) }

const (
	panelWidth = 16  // columns of W per packed panel: two YMM registers
	microRows  = 6   // rows of x per micro-kernel call: 12 accumulators
	kBlock     = 256 // K slice kept hot in L1: a 16 KiB panel slice
	// smallMGroups: up to this many 6-row groups (144 rows: a 128-token
	// request), W panels stream whole with prefetch; measured best-of-8 on
	// M=128 shapes it beats the BLIS order by 4-14 %.
	smallMGroups = 24
	// rowBlockGroups bounds the rows whose packed A slice stays in L2:
	// 24 groups × 6 rows × 256 × 4 B = 144 KiB.
	rowBlockGroups = 24
)

// packPanels16 lays W out in 16-column panels: two YMM loads per k.
func packPanels16(dst, w []float32, out, in, ld int, transposed bool) []float32 {
	return packPanels(dst, w, out, in, ld, transposed, panelWidth)
}

// packRowsAVX2 is packRowGroups for 6-row groups, with full groups copied
// by an unrolled loop: six row streams in, one sequential stream out.
func packRowsAVX2(buf, x []float32, m, in, ldx int) []float32 {
	buf = rowGroupsBuffer(buf, m, in, microRows)
	full := m / microRows
	for g := 0; g < full; g++ {
		dst := buf[g*microRows*in : (g+1)*microRows*in]
		row := g * microRows
		r0 := x[row*ldx : row*ldx+in]
		r1 := x[(row+1)*ldx : (row+1)*ldx+in][:len(r0)]
		r2 := x[(row+2)*ldx : (row+2)*ldx+in][:len(r0)]
		r3 := x[(row+3)*ldx : (row+3)*ldx+in][:len(r0)]
		r4 := x[(row+4)*ldx : (row+4)*ldx+in][:len(r0)]
		r5 := x[(row+5)*ldx : (row+5)*ldx+in][:len(r0)]
		for k := range r0 {
			d := dst[k*microRows : k*microRows+microRows : k*microRows+microRows]
			d[0], d[1], d[2], d[3], d[4], d[5] = r0[k], r1[k], r2[k], r3[k], r4[k], r5[k]
		}
	}
	if rest := m - full*microRows; rest > 0 {
		packRowGroup(buf[full*microRows*in:], x[full*microRows*ldx:], rest, in, ldx, microRows)
	}
	return buf
}

// gemmAVX2 computes dst[:, c0:c1] with one of two loop orders:
//
//   - few rows (≤ smallM groups, e.g. batch-1 requests): each W panel is
//     streamed once, front to back through every K slice, which the
//     hardware prefetcher follows; the packed A stays in L1/L2.
//   - many rows: BLIS order. Per K slice, blocks of rowBlockGroups groups
//     (their packed A slice, ~150 KiB, stays in L2) meet every panel slice
//     (16 KiB, stays in L1 while each 6-row group of the block uses it).
//
// Tiles that overhang M or N go through a scratch tile.
func gemmAVX2(dst []float32, ldd int, a []float32, _, m int, w *Matrix, c0, c1 int) {
	in := w.In
	groups := (m + microRows - 1) / microRows
	if groups <= smallMGroups {
		for col := c0; col < c1; col += panelWidth {
			for k0 := 0; k0 < in; k0 += kBlock {
				// The next slice in memory order is the next one used.
				gemmBlock(dst, ldd, a, m, w, col, min(col+panelWidth, c1), k0, 0, groups, prefetchAt(w, col, k0+kBlock))
			}
		}
		return
	}
	for k0 := 0; k0 < in; k0 += kBlock {
		for g0 := 0; g0 < groups; g0 += rowBlockGroups {
			g1 := min(g0+rowBlockGroups, groups)
			for col := c0; col < c1; col += panelWidth {
				gemmBlock(dst, ldd, a, m, w, col, min(col+panelWidth, c1), k0, g0, g1, nil)
			}
		}
	}
}

// prefetchAt returns the start of the packed W slice (panel of column col,
// K from k0), clamped into the matrix: prefetching past it is harmless but
// the pointer must stay inside the allocation.
func prefetchAt(w *Matrix, col, k0 int) *float32 {
	off := col/panelWidth*w.In*panelWidth + k0*panelWidth
	// The kernel prefetches up to kBlock lines (16 floats each) ahead of it.
	if off+kBlock*panelWidth > len(w.data) {
		off = max(0, len(w.data)-kBlock*panelWidth)
	}
	return &w.data[off]
}

// gemmBlock runs the micro-kernel for one panel (columns col…col1-1), one
// K slice starting at k0, and row groups g0…g1-1.
func gemmBlock(dst []float32, ldd int, a []float32, m int, w *Matrix, col, col1, k0, g0, g1 int, pf *float32) {
	in := w.In
	kc := min(kBlock, in-k0)
	cols := col1 - col
	bp := &w.data[(col/panelWidth*in+k0)*panelWidth]
	acc := k0 > 0
	var tile [microRows * panelWidth]float32
	for g := g0; g < g1; g++ {
		ap := &a[g*microRows*in+k0*microRows]
		row := g * microRows
		rows := min(microRows, m-row)
		switch {
		case rows == microRows && cols == panelWidth:
			gemm6x16AVX2(kc, ap, bp, &dst[row*ldd+col], ldd, acc, pf)
		case cols == panelWidth && (rows == 4 || rows == 2):
			microKernel(rows, kc, ap, bp, &dst[row*ldd+col], ldd, acc, pf)
		default:
			microKernel(rows, kc, ap, bp, &tile[0], panelWidth, false, pf)
			mergeTile(dst, tile[:], row, rows, col, cols, ldd, acc)
		}
	}
}

// mergeTile copies (or adds, when accumulating) rows×cols of a 6×16 tile
// into dst at (row, col).
func mergeTile(dst, tile []float32, row, rows, col, cols, ldc int, acc bool) {
	for r := 0; r < rows; r++ {
		d := dst[(row+r)*ldc+col : (row+r)*ldc+col+cols]
		t := tile[r*panelWidth : r*panelWidth+cols]
		if acc {
			for j := range d {
				d[j] += t[j]
			}
		} else {
			copy(d, t)
		}
	}
}

//go:noescape
func fmaLoopAVX2(n int)

func init() {
	if avx2.Supported() {
		peakLoops[avx2.Name] = peakLoop{run: fmaLoopAVX2, flopsPerIter: 12 * 8 * 2}
	}
}
