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

// packPanelsNEON lays W[out][in] out as ⌈out/12⌉ panels of [in][12], so the
// micro-kernel reads the 12 output columns of one k with one three-register
// load. The last panel is zero-padded. W[o][i] is w[o*ld+i], or w[i*ld+o]
// when transposed (then each panel row is a contiguous copy).
func packPanelsNEON(dst, w []float32, out, in, ld int, transposed bool) []float32 {
	panels := (out + neonPanel - 1) / neonPanel
	n := panels * in * neonPanel
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	p := dst[:n]
	if transposed {
		for panel := 0; panel < panels; panel++ {
			col := panel * neonPanel
			cols := min(neonPanel, out-col)
			for k := 0; k < in; k++ {
				d := p[(panel*in+k)*neonPanel : (panel*in+k+1)*neonPanel]
				copy(d, w[k*ld+col:k*ld+col+cols])
				clear(d[cols:])
			}
		}
		return p
	}
	if out%neonPanel != 0 {
		clear(p[(panels-1)*in*neonPanel:])
	}
	for j := 0; j < out; j++ {
		panel, col := j/neonPanel, j%neonPanel
		base := panel * in * neonPanel
		row := w[j*ld : j*ld+in]
		for k, v := range row {
			p[base+k*neonPanel+col] = v
		}
	}
	return p
}

// packRowsNEON lays x (rows ldx apart) out for gemmNEON in groups of 8
// rows, group-major and k-major within a group ([group][in][8]), rows past
// m zero, so that a range of groups can be packed on its own.
func packRowsNEON(buf, x []float32, m, in, ldx int) []float32 {
	groups := (m + neonRows - 1) / neonRows
	need := groups * neonRows * in
	if cap(buf) < need {
		buf = make([]float32, need)
	}
	buf = buf[:need]
	for g := 0; g < groups; g++ {
		dst := buf[g*neonRows*in : (g+1)*neonRows*in]
		for r := 0; r < neonRows; r++ {
			row := g*neonRows + r
			if row >= m {
				for k := 0; k < in; k++ {
					dst[k*neonRows+r] = 0
				}
				continue
			}
			for k, v := range x[row*ldx : row*ldx+in] {
				dst[k*neonRows+r] = v
			}
		}
	}
	return buf
}

// gemmNEON computes dst[:, c0:c1] (rows ldd apart) BLIS-style: per K slice,
// each packed W panel slice (L1-resident) is swept over every row group of
// the packed A. Blocks that overhang M or N go through a scratch tile that
// is loaded from dst first when accumulating, so every element gets exactly
// the same operations (C + Σ in one FMA chain) whichever path computes it,
// and no write leaves [c0, c1): attention fills adjacent heads' columns
// concurrently.
func gemmNEON(dst []float32, ldd int, a []float32, _, m int, w *Matrix, c0, c1 int) {
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
