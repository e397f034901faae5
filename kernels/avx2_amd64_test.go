//go:build amd64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkMicroKernelL1 runs the 6×16 micro-kernel on L1-resident data:
// the ceiling for every GEMM shape, to compare with BenchmarkPeak.
func BenchmarkMicroKernelL1(b *testing.B) {
	if !avx2.Supported() {
		b.Skip("no AVX2")
	}
	a := make([]float32, microRows*kBlock)
	w := make([]float32, panelWidth*kBlock)
	c := make([]float32, microRows*panelWidth)
	for i := 0; i < b.N; i++ {
		gemm6x16AVX2(kBlock, &a[0], &w[0], &c[0], panelWidth, nil, 0, &w[0], 64)
	}
	b.ReportMetric(float64(b.N)*microRows*panelWidth*kBlock*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// The AVX-512 GELU does what the AVX2 one does, sixteen lanes at a time:
// the two agree bit for bit, tails included.
func TestGELUAVX512MatchesAVX2(t *testing.T) {
	if !avx512.Supported() {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 15, 16, 17, 31, 33, 100, 3072} {
		x := randSlice(r, n)
		for i := range x {
			x[i] *= 12
		}
		// The clamps' edges and what lies beyond them.
		special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), -1e30, 1e30, -5.5437174, -5.55, 5.55, float32(math.Copysign(0, -1))}
		for i := 0; i < n && i < len(special); i++ {
			x[i*(n/len(special)+1)%n] = special[i]
		}
		a, b := slices.Clone(x), slices.Clone(x)
		geluAVX2Slice(a)
		geluAVX512Slice(b)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("n=%d: x=%g: avx2 %g, avx512 %g", n, x[i], a[i], b[i])
			}
		}
	}
}

// The 512-bit softmax loop computes each exponential as the AVX2 one does,
// bit for bit (values far below the maximum included: they underflow to
// zero alike); only the order of the sum differs.
func TestExpSubSumAVX512MatchesAVX2(t *testing.T) {
	if !avx512.Supported() {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{16, 32, 48, 128, 512} {
		x := randSlice(r, n)
		for i := range x {
			x[i] *= 60
		}
		mx := slices.Max(x)
		a, b := slices.Clone(x), slices.Clone(x)
		sa := expSubSumAVX2(&a[0], n, mx)
		sb := expSubSumAVX512(&b[0], n, mx)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("n=%d: x-max=%g: avx2 %g, avx512 %g", n, x[i]-mx, a[i], b[i])
			}
		}
		if d := math.Abs(float64(sa-sb)) / float64(sa); d > 1e-6 {
			t.Fatalf("n=%d: sums %g and %g differ by %g relative", n, sa, sb, d)
		}
	}
}
