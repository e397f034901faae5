package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// relErr is ‖got − want‖ / ‖want‖.
func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

// Integer sums make the int8 kernels exact: every implementation must match
// the portable one bit for bit, on every shape (tails of K, rows, columns).
func TestLinearInt8AllImplementations(t *testing.T) {
	defer SetThreads(Threads())
	SetThreads(1)
	forEachInt8(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, m := range []int{1, 2, 5, 6, 7, 13, 64, 129} {
			for _, in := range []int{1, 3, 4, 5, 17, 64, 100, 257} {
				for _, out := range []int{1, 7, 16, 17, 33, 100, 200} {
					x, w := randSlice(r, m*in), randSlice(r, out*in)
					qw, err := QuantizeMatrix(w, out, in)
					if err != nil {
						t.Fatal(err)
					}
					// Guard cells around dst catch writes past the end.
					got, want := make([]float32, m*out+8), make([]float32, m*out)
					for i := range got {
						got[i] = 12345
					}
					im.Linear(got[:m*out], x, m, qw, nil, ActNone)
					generic.Linear(want, x, m, qw, nil, ActNone)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("m=%d in=%d out=%d: element %d is %g, portable kernel %g", m, in, out, i, got[i], want[i])
						}
					}
					for _, v := range got[m*out:] {
						if v != 12345 {
							t.Fatalf("m=%d in=%d out=%d: wrote past dst", m, in, out)
						}
					}
					got = got[:m*out]
					if in >= 64 && m*out >= 64 { // enough outputs for a stable norm
						// Quantization error itself: ~1 % for normal data.
						if e := relErr(got, linearRef(x, w, nil, m, in, out, ActNone)); e > 0.03 {
							t.Fatalf("m=%d in=%d out=%d: relative error %.4f vs float64", m, in, out, e)
						}
					}
				}
			}
		}
	})
}

// The model's shapes with bias and activations, split over threads: close
// to the float reference and identical whatever the thread count.
func TestLinearInt8EpilogueAndThreads(t *testing.T) {
	defer SetThreads(Threads())
	forEachInt8(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(13, 14))
		shapes := []struct{ m, in, out int }{{37, 129, 300}, {1, 768, 768}, {301, 256, 40}, {24, 768, 3072}, {200, 3072, 96}}
		if testing.Short() { // under CPU emulation: the odd shapes only
			shapes = shapes[:3]
		}
		for _, s := range shapes {
			for _, act := range []Activation{ActNone, ActGELU, ActReLU} {
				x, w, b := randSlice(r, s.m*s.in), randSlice(r, s.out*s.in), randSlice(r, s.out)
				qw, err := QuantizeMatrix(w, s.out, s.in)
				if err != nil {
					t.Fatal(err)
				}
				ref := linearRef(x, w, b, s.m, s.in, s.out, act)
				var first []float32
				for _, n := range []int{1, 2, 3} {
					SetThreads(n)
					got := make([]float32, s.m*s.out)
					im.Linear(got, x, s.m, qw, b, act)
					if e := relErr(got, ref); e > 0.03 {
						t.Fatalf("%+v %v %d threads: relative error %.4f", s, act, n, e)
					}
					if first == nil {
						first = got
						continue
					}
					for i := range got {
						if got[i] != first[i] {
							t.Fatalf("%+v %v: %d threads differ from 1 thread at %d", s, act, n, i)
						}
					}
				}
			}
		}
	})
}

