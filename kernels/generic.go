package kernels

import "math"

// generic is the portable reference implementation. It is plain Go written
// so the compiler keeps bounds checks out of the inner loops; every SIMD
// implementation is tested against it.
var generic = newImpl(Impl{
	name:         "generic",
	priority:     0,
	supported:    func() bool { return true },
	panel:        4,
	pack:         packGeneric,
	gemm:         gemmGeneric,
	dot:          dotGeneric,
	axpy:         axpyGeneric,
	addLayerNorm: addLayerNormGeneric,
	softmax:      softmaxGeneric,
	gelu:         geluGeneric,
})

func init() { register(generic) }

// Generic returns the reference implementation.
func Generic() *Impl { return generic }

// gemmGeneric: w.data is W[out][in] row-major, so each output is a dot
// product of two contiguous rows. A 4×2 block (four rows of x against two
// rows of W) keeps eight sums in registers (the most amd64's sixteen vector
// registers hold without spilling) and uses every loaded value 2-4 times.
func gemmGeneric(dst []float32, ldd int, x []float32, ldx, m int, w *Matrix, c0, c1 int, ep *epilogue) {
	in, out := w.In, ldd
	i := 0
	for ; i+4 <= m; i += 4 {
		x0 := x[i*ldx : i*ldx+in]
		x1 := x[(i+1)*ldx : (i+1)*ldx+in][:len(x0)]
		x2 := x[(i+2)*ldx : (i+2)*ldx+in][:len(x0)]
		x3 := x[(i+3)*ldx : (i+3)*ldx+in][:len(x0)]
		j := c0
		for ; j+2 <= c1; j += 2 {
			w0 := w.data[j*in : j*in+in][:len(x0)]
			w1 := w.data[(j+1)*in : (j+1)*in+in][:len(x0)]
			var s00, s01, s10, s11, s20, s21, s30, s31 float32
			for k, a0 := range x0 {
				b0, b1 := w0[k], w1[k]
				a1, a2, a3 := x1[k], x2[k], x3[k]
				s00 += a0 * b0
				s01 += a0 * b1
				s10 += a1 * b0
				s11 += a1 * b1
				s20 += a2 * b0
				s21 += a2 * b1
				s30 += a3 * b0
				s31 += a3 * b1
			}
			dst[i*out+j], dst[i*out+j+1] = s00, s01
			dst[(i+1)*out+j], dst[(i+1)*out+j+1] = s10, s11
			dst[(i+2)*out+j], dst[(i+2)*out+j+1] = s20, s21
			dst[(i+3)*out+j], dst[(i+3)*out+j+1] = s30, s31
		}
		for ; j < c1; j++ {
			wr := w.data[j*in : j*in+in][:len(x0)]
			var s0, s1, s2, s3 float32
			for k, wv := range wr {
				s0 += x0[k] * wv
				s1 += x1[k] * wv
				s2 += x2[k] * wv
				s3 += x3[k] * wv
			}
			dst[i*out+j] = s0
			dst[(i+1)*out+j] = s1
			dst[(i+2)*out+j] = s2
			dst[(i+3)*out+j] = s3
		}
	}
	for ; i < m; i++ {
		xr := x[i*ldx : i*ldx+in]
		for j := c0; j < c1; j++ {
			dst[i*out+j] = dotGeneric(xr, w.data[j*in:j*in+in])
		}
	}
	ep.apply(dst, ldd, 0, m, c0, c1)
}

// packGeneric keeps W as [out][in] row-major: untouched (zero copy) when
// it already is, else copied compactly into dst.
func packGeneric(dst, w []float32, out, in, ld int, transposed bool) []float32 {
	if !transposed && ld == in {
		return w[:out*in]
	}
	if cap(dst) < out*in {
		dst = make([]float32, out*in)
	}
	dst = dst[:out*in]
	for o := 0; o < out; o++ {
		row := dst[o*in : o*in+in]
		for i := range row {
			if transposed {
				row[i] = w[i*ld+o]
			} else {
				row[i] = w[o*ld+i]
			}
		}
	}
	return dst
}

func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// addLayerNormGeneric accumulates mean and variance in float64: rows are
// short (≤ a few thousand) and this keeps the reference free of
// cancellation error, the yardstick for the SIMD paths.
func addLayerNormGeneric(x, residual []float32, n int, gamma, beta []float32, eps float32) {
	gamma, beta = gamma[:n], beta[:n]
	for r := 0; r+n <= len(x); r += n {
		row := x[r : r+n]
		if residual != nil {
			res := residual[r : r+n]
			for i := range row {
				row[i] += res[i]
			}
		}
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mean := sum / float64(n)
		var sq float64
		for _, v := range row {
			d := float64(v) - mean
			sq += d * d
		}
		inv := 1 / math.Sqrt(sq/float64(n)+float64(eps))
		for i, v := range row {
			row[i] = float32((float64(v)-mean)*inv)*gamma[i] + beta[i]
		}
	}
}

func softmaxGeneric(x []float32) {
	if len(x) == 0 {
		return
	}
	max := x[0]
	for _, v := range x[1:] {
		if v > max {
			max = v
		}
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - max)))
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// geluGeneric is the exact GELU, x·Φ(x) = x/2·(1+erf(x/√2)), not the tanh
// approximation: DistilBERT checkpoints are trained with the erf form.
func geluGeneric(x []float32) {
	for i, v := range x {
		x[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)*math.Sqrt2/2)))
	}
}
