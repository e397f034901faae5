package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/distilbert-go/distilbert/internal/freelist"
)

// Int8 linear layers: dynamic quantization as ONNX Runtime's
// MatMulInteger path does it on CPUs without VNNI. Weights are quantized
// once, per output channel and symmetric, to 7 bits (−63…63); each input
// row is quantized when the layer runs, asymmetric to 8 bits (0…255 with
// a zero point). The micro-kernels multiply u8·s8 pairs, sum them exactly
// in int32 and dequantize while storing:
//
//	y[r][c] = float32(Σ_k qx[r][k]·qw[c][k] − zx[r]·Σ_k qw[c][k]) · (sx[r]·sw[c])
//
// Seven-bit weights keep AVX2's VPMADDUBSW exact: it sums two u8·s8
// products into an int16 with saturation, and 2·255·63 = 32130 fits where
// 2·255·127 would not. Integer sums make every implementation agree
// bit for bit.

// qPanel and qRows are the micro-kernel's block: 16 columns (two YMM
// registers of int32 sums) by 6 rows, over K in steps of 4.
const (
	qPanel = 16
	qRows  = 6
	// Largest weight magnitude after quantization (7 bits, see above).
	qWeightMax = 63
	// qMaxIn bounds K so that int32 sums cannot overflow: K·255·63 < 2³¹.
	qMaxIn = (1<<31 - 1) / (255 * qWeightMax) &^ 3
)

// QMatrix is a weight matrix W[out][in] quantized to int8 for LinearInt8.
// Unlike Matrix its layout is the same for every implementation.
type QMatrix struct {
	Out, In int
	steps   int       // ⌈In/4⌉: K steps of 4 (K padded with zero weights)
	data    []int8    // panels of 16 columns: [steps][16 columns][4 k]
	scale   []float32 // per column (padded to whole panels): w ≈ scale·q
	colSum  []int32   // per column: Σ_k q, for the inputs' zero points
}