func TestQuantizeEdgeCases(t *testing.T) {
	if _, err := QuantizeMatrix(make([]float32, 5), 2, 3); err == nil {
		t.Fatal("wrong length accepted")
	}
	if _, err := QuantizeMatrix(nil, 0, 3); err == nil {
		t.Fatal("empty matrix accepted")
	}
	if _, err := QuantizeMatrix(make([]float32, qMaxIn+4), 1, qMaxIn+4); err == nil {
		t.Fatal("a K whose int32 sums could overflow accepted")
	}
	// The largest sums DistilBERT makes (K=3072, every product 255·±63),
	// both signs in one panel: exact on every path.
	const k = 3072
	big := make([]float32, 16*k)
	for o := 0; o < 16; o++ {
		for i := 0; i < k; i++ {
			big[o*k+i] = float32(1 - 2*(o%2))
		}
	}
	qbig, err := QuantizeMatrix(big, 16, k)
	if err != nil {
		t.Fatal(err)
	}
	ones := make([]float32, k)
	for i := range ones {
		ones[i] = 1
	}
	for _, im := range int8Impls(t) {
		dst := make([]float32, 16)
		im.Linear(dst, ones, 1, qbig, nil, ActNone)
		for o, v := range dst {
			if want := float64(k * (1 - 2*(o%2))); math.Abs(float64(v)-want) > 0.01 {
				t.Errorf("%s: K=%d column %d: %g, want %g", im.Int8Kernel(), k, o, v, want)
			}
		}
	}
	// A zero weight row, and inputs that are all zero, constant, huge or
	// not finite: finite outputs where the input is finite, never a panic.
	w := []float32{0, 0, 0, 0, 0, 1, -2, 0.5, 3, 0.25}
	qw, err := QuantizeMatrix(w, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range [][]float32{
		{0, 0, 0, 0, 0},
		{2, 2, 2, 2, 2},
		{-3e38, 3e38, 1, 0, -1},
		{float32(math.NaN()), 1, 2, 3, 4},
		{float32(math.Inf(1)), 1, 2, 3, float32(math.Inf(-1))},
	} {
		for _, im := range int8Impls(t) {
			dst := make([]float32, 2)
			im.Linear(dst, x, 1, qw, nil, ActNone)
			if dst[0] != 0 {
				t.Errorf("%s %v: zero weight row gave %g", im.Int8Kernel(), x, dst[0])
			}
		}
	}
	dst := make([]float32, 2)
	generic.Linear(dst, []float32{2, 2, 2, 2, 2}, 1, qw, nil, ActNone)
	if want := float32(2 * 2.75); math.Abs(float64(dst[1]-want)) > 0.05 {
		t.Errorf("constant input: got %g, want ≈ %g", dst[1], want)
	}
}

func BenchmarkLinearInt8(b *testing.B) {
	shapes := []linearShape{{24, 768, 3072}, {128, 768, 3072}, {128, 768, 768}, {128, 3072, 768}}
	for _, im := range int8Impls(b) {
		benchLinear(b, im, im.Int8Kernel(), shapes, "GOP/s", func(w []float32, n, k int) (Weights, error) { return QuantizeMatrix(w, n, k) })
	}
}

// The SIMD input quantizers match the portable one byte for byte, also on
// rows with NaN, infinities, huge values, exact zeros and ties.
func TestQuantizeInputAllImplementations(t *testing.T) {
	forEachInt8(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(15, 16))
		specials := []float32{0, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3e38, -3e38, 0.5, -0.5, 1e-30}
		for _, in := range []int{1, 7, 8, 9, 16, 24, 37, 40, 64, 100, 768} {
			m := 13
			x := randSlice(r, m*in)
			for i := range x {
				if r.IntN(50) == 0 {
					x[i] = specials[r.IntN(len(specials))]
				}
			}
			for i := 0; i < in; i++ { // a constant row
				x[2*in+i] = 1.25
			}
			steps := (in + 3) / 4
			var got, want qInput
			quantizeInput(generic.qkernel, &want, x, m, in, steps, false)
			quantizeInput(im.qkernel, &got, x, m, in, steps, false)
			for i := range want.a {
				if got.a[i] != want.a[i] {
					t.Fatalf("in=%d: byte %d is %d, portable %d", in, i, got.a[i], want.a[i])
				}
			}
			for i := range want.zero {
				if got.zero[i] != want.zero[i] || math.Float32bits(got.scale[i]) != math.Float32bits(want.scale[i]) {
					t.Fatalf("in=%d row %d: zero %d scale %g, portable %d %g", in, i, got.zero[i], got.scale[i], want.zero[i], want.scale[i])
				}
			}
		}
		// Quantized by the worker pool (ranges of row groups, the last one
		// partial), the result is the same.
		defer SetThreads(Threads())
		SetThreads(3)
		m, in := 103, 768
		x := randSlice(r, m*in)
		var serial, parallel qInput
		quantizeInput(im.qkernel, &serial, x, m, in, in/4, false)
		quantizeInput(im.qkernel, &parallel, x, m, in, in/4, true)
		if !slices.Equal(serial.a, parallel.a) || !slices.Equal(serial.zero, parallel.zero) || !slices.Equal(serial.scale, parallel.scale) {
			t.Fatal("input quantized in parallel differs from serial")
		}
	})
}

