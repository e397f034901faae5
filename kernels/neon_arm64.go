//go:build arm64 && !purego

package kernels

import (
	"github.com/klauspost/cpuid/v2"
)

//go:noescape
func gemm8x12NEON(k int, a *float32, b *float32, c *float32, ldc int, accumulate bool)

var neon = &Impl{
	Name:         "neon",
	Priority:     20,
	Supported:    func() bool { return cpuid.CPU.Supports(cpuid.ASIMD) },
	panel:        neonPanel,
	aRows:        neonRows,
	pack:         packPanelsNEON,
	packA:        packRowsNEON,
	gemm:         gemmNEON,
	Dot:          dotNEON,
	Axpy:         axpyNEON,
	AddLayerNorm: addLayerNormGeneric,
	Softmax:      softmaxGeneric,
	GELU:         geluGeneric,
}

func init() { register(neon) }

const (
	neonPanel  = 12  // columns of W per packed panel: three Q registers
	neonRows   = 8   // rows of x per micro-kernel call: 24 accumulators
	neonKBlock = 256 // K slice kept hot in L1: a 12 KiB panel slice + 8 KiB of A per row group
)

// packPanelsNEON lays W out in 12-column panels: one three-register load per k.
func packPanelsNEON(dst, w []float32, out, in, ld int, transposed bool) []float32 {
	return packPanels(dst, w, out, in, ld, transposed, neonPanel)
}

// packRowsNEON packs x in 8-row groups for gemmNEON (see packRowGroups).
func packRowsNEON(buf, x []float32, m, in, ldx int) []float32 {
	return packRowGroups(buf, x, m, in, ldx, neonRows)
}

// gemmNEON computes dst[:, c0:c1] (rows ldd apart) BLIS-style: per K slice,
// each packed W panel slice (L1-resident) is swept over every row group of
// the packed A. Blocks that overhang M or N go through a scratch tile that
// is loaded from dst first when accumulating, so every element gets exactly
// the same operations (C + Σ in one FMA chain) whichever path computes it,
// and no write leaves [c0, c1): attention fills adjacent heads' columns
// concurrently.
func gemmNEON(dst []float32, ldd int, a []float32, _, m int, w *Matrix, c0, c1 int, ep *epilogue) {
	in, out := w.In, ldd
	groups := (m + neonRows - 1) / neonRows
	var tile [neonRows * neonPanel]float32
	for k0 := 0; k0 < in; k0 += neonKBlock {
		kc := min(neonKBlock, in-k0)
		acc := k0 > 0
		for col := c0; col < c1; col += neonPanel {
			panel := w.data[(col/neonPanel*in+k0)*neonPanel : (col/neonPanel*in+k0+kc)*neonPanel]
			cols := min(neonPanel, c1-col)
			for g := 0; g < groups; g++ {
				ap := a[g*neonRows*in+k0*neonRows : g*neonRows*in+(k0+kc)*neonRows]
				row := g * neonRows
				rows := min(neonRows, m-row)
				if rows == neonRows && cols == neonPanel {
					_ = dst[(row+neonRows-1)*out+col+neonPanel-1] // the kernel's last write
					gemm8x12NEON(kc, &ap[0], &panel[0], &dst[row*out+col], out, acc)
					continue
				}
				if acc {
					loadTileNEON(&tile, dst, row, rows, col, cols, out)
				}
				gemm8x12NEON(kc, &ap[0], &panel[0], &tile[0], neonPanel, acc)
				for r := 0; r < rows; r++ {
					copy(dst[(row+r)*out+col:(row+r)*out+col+cols], tile[r*neonPanel:r*neonPanel+cols])
				}
			}
		}
	}
	ep.apply(dst, ldd, 0, m, c0, c1)
}

// loadTileNEON copies rows×cols of dst at (row, col) into the 8×12 tile;
// the cells outside stay whatever they were (their results are discarded).
func loadTileNEON(tile *[neonRows * neonPanel]float32, dst []float32, row, rows, col, cols, ldc int) {
	for r := 0; r < rows; r++ {
		copy(tile[r*neonPanel:r*neonPanel+cols], dst[(row+r)*ldc+col:(row+r)*ldc+col+cols])
	}
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

func init() {
	if neon.Supported() {
		peakLoops[neon.Name] = peakLoop{run: fmaLoopNEON, flopsPerIter: 24 * 4 * 2}
	}
}
