//go:build amd64 && !purego

package kernels

import (
	"sync"

	"github.com/klauspost/cpuid/v2"
)

//go:noescape
func gemm6x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, accumulate bool)

var avx2 = &Impl{
	Name:         "avx2",
	Priority:     20,
	Supported:    func() bool { return cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3) },
	pack:         packPanels16,
	linear:       linearAVX2,
	Dot:          dotGeneric,
	Axpy:         axpyGeneric,
	AddLayerNorm: addLayerNormGeneric,
	Softmax:      softmaxGeneric,
	GELU:         geluGeneric,
}

func init() { register(avx2) }

const (
	panelWidth = 16  // columns of W per packed panel: two YMM registers
	microRows  = 6   // rows of x per micro-kernel call: 12 accumulators
	kBlock     = 512 // K slice kept hot in L1: a 16 KiB panel slice
)

// packPanels16 lays W[out][in] out as ⌈out/16⌉ panels of [in][16], so the
// micro-kernel reads 16 output columns of one k with two aligned-size
// loads. The last panel is zero-padded.
func packPanels16(w []float32, out, in int) []float32 {
	panels := (out + panelWidth - 1) / panelWidth
	p := make([]float32, panels*in*panelWidth)
	for j := 0; j < out; j++ {
		panel, col := j/panelWidth, j%panelWidth
		base := panel * in * panelWidth
		row := w[j*in : j*in+in]
		for k, v := range row {
			p[base+k*panelWidth+col] = v
		}
	}
	return p
}

// linearAVX2 computes dst = act(x·Wᵀ + bias) BLIS-style: K in slices of
// kBlock; per slice the rows of x are packed k-major in 6-row groups (one
// contiguous stream for the micro-kernel, zero-padded past M), then every
// packed W panel slice (16 KiB, L1-resident) is swept over all row groups.
// Blocks that overhang M or N go through a scratch tile.
func linearAVX2(dst, x []float32, m int, w *Matrix, bias []float32, act Activation) {
	in, out := w.In, w.Out
	panels := (out + panelWidth - 1) / panelWidth
	groups := (m + microRows - 1) / microRows
	bufp := packBufPool.Get().(*[]float32)
	need := groups * microRows * min(kBlock, in)
	if cap(*bufp) < need {
		*bufp = make([]float32, need)
	}
	packed := (*bufp)[:need]
	var tile [microRows * panelWidth]float32
	for k0 := 0; k0 < in; k0 += kBlock {
		kc := min(kBlock, in-k0)
		packRows(packed, x, m, in, k0, kc)
		acc := k0 > 0
		for p := 0; p < panels; p++ {
			bp := &w.data[(p*in+k0)*panelWidth]
			col := p * panelWidth
			cols := min(panelWidth, out-col)
			for g := 0; g < groups; g++ {
				ap := &packed[g*microRows*kc]
				row := g * microRows
				rows := min(microRows, m-row)
				if rows == microRows && cols == panelWidth {
					gemm6x16AVX2(kc, ap, bp, &dst[row*out+col], out, acc)
				} else {
					gemm6x16AVX2(kc, ap, bp, &tile[0], panelWidth, false)
					mergeTile(dst, tile[:], row, rows, col, cols, out, acc)
				}
			}
		}
	}
	packBufPool.Put(bufp)
	finishLinear(dst[:m*out], out, bias, act)
}

var packBufPool = sync.Pool{New: func() any { return new([]float32) }}

// packRows writes x[:, k0:k0+kc] as groups of 6 rows, k-major within a
// group ([kc][6]); rows past m are zero.
func packRows(packed, x []float32, m, in, k0, kc int) {
	groups := (m + microRows - 1) / microRows
	for g := 0; g < groups; g++ {
		dst := packed[g*microRows*kc : (g+1)*microRows*kc]
		for r := 0; r < microRows; r++ {
			row := g*microRows + r
			if row >= m {
				for k := 0; k < kc; k++ {
					dst[k*microRows+r] = 0
				}
				continue
			}
			src := x[row*in+k0 : row*in+k0+kc]
			for k, v := range src {
				dst[k*microRows+r] = v
			}
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

// finishLinear adds the bias and applies the activation row by row.
func finishLinear(dst []float32, out int, bias []float32, act Activation) {
	if bias != nil {
		for r := 0; r+out <= len(dst); r += out {
			row := dst[r : r+out]
			for j, b := range bias[:len(row)] {
				row[j] += b
			}
		}
	}
	applyActivation(dst, act)
}
