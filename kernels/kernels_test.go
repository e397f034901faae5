package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// sizes covers 1…300 with primes and lengths that are not multiples of any
// vector width (4, 8, 16), which is where SIMD tails go wrong.
var sizes = []int{1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 127, 128, 129, 191, 256, 257, 300}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = math.Max(m, d)
	}
	return m
}

// forEachImpl runs f once per implementation this CPU supports.
func forEachImpl(t *testing.T, f func(t *testing.T, im *Impl)) {
	for _, im := range Available() {
		t.Run(im.Name, func(t *testing.T) { f(t, im) })
	}
}

// linearRef is a float64 reference for x·Wᵀ+b followed by act.
func linearRef(x, w, b []float32, m, in, out int, act Activation) []float32 {
	y := make([]float32, m*out)
	for i := 0; i < m; i++ {
		for j := 0; j < out; j++ {
			var s float64
			for k := 0; k < in; k++ {
				s += float64(x[i*in+k]) * float64(w[j*in+k])
			}
			if b != nil {
				s += float64(b[j])
			}
			switch act {
			case ActGELU:
				s = 0.5 * s * (1 + math.Erf(s/math.Sqrt2))
			case ActReLU:
				s = math.Max(s, 0)
			}
			y[i*out+j] = float32(s)
		}
	}
	return y
}

func TestLinearAllImplementations(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(1, 2))
		for trial := 0; trial < 60; trial++ {
			m, in, out := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
			act := Activation(r.IntN(3))
			x, w := randSlice(r, m*in), randSlice(r, out*in)
			var b []float32
			if r.IntN(4) != 0 {
				b = randSlice(r, out)
			}
			pw, err := im.Pack(w, out, in)
			if err != nil {
				t.Fatal(err)
			}
			// Guard cells around dst catch writes past the end.
			dst := make([]float32, m*out+8)
			for i := range dst {
				dst[i] = 12345
			}
			im.Linear(dst[:m*out], x, m, pw, b, act)
			want := linearRef(x, w, b, m, in, out, act)
			tol := 1e-5 * math.Sqrt(float64(in)) * 4
			if d := maxAbsDiff(dst[:m*out], want); d > tol {
				t.Fatalf("m=%d in=%d out=%d act=%v: max diff %g > %g", m, in, out, act, d, tol)
			}
			for _, v := range dst[m*out:] {
				if v != 12345 {
					t.Fatalf("m=%d in=%d out=%d: wrote past dst", m, in, out)
				}
			}
		}
	})
}

func TestDotAxpyAllImplementations(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, n := range sizes {
			a, b := randSlice(r, n), randSlice(r, n+3)
			var want float64
			for i := 0; i < n; i++ {
				want += float64(a[i]) * float64(b[i])
			}
			if got := im.Dot(a, b); math.Abs(float64(got)-want) > 1e-5*float64(n) {
				t.Fatalf("dot n=%d: %g want %g", n, got, want)
			}
			y := randSlice(r, n+1)
			yw := append([]float32(nil), y...)
			im.Axpy(0.37, a, y)
			for i := 0; i < n; i++ {
				yw[i] += 0.37 * a[i]
			}
			if d := maxAbsDiff(y, yw); d > 1e-6 {
				t.Fatalf("axpy n=%d: diff %g (last element must be untouched)", n, d)
			}
		}
	})
}

func TestAddLayerNormAllImplementations(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, n := range sizes {
			rows := 1 + r.IntN(5)
			x, res := randSlice(r, rows*n), randSlice(r, rows*n)
			for i := range x {
				x[i] += 3 // a non-zero mean exposes one-pass variance errors
			}
			g, b := randSlice(r, n), randSlice(r, n)
			want := make([]float32, len(x))
			for ro := 0; ro < rows; ro++ {
				var mean, v float64
				for i := 0; i < n; i++ {
					mean += float64(x[ro*n+i]) + float64(res[ro*n+i])
				}
				mean /= float64(n)
				for i := 0; i < n; i++ {
					d := float64(x[ro*n+i]) + float64(res[ro*n+i]) - mean
					v += d * d
				}
				inv := 1 / math.Sqrt(v/float64(n)+1e-12)
				for i := 0; i < n; i++ {
					want[ro*n+i] = float32((float64(x[ro*n+i])+float64(res[ro*n+i])-mean)*inv*float64(g[i]) + float64(b[i]))
				}
			}
			im.AddLayerNorm(x, res, n, g, b, 1e-12)
			if d := maxAbsDiff(x, want); d > 1e-4 {
				t.Fatalf("layernorm n=%d: diff %g", n, d)
			}
		}
	})
}

func TestSoftmaxGELUAllImplementations(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, n := range sizes {
			x := randSlice(r, n)
			for i := range x {
				x[i] *= 10
			}
			if n > 2 {
				x[1] = -math.MaxFloat32 // masked key, as the model writes it
			}
			want := make([]float32, n)
			mx := math.Inf(-1)
			for _, v := range x {
				mx = math.Max(mx, float64(v))
			}
			var sum float64
			for i, v := range x {
				e := math.Exp(float64(v) - mx)
				want[i] = float32(e)
				sum += e
			}
			for i := range want {
				want[i] = float32(float64(want[i]) / sum)
			}
			g := append([]float32(nil), x...)
			im.Softmax(x)
			if d := maxAbsDiff(x, want); d > 1e-6 {
				t.Fatalf("softmax n=%d: diff %g", n, d)
			}
			wantG := make([]float32, n)
			for i, v := range g {
				s := float64(v)
				wantG[i] = float32(0.5 * s * (1 + math.Erf(s/math.Sqrt2)))
			}
			im.GELU(g)
			if d := maxAbsDiff(g, wantG); d > 1e-5 {
				t.Fatalf("gelu n=%d: diff %g", n, d)
			}
		}
	})
}

func TestSelect(t *testing.T) {
	im, err := Select()
	if os.Getenv(EnvVar) == "" && err != nil {
		t.Fatal(err)
	}
	if err == nil && !im.Supported() {
		t.Fatalf("selected %s, which this CPU does not support", im.Name)
	}
	if _, err := Lookup("no-such-kernels"); err == nil {
		t.Fatal("unknown name accepted")
	}
	if g, err := Lookup("generic"); err != nil || g != Generic() {
		t.Fatalf("generic lookup: %v", err)
	}
}

func TestPackRejectsBadShapes(t *testing.T) {
	if _, err := Generic().Pack(make([]float32, 5), 2, 3); err == nil {
		t.Fatal("5 values accepted for 2x3")
	}
	if _, err := Generic().Pack(nil, 0, 3); err == nil {
		t.Fatal("empty matrix accepted")
	}
}

// Splitting a product over workers changes which core computes a column,
// never how: results must be bit-identical for every thread count.
func TestLinearThreadCountsAgree(t *testing.T) {
	defer SetThreads(Threads())
	forEachImpl(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, s := range []struct{ m, in, out int }{{37, 129, 300}, {128, 256, 257}, {7, 1000, 77}, {1, 768, 768}} {
			x, w, b := randSlice(r, s.m*s.in), randSlice(r, s.out*s.in), randSlice(r, s.out)
			pw, err := im.Pack(w, s.out, s.in)
			if err != nil {
				t.Fatal(err)
			}
			var want []float32
			for _, n := range []int{1, 2, 3, 7} {
				SetThreads(n)
				got := make([]float32, s.m*s.out)
				im.Linear(got, x, s.m, pw, b, ActGELU)
				if want == nil {
					want = got
					continue
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%+v: %d threads differ from 1 thread at %d", s, n, i)
					}
				}
			}
		}
	})
}