// QuantizeMatrix quantizes a row-major [out][in] weight matrix per output
// channel (symmetric, 7 bits).
func QuantizeMatrix(w []float32, out, in int) (*QMatrix, error) {
	if out <= 0 || in <= 0 || len(w) != out*in {
		return nil, fmt.Errorf("kernels: quantize: %d values for a %dx%d matrix", len(w), out, in)
	}
	if in > qMaxIn {
		return nil, fmt.Errorf("kernels: quantize: %d inputs per output, int8 sums hold at most %d", in, qMaxIn)
	}
	steps := (in + 3) / 4
	panels := (out + qPanel - 1) / qPanel
	q := &QMatrix{
		Out: out, In: in, steps: steps,
		data:   hugeSlice[int8](panels * steps * qPanel * 4),
		scale:  make([]float32, panels*qPanel),
		colSum: make([]int32, panels*qPanel),
	}
	for o := 0; o < out; o++ {
		row := w[o*in : o*in+in]
		var amax float32
		for _, v := range row {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		if !(amax > 0) || math.IsInf(float64(amax), 0) {
			// All zero: any scale; NaN/Inf: the loader rejects those.
			amax = qWeightMax
		}
		scale := amax / qWeightMax
		panel := q.data[o/qPanel*steps*qPanel*4:]
		j := o % qPanel
		var sum int32
		for k, v := range row {
			qv := int32(math.Round(float64(v / scale)))
			qv = max(-qWeightMax, min(qWeightMax, qv))
			panel[k/4*qPanel*4+j*4+k%4] = int8(qv)
			sum += qv
		}
		q.scale[o] = scale
		q.colSum[o] = sum
	}
	return q, nil
}

// qInput is a Linear input quantized per row and packed for the
// micro-kernels: groups of 6 rows, [steps][6 rows][4 k] bytes each.
type qInput struct {
	a     []uint8
	zero  []int32   // per row (padded to whole groups)
	scale []float32 // per row
}

// quantizeInput fills qa from x ([m][in]) for a matrix of the given steps.
// Large inputs are quantized by the worker pool, a range of row groups
// each (as packInput packs): done by the caller alone, a batch's input
// leaves the other cores idle.
func quantizeInput(kind qKernel, qa *qInput, x []float32, m, in, steps int, parallel bool) {
	groups, chunks := inputChunks(m, in, qRows, parallel)
	qa.a = grow(qa.a, groups*steps*qRows*4)
	qa.zero = grow(qa.zero, groups*qRows)
	qa.scale = grow(qa.scale, groups*qRows)
	if chunks >= 2 {
		t := quantTaskPool.Get()
		*t = quantTask{kind: kind, qa: qa, x: x, m: m, in: in, steps: steps, groups: groups, chunks: chunks}
		parallelFor(chunks, t)
		*t = quantTask{}
		quantTaskPool.Put(t)
	} else {
		for r := 0; r < m; r++ {
			quantizeRow(kind, qa, x[r*in:r*in+in], r, steps)
		}
	}
	// Padding rows of the last group: never stored, but keep them defined.
	for r := m; r < groups*qRows; r++ {
		qa.zero[r], qa.scale[r] = 0, 0
		g := qa.a[r/qRows*steps*qRows*4:]
		for s := 0; s < steps; s++ {
			binary.LittleEndian.PutUint32(g[s*qRows*4+r%qRows*4:], 0)
		}
	}
}

// quantTask quantizes the row groups of one chunk of an input.
type quantTask struct {
	kind                         qKernel
	qa                           *qInput
	x                            []float32
	m, in, steps, groups, chunks int
}

var quantTaskPool freelist.List[quantTask]

func (t *quantTask) run(c int) {
	g0, g1 := chunkGroups(c, t.groups, t.chunks)
	for r := g0 * qRows; r < min(g1*qRows, t.m); r++ {
		quantizeRow(t.kind, t.qa, t.x[r*t.in:r*t.in+t.in], r, t.steps)
	}
}

// quantizeRow quantizes row r (asymmetric, 8 bits, the range widened to
// hold 0 so that zero maps exactly) into its packed place. A row with a
// NaN or infinity quantizes to zeros rather than to garbage.
func quantizeRow(kind qKernel, qa *qInput, x []float32, r, steps int) {
	lo, hi, finite := qRange(kind, x)
	scale, inv, zero := float32(1), float32(0), float32(0)
	if span := hi - lo; finite && span > 0 && span <= math.MaxFloat32 {
		scale = span / 255
		inv = 255 / span
		zero = float32(math.Round(float64(-lo * inv)))
	}
	qa.scale[r], qa.zero[r] = scale, int32(zero)
	g := qa.a[r/qRows*steps*qRows*4+r%qRows*4:]
	k := qQuantize(kind, x, g, inv, zero)
	quant := func(v float32) uint32 {
		// float32(): no fused multiply-add, so that every path rounds alike.
		f := float32(v*inv) + zero + 0.5
		if !(f > 0) { // also NaN
			return 0
		}
		return uint32(min(f, 255))
	}
	for s := k / 4; s < steps; s++ {
		var word uint32
		if k+4 <= len(x) {
			word = quant(x[k]) | quant(x[k+1])<<8 | quant(x[k+2])<<16 | quant(x[k+3])<<24
		} else {
			for t := 0; k+t < len(x); t++ {
				word |= quant(x[k+t]) << (8 * t)
			}
		}
		binary.LittleEndian.PutUint32(g[s*qRows*4:], word)
		k += 4
	}
}

// qRangeGo is qRange's portable loop.
func qRangeGo(x []float32) (lo, hi float32, finite bool) {
	finite = true
	for _, v := range x {
		lo = min(lo, v)
		hi = max(hi, v)
		if v-v != 0 { // ±Inf or NaN
			finite = false
		}
	}
	return lo, hi, finite
}

// grow returns s resized to n, reallocated only when too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Dims returns out and in.
func (w *QMatrix) Dims() (out, in int) { return w.Out, w.In }

// check: a QMatrix's layout is the same for every implementation.
func (w *QMatrix) check(*Impl) {}

// chunkCols: whole sets of a wide kernel's panels, so that every chunk
// can use it.
func (w *QMatrix) chunkCols(im *Impl) int { return qWidePanels(im.qkernel) * qPanel }

func (w *QMatrix) prepare(im *Impl, in *linearInput, x []float32, m int, parallel bool) {
	quantizeInput(im.qkernel, &in.q, x, m, w.In, w.steps, parallel)
}

func (w *QMatrix) multiply(im *Impl, dst []float32, in *linearInput, m, c0, c1 int, ep *epilogue) {
	qgemm(im.qkernel, dst, w.Out, &in.q, m, w, c0, c1, ep)
}

// qRowBlockBytes bounds the packed input a row block keeps in L2 while
// every panel of the chunk passes over it.
const qRowBlockBytes = 192 << 10

// qgemm computes dst[:, c0:c1] (c0 on a panel boundary): per block of row
// groups whose packed input stays in L2, each W panel (12 KiB at K=768,
// in L1) meets every group of the block, over all of K at once.
//
// The kernels add ep's bias as they store each tile; ep then applies only
// the activation, on blocks of about epilogueCols finished columns.
func qgemm(kind qKernel, dst []float32, ldd int, qa *qInput, m int, w *QMatrix, c0, c1 int, ep *epilogue) {
	var bias []float32
	var rest epilogue
	if ep != nil {
		bias = ep.bias
		rest = epilogue{im: ep.im, act: ep.act}
		ep = rest.active()
	}
	steps := w.steps
	panelBytes, groupBytes := steps*qPanel*4, steps*qRows*4
	groups := (m + qRows - 1) / qRows
	rowBlock := max(1, qRowBlockBytes/groupBytes)
	wide := qWidePanels(kind) * qPanel
	var tile [qRows * qPanel]float32
	// The kernels read all their columns' biases: without a bias they read
	// zeros, and a short last panel's are padded.
	var noBias [qMaxWide * qPanel]float32
	var padded [qPanel]float32
	for g0 := 0; g0 < groups; g0 += rowBlock {
		g1 := min(g0+rowBlock, groups)
		done := c0
		for col := c0; col < c1; {
			panel := col / qPanel * panelBytes
			bp := &w.data[panel]
			if wide > qPanel && col+wide <= c1 {
				// Wide panels: all full, since c1 ≤ Out.
				pf := bp // the next set, or this one again at the end
				if next := panel + wide/qPanel*panelBytes; next+wide/qPanel*panelBytes <= len(w.data) {
					pf = &w.data[next]
				}
				bs := &noBias[0]
				if bias != nil {
					bs = &bias[col]
				}
				for g := g0; g < g1; g++ {
					row := g * qRows
					rows := min(qRows, m-row)
					_ = dst[(row+rows-1)*ldd+col+wide-1] // the kernel's last write
					qMicroWide(kind, steps, &qa.a[g*groupBytes], bp, panelBytes, &dst[row*ldd+col], ldd, rows, &qa.zero[row], &qa.scale[row], &w.colSum[col], &w.scale[col], bs, pf)
				}
				col += wide
			} else {
				col1 := min(col+qPanel, c1)
				// The next panel, or this one again at the end of the matrix.
				pf := bp
				if next := panel + panelBytes; next < len(w.data) {
					pf = &w.data[next]
				}
				bs := &noBias[0]
				if bias != nil {
					if col1-col == qPanel {
						bs = &bias[col]
					} else {
						copy(padded[:], bias[col:col1])
						bs = &padded[0]
					}
				}
				for g := g0; g < g1; g++ {
					row := g * qRows
					rows := min(qRows, m-row)
					ap := &qa.a[g*groupBytes]
					if col1-col == qPanel {
						_ = dst[(row+rows-1)*ldd+col+qPanel-1] // the kernel's last write
						qMicro(kind, steps, ap, bp, &dst[row*ldd+col], ldd, rows, &qa.zero[row], &qa.scale[row], &w.colSum[col], &w.scale[col], bs, pf)
						continue
					}
					qMicro(kind, steps, ap, bp, &tile[0], qPanel, rows, &qa.zero[row], &qa.scale[row], &w.colSum[col], &w.scale[col], bs, pf)
					for r := 0; r < rows; r++ {
						copy(dst[(row+r)*ldd+col:(row+r)*ldd+col1], tile[r*qPanel:])
					}
				}
				col = col1
			}
			if col-done >= epilogueCols || col == c1 {
				ep.apply(dst, ldd, g0*qRows, min(g1*qRows, m), done, col)
				done = col
			}
		}
	}
}

// qMaxWide is the most panels a wide micro-kernel covers at once.
const qMaxWide = 4

// qMicroWideGo is qMicroWide as four calls of kind's panel kernel: the
// contract every wide kernel matches bit for bit.
func qMicroWideGo(kind qKernel, steps int, a *uint8, b *int8, panelBytes int, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8) {
	bs := unsafe.Slice(b, qMaxWide*panelBytes)
	cs := unsafe.Slice(c, (rows-1)*ldc+qMaxWide*qPanel)
	sums := unsafe.Slice(colSum, qMaxWide*qPanel)
	scales, biases := unsafe.Slice(colScale, qMaxWide*qPanel), unsafe.Slice(bias, qMaxWide*qPanel)
	for p := 0; p < qMaxWide; p++ {
		j := p * qPanel
		qMicro(kind, steps, a, &bs[p*panelBytes], &cs[j], ldc, rows, zero, scale, &sums[j], &scales[j], &biases[j], pf)
	}
}

// qKernel names a micro-kernel for qMicro: a direct call per kind rather
// than a func value keeps the caller's stack tile from escaping.
type qKernel uint8

const (
	qKernelGo qKernel = iota
	qKernelAVX2
	qKernelVNNI    // amd64 with AVX-512 VNNI (VPDPBUSD)
	qKernelAVXVNNI // amd64 with AVX-VNNI (VPDPBUSD on YMM, VEX-encoded)
	qKernelNEONDot // arm64 with the dot-product extension (SDOT)
)

// qMicroGo is the portable micro-kernel and the reference for the others:
// rows (≤ 6) rows × 16 columns of dequantized products into c (rows ldc
// floats apart), from a packed 6-row group a and a 16-column panel b.
func qMicroGo(steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32) {
	var sums [qRows][qPanel]int32
	qSumsGo(steps, a, b, &sums)
	qDequant(&sums, c, ldc, rows, zero, scale, colSum, colScale, bias)
}

// qSumsGo sums the int8 products of a group and a panel.
func qSumsGo(steps int, a *uint8, b *int8, sums *[qRows][qPanel]int32) {
	as := unsafe.Slice(a, steps*qRows*4)
	bs := unsafe.Slice(b, steps*qPanel*4)
	// Two columns per int64 (j and j+8: w·(1, 2³²)) halve the multiplies:
	// a lane's sum stays within ±2³¹ (see qMaxIn), so the low lane is the
	// low 32 bits and the high lane what is left above them.
	const half = qPanel / 2
	var acc [qRows][half]int64
	var w [half][4]int64 // a step's weights, paired, for all rows
	for s := 0; s < steps; s++ {
		ab := (*[qRows * 4]uint8)(as[s*qRows*4:])
		bb := (*[qPanel * 4]int8)(bs[s*qPanel*4:])
		for j := range w {
			for t := range 4 {
				w[j][t] = int64(bb[j*4+t]) + int64(bb[(j+half)*4+t])<<32
			}
		}
		for r := range qRows {
			a0, a1, a2, a3 := int64(ab[r*4]), int64(ab[r*4+1]), int64(ab[r*4+2]), int64(ab[r*4+3])
			accr := &acc[r]
			for j := range w {
				accr[j] += a0*w[j][0] + a1*w[j][1] + a2*w[j][2] + a3*w[j][3]
			}
		}
	}
	for r := range acc {
		for j, v := range acc[r] {
			lo := int32(v)
			sums[r][j], sums[r][j+half] = lo, int32((v-int64(lo))>>32)
		}
	}
}

// qDequant stores rows rows of sums, dequantized and plus the panel's 16
// biases, into c (rows ldc apart).
func qDequant(sums *[qRows][qPanel]int32, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32) {
	zs, ss := unsafe.Slice(zero, rows), unsafe.Slice(scale, rows)
	cs, cscale, bs := unsafe.Slice(colSum, qPanel), unsafe.Slice(colScale, qPanel), unsafe.Slice(bias, qPanel)
	out := unsafe.Slice(c, (rows-1)*ldc+qPanel)
	for r := 0; r < rows; r++ {
		for j := 0; j < qPanel; j++ {
			// float32(): rounded before the add, never fused into an FMA,
			// as the SIMD kernels do it.
			out[r*ldc+j] = float32(float32(sums[r][j]-zs[r]*cs[j])*(ss[r]*cscale[j])) + bs[j]
		}
	}
}
