//go:build amd64 && !purego

package kernels

import "math"

//go:noescape
func expSubSumAVX2(x *float32, n int, sub float32) float32

//go:noescape
func geluAVX2(x *float32, n int)

//go:noescape
func axpyAVX2(alpha float32, x *float32, y *float32, n int)

//go:noescape
func dotAVX2(a *float32, b *float32, n int) float32

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func scaleAVX2(x *float32, n int, s float32)

// The assembly handles multiples of 8; the wrappers finish tails through
// an 8-element buffer padded with values that cannot change the result.

func softmaxAVX2(x []float32) { softmaxWith(x, false) }

// softmaxWith is softmaxAVX2, with the exponentials sixteen at a time
// (expSubSumAVX512) where wide.
func softmaxWith(x []float32, wide bool) {
	if len(x) == 0 {
		return
	}
	n8 := len(x) &^ 7
	mx := x[0]
	if n8 > 0 {
		mx = maxAVX2(&x[0], n8)
	}
	for _, v := range x[n8:] {
		mx = max(mx, v)
	}
	var sum float32
	done := 0
	if wide && n8 >= 16 {
		done = n8 &^ 15
		sum = expSubSumAVX512(&x[0], done, mx)
	}
	if n8 > done {
		sum += expSubSumAVX2(&x[done], n8-done, mx)
	}
	if tail := x[n8:]; len(tail) > 0 {
		// The padding is left out of the sum: no pad value is neutral for
		// every max (a fully masked row has max = -MaxFloat32).
		var buf [8]float32
		copy(buf[:], tail)
		expSubSumAVX2(&buf[0], 8, mx)
		for _, v := range buf[:len(tail)] {
			sum += v
		}
		copy(tail, buf[:])
	}
	inv := 1 / sum
	if n8 > 0 {
		scaleAVX2(&x[0], n8, inv)
	}
	for i := n8; i < len(x); i++ {
		x[i] *= inv
	}
}

func geluAVX2Slice(x []float32) {
	n8 := len(x) &^ 7
	if n8 > 0 {
		geluAVX2(&x[0], n8)
	}
	if tail := x[n8:]; len(tail) > 0 {
		var buf [8]float32
		copy(buf[:], tail)
		geluAVX2(&buf[0], 8)
		copy(tail, buf[:])
	}
}

func axpyAVX2Slice(alpha float32, x, y []float32) {
	y = y[:len(x)]
	n8 := len(x) &^ 7
	if n8 > 0 {
		axpyAVX2(alpha, &x[0], &y[0], n8)
	}
	for i := n8; i < len(x); i++ {
		y[i] += alpha * x[i]
	}
}

func dotAVX2Slice(a, b []float32) float32 {
	b = b[:len(a)]
	n8 := len(a) &^ 7
	var s float32
	if n8 > 0 {
		s = dotAVX2(&a[0], &b[0], n8)
	}
	for i := n8; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

//go:noescape
func addSumAVX2(x *float32, res *float32, n int) float32

//go:noescape
func sqDevSumAVX2(x *float32, n int, mean float32) float32

//go:noescape
func normAVX2(x *float32, gamma *float32, beta *float32, n int, mean float32, inv float32)

// addLayerNormAVX2 is x = LayerNorm(x + residual) per row in float32 with
// a two-pass variance. Rows whose length is not a multiple of 8 take the
// generic path.
func addLayerNormAVX2(x, residual []float32, n int, gamma, beta []float32, eps float32) {
	if n%8 != 0 {
		addLayerNormGeneric(x, residual, n, gamma, beta, eps)
		return
	}
	gamma, beta = gamma[:n], beta[:n]
	for r := 0; r+n <= len(x); r += n {
		var res *float32
		if residual != nil {
			res = &residual[r : r+n][0]
		}
		sum := addSumAVX2(&x[r], res, n)
		mean := sum / float32(n)
		variance := sqDevSumAVX2(&x[r], n, mean) / float32(n)
		inv := float32(1 / math.Sqrt(float64(variance)+float64(eps)))
		normAVX2(&x[r], &gamma[0], &beta[0], n, mean, inv)
	}
}