// checkQMicro compares the int8 micro-kernel kind with the portable one, bit
// for bit, on extreme and random inputs, every row count and step counts
// odd and even.
func checkQMicro(t *testing.T, kind qKernel) {
	t.Helper()
	r := rand.New(rand.NewPCG(17, 18))
	for _, steps := range []int{1, 2, 3, 17, 192, 768} {
		a := make([]uint8, steps*qRows*4)
		b := make([]int8, steps*qPanel*4)
		for i := range a {
			a[i] = []uint8{0, 255, uint8(r.IntN(256))}[r.IntN(3)]
		}
		for i := range b {
			b[i] = int8([]int{-qWeightMax, qWeightMax, r.IntN(2*qWeightMax+1) - qWeightMax}[r.IntN(3)])
		}
		zero := []int32{0, 255, 128, 7, 1, 200}
		scale := []float32{1, 0.5, 2, 1e-3, 3, 0.25}
		colSum, colScale := make([]int32, qPanel), make([]float32, qPanel)
		for j := range colSum {
			for s := 0; s < steps; s++ {
				for k := 0; k < 4; k++ {
					colSum[j] += int32(b[s*qPanel*4+j*4+k])
				}
			}
			colScale[j] = float32(j+1) / 64
		}
		bias := randSlice(r, qPanel)
		for rows := 1; rows <= qRows; rows++ {
			// ldc wider than the panel: the kernel must leave the gap alone.
			const ldc = qPanel + 3
			got, want := make([]float32, rows*ldc), make([]float32, rows*ldc)
			for i := range got {
				got[i], want[i] = -7, -7
			}
			qMicro(kind, steps, &a[0], &b[0], &got[0], ldc, rows, &zero[0], &scale[0], &colSum[0], &colScale[0], &bias[0], &b[0])
			qMicroGo(steps, &a[0], &b[0], &want[0], ldc, rows, &zero[0], &scale[0], &colSum[0], &colScale[0], &bias[0])
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("steps=%d rows=%d: element %d (row %d, col %d) is %g, portable %g", steps, rows, i, i/ldc, i%ldc, got[i], want[i])
				}
			}
		}
	}
	checkQMicroWide(t, kind)
}

// checkQMicroWide compares kind's wide micro-kernel (qMicroWide) with the
// portable panel kernel on each of its panels, bit for bit.
func checkQMicroWide(t *testing.T, kind qKernel) {
	t.Helper()
	r := rand.New(rand.NewPCG(19, 20))
	const cols = qMaxWide * qPanel
	for _, steps := range []int{1, 3, 17, 192} {
		panelBytes := steps * qPanel * 4
		a := make([]uint8, steps*qRows*4)
		b := make([]int8, qMaxWide*panelBytes)
		for i := range a {
			a[i] = []uint8{0, 255, uint8(r.IntN(256))}[r.IntN(3)]
		}
		for i := range b {
			b[i] = int8([]int{-qWeightMax, qWeightMax, r.IntN(2*qWeightMax+1) - qWeightMax}[r.IntN(3)])
		}
		zero := []int32{3, 255, 128, 0, 1, 200}
		scale := []float32{0.5, 1, 2, 1e-3, 3, 0.25}
		colSum, colScale := make([]int32, cols), make([]float32, cols)
		for j := range colSum {
			p, c := j/qPanel, j%qPanel
			for s := 0; s < steps; s++ {
				for k := 0; k < 4; k++ {
					colSum[j] += int32(b[p*panelBytes+s*qPanel*4+c*4+k])
				}
			}
			colScale[j] = float32(j+1) / 128
		}
		bias := randSlice(r, cols)
		for rows := 1; rows <= qRows; rows++ {
			const ldc = cols + 5 // the gap must stay untouched
			got, want := make([]float32, rows*ldc), make([]float32, rows*ldc)
			for i := range got {
				got[i], want[i] = -7, -7
			}
			qMicroWide(kind, steps, &a[0], &b[0], panelBytes, &got[0], ldc, rows, &zero[0], &scale[0], &colSum[0], &colScale[0], &bias[0], &b[0])
			for p := 0; p < qMaxWide; p++ {
				j := p * qPanel
				qMicroGo(steps, &a[0], &b[p*panelBytes], &want[j], ldc, rows, &zero[0], &scale[0], &colSum[j], &colScale[j], &bias[j])
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("steps=%d rows=%d: element %d (row %d, col %d) is %g, portable %g", steps, rows, i, i/ldc, i%ldc, got[i], want[i])
				}
			}
		}
	}
}

// int8Impls returns the best implementation with each int8 kernel this CPU
// runs.
func int8Impls(tb testing.TB) []*Impl {
	var out []*Impl
	for _, name := range Int8Kernels() {
		im, err := Best().WithInt8Kernel(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, im)
	}
	return out
}

// Every SIMD int8 kernel has a peak loop for BenchmarkLinearInt8VsPeak
// (the portable one none), and it runs on this CPU.
func TestInt8PeakLoops(t *testing.T) {
	for _, im := range int8Impls(t) {
		loop := im.int8Peak()
		if (loop.run == nil) != (im.Int8Kernel() == int8Go.name) {
			t.Errorf("%s: has a peak loop: %v", im.Int8Kernel(), loop.run != nil)
			continue
		}
		if loop.run != nil {
			loop.run(0)
			loop.run(1000)
		}
	}
}
