package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
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

// forEachInt8 runs f once per int8 kernel this CPU supports, each on the
// best float32 implementation (the subtest is named after the int8 kernel).
func forEachInt8(t *testing.T, f func(t *testing.T, im *Impl)) {
	for _, im := range int8Impls(t) {
		t.Run(im.Int8Kernel(), func(t *testing.T) { f(t, im) })
	}
}

// forEachImpl runs f once per implementation this CPU supports.
func forEachImpl(t *testing.T, f func(t *testing.T, im *Impl)) {
	for _, im := range Available() {
		t.Run(im.Name(), func(t *testing.T) { f(t, im) })
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

// GELU's edges on every implementation: NaN stays NaN, +Inf stays +Inf,
// a far negative input gives about zero and a large positive one about
// itself.
func TestGELUEdgesAllImplementations(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		x := []float32{float32(math.NaN()), float32(math.Inf(1)), -1e4, -40, 1e4, 40, 0}
		for len(x) < 40 { // past every SIMD width, so the vector loops see them
			x = append(x, x[:7]...)
		}
		y := slices.Clone(x)
		im.GELU(y)
		for i, v := range x {
			g := float64(y[i])
			var ok bool
			switch {
			case math.IsNaN(float64(v)):
				ok = math.IsNaN(g)
			case v < 0:
				ok = math.Abs(g) <= 1e-6
			default:
				ok = math.Abs(g-float64(v)) <= 1e-6*float64(v) || g == float64(v)
			}
			if !ok {
				t.Fatalf("GELU(%g) = %g", v, g)
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
			if n%3 == 0 {
				for i := range x {
					x[i] = -math.MaxFloat32 // fully masked row: uniform
				}
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
			x0 := append([]float32(nil), g...)
			im.GELU(g)
			// Within 5e-7 absolute up to |x| = 1, relative beyond: a few
			// float32 steps of the result, or of x where GELU(x) ≈ x.
			for i := range g {
				if d := math.Abs(float64(g[i]) - float64(wantG[i])); !(d <= 5e-7*math.Max(1, math.Abs(float64(x0[i])))) {
					t.Fatalf("gelu n=%d: GELU(%g) = %g, want %g", n, x0[i], g[i], wantG[i])
				}
			}
		}
	})
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
// TestLinearLongK runs each implementation's default blocking with K
// spanning several of its slices, in both loop orders (few rows: the
// whole-panel order; 300 rows: the BLIS order, whose slice may be longer),
// against the float64 reference.
func TestLinearLongK(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, m := range []int{5, 300} {
			kb := 256
			if im.aSlice != nil {
				kb = im.aSlice(m)
			}
			in, out := 2*kb+37, 70
			x, w, b := randSlice(r, m*in), randSlice(r, out*in), randSlice(r, out)
			pw, err := im.Pack(w, out, in)
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]float32, m*out)
			im.Linear(dst, x, m, pw, b, ActGELU)
			want := linearRef(x, w, b, m, in, out, ActGELU)
			if d := maxAbsDiff(dst, want); d > 4e-5*math.Sqrt(float64(in)) {
				t.Fatalf("m=%d in=%d out=%d: max diff %g", m, in, out, d)
			}
		}
	})
}

func TestLinearThreadCountsAgree(t *testing.T) {
	defer SetThreads(Threads())
	forEachImpl(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, s := range []struct{ m, in, out int }{{37, 129, 300}, {128, 256, 257}, {7, 1000, 77}, {1, 768, 768}, {301, 256, 40}, {257, 300, 33}} {
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

// attentionRef is a float64 reference of masked multi-head attention.
func attentionRef(q, k, v []float32, ld, heads, hd int, s AttnSeq) []float64 {
	out := make([]float64, s.NQ*ld)
	for h := 0; h < heads; h++ {
		for i := 0; i < s.NQ; i++ {
			sc := make([]float64, s.NK)
			mx := math.Inf(-1)
			for j := range sc {
				if s.Mask != nil && !s.Mask[j] {
					sc[j] = -math.MaxFloat32
				} else {
					for d := 0; d < hd; d++ {
						sc[j] += float64(q[(s.Q+i)*ld+h*hd+d]) * float64(k[(s.K+j)*ld+h*hd+d])
					}
				}
				mx = math.Max(mx, sc[j])
			}
			var sum float64
			for j := range sc {
				sc[j] = math.Exp(sc[j] - mx)
				sum += sc[j]
			}
			for j := range sc {
				for d := 0; d < hd; d++ {
					out[i*ld+h*hd+d] += sc[j] / sum * float64(v[(s.K+j)*ld+h*hd+d])
				}
			}
		}
	}
	return out
}

func TestAttentionAllImplementations(t *testing.T) {
	defer SetThreads(Threads())
	forEachImpl(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(11, 12))
		for trial := 0; trial < 30; trial++ {
			heads := 1 + r.IntN(4)
			hd := sizes[r.IntN(12)]
			ld := heads * hd
			var seqs []AttnSeq
			rows := 0
			for n := 1 + r.IntN(3); n > 0; n-- {
				nk := 1 + r.IntN(70)
				s := AttnSeq{Q: rows, NQ: nk, K: rows, NK: nk}
				if r.IntN(3) == 0 { // only the first query row, as the model's last layer
					s.NQ = 1
				}
				if r.IntN(2) == 0 {
					s.Mask = make([]bool, nk)
					for j := range s.Mask {
						s.Mask[j] = r.IntN(4) != 0
					}
					if r.IntN(5) == 0 {
						clear(s.Mask) // fully masked: uniform average
					}
				}
				seqs = append(seqs, s)
				rows += nk
			}
			q, k, v := randSlice(r, rows*ld), randSlice(r, rows*ld), randSlice(r, rows*ld)
			ctx := make([]float32, rows*ld)
			SetThreads(1 + r.IntN(3))
			im.Attention(ctx, q, k, v, ld, heads, hd, seqs)
			for si, s := range seqs {
				want := attentionRef(q, k, v, ld, heads, hd, s)
				got := ctx[s.Q*ld : (s.Q+s.NQ)*ld]
				for i := range want {
					if d := math.Abs(float64(got[i]) - want[i]); d > 1e-4 {
						t.Fatalf("trial %d seq %d (heads %d hd %d nq %d nk %d): element %d off by %g", trial, si, heads, hd, s.NQ, s.NK, i, d)
					}
				}
			}
		}
	})
}

// TestPackInputAllImplementations checks each implementation's input
// packer element by element against the layout packGroupRange documents
// (K slices of aSlice, every group's block of a slice in turn), for row
// counts with and without a partial last group, K with and without a
// partial last slice, rows wider than the packed width, packed whole and
// by ranges of groups into a dirty buffer.
func TestPackInputAllImplementations(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		if im.aRows == 0 {
			t.Skip("packs no input")
		}
		rows := im.aRows
		r := rand.New(rand.NewPCG(5, 5))
		for _, m := range []int{1, 5, 6, 7, 11, 12, 13, 24, 25, 31, 128, 300} {
			kb := im.aSlice(m)
			for _, in := range []int{1, 7, 16, 33, kb - 1, kb, kb + 1, 2*kb + 5} {
				ldx := in + 3
				x := randSlice(r, m*ldx)
				groups := (m + rows - 1) / rows
				for _, split := range []int{1, 2, 3} {
					// A dirty reused buffer: padding rows must be zeroed.
					a := make([]float32, groups*rows*in)
					for i := range a {
						a[i] = float32(math.NaN())
					}
					for c := 0; c < split; c++ {
						im.packA(a, x, m, in, ldx, c*groups/split, (c+1)*groups/split)
					}
					for g := 0; g < groups; g++ {
						for k := 0; k < in; k++ {
							k0 := k / kb * kb
							kc := min(kb, in-k0)
							for rr := 0; rr < rows; rr++ {
								var want float32
								if row := g*rows + rr; row < m {
									want = x[row*ldx+k]
								}
								if got := a[k0*groups*rows+g*kc*rows+(k-k0)*rows+rr]; got != want {
									t.Fatalf("m=%d in=%d split=%d: group %d row %d k %d is %g, want %g", m, in, split, g, rr, k, got, want)
								}
							}
						}
					}
				}
			}
		}
	})
}

func TestParseSpin(t *testing.T) {
	for v, want := range map[string]time.Duration{"": defaultSpin, "0": 0, "off": 0, " 250us ": 250 * time.Microsecond, "1ms": time.Millisecond} {
		if got, err := parseSpin(v); err != nil || got != want {
			t.Errorf("parseSpin(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"abc", "-1us", "10s", "100"} {
		if _, err := parseSpin(v); err == nil || !strings.Contains(err.Error(), SpinEnvVar) {
			t.Errorf("parseSpin(%q): error %v, want one naming %s", v, err, SpinEnvVar)
		}
	}
}

// LinearMany gives every product exactly what its own Linear call gives,
// in float32 and int8, on one thread and several (products of different
// widths, biases and activations, inputs big enough to split and pack in
// parallel), and refuses products of different inputs.
func TestLinearManyMatchesLinear(t *testing.T) {
	defer SetThreads(Threads())
	forEachImpl(t, func(t *testing.T, im *Impl) {
		r := rand.New(rand.NewPCG(9, 9))
		for _, th := range []int{1, 3} {
			SetThreads(th)
			for _, s := range []struct{ m, in int }{{1, 5}, {7, 33}, {20, 257}, {130, 300}, {260, 300}} {
				outs := []int{s.in, 17, 300, 3}
				x := randSlice(r, s.m*s.in)
				var ps []Product
				var qps []Product
				var want, qwant [][]float32
				for i, out := range outs {
					w := randSlice(r, out*s.in)
					var bias []float32
					if i%2 == 0 {
						bias = randSlice(r, out)
					}
					act := Activation(i % 3)
					pw, err := im.Pack(w, out, s.in)
					if err != nil {
						t.Fatal(err)
					}
					qw, err := QuantizeMatrix(w, out, s.in)
					if err != nil {
						t.Fatal(err)
					}
					ps = append(ps, Product{Dst: make([]float32, s.m*out), W: pw, Bias: bias, Act: act})
					qps = append(qps, Product{Dst: make([]float32, s.m*out), W: qw, Bias: bias, Act: act})
					want = append(want, make([]float32, s.m*out))
					qwant = append(qwant, make([]float32, s.m*out))
					im.Linear(want[i], x, s.m, pw, bias, act)
					im.Linear(qwant[i], x, s.m, qw, bias, act)
				}
				im.LinearMany(x, s.m, ps...)
				im.LinearMany(x, s.m, qps...)
				for i := range outs {
					for j := range want[i] {
						if math.Float32bits(ps[i].Dst[j]) != math.Float32bits(want[i][j]) ||
							math.Float32bits(qps[i].Dst[j]) != math.Float32bits(qwant[i][j]) {
							t.Fatalf("threads %d m=%d in=%d product %d element %d: %g/%g (int8), Linear %g/%g",
								th, s.m, s.in, i, j, ps[i].Dst[j], qps[i].Dst[j], want[i][j], qwant[i][j])
						}
					}
				}
			}
		}
		a, _ := im.Pack(make([]float32, 8*4), 8, 4)
		b, _ := im.Pack(make([]float32, 8*5), 8, 5)
		dst := make([]float32, 8)
		for name, f := range map[string]func(){
			"different inputs": func() { im.LinearMany(make([]float32, 5), 1, Product{Dst: dst, W: a}, Product{Dst: dst, W: b}) },
			"no products":      func() { im.LinearMany(nil, 1) },
			"five products": func() {
				p := Product{Dst: dst, W: a}
				im.LinearMany(make([]float32, 4), 1, p, p, p, p, p)
			},
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: no panic", name)
					}
				}()
				f()
			}()
		}
	})
}

// TestSplitColumns checks that a product's column chunks cover its panels
// once, in order, whole panels each, shrinking from about 1/(2·threads) of
// the panels to single ones, and stay few.
func TestSplitColumns(t *testing.T) {
	defer SetThreads(Threads())
	for _, th := range []int{1, 2, 3, 16, 64} {
		SetThreads(th)
		for _, panel := range []int{16, 32} {
			for _, out := range []int{1, 17, 100, 768, 769, 3072, 30522} {
				panels := (out + panel - 1) / panel
				for _, parallel := range []bool{false, true} {
					s := splitColumns(out, panel, parallel)
					end, sizes := 0, make([]int, 0, s.chunks)
					for c := 0; c < s.chunks; c++ {
						c0, c1 := s.cols(c)
						if c0 != end || c1 <= c0 || c0%panel != 0 || (c1 != out && c1%panel != 0) {
							t.Fatalf("threads %d, %d columns in panels of %d: chunk %d is %d…%d after %d", th, out, panel, c, c0, c1, end)
						}
						end = c1
						sizes = append(sizes, (c1-c0+panel-1)/panel)
					}
					if end != out {
						t.Fatalf("threads %d, %d columns in panels of %d: chunks end at %d", th, out, panel, end)
					}
					if !parallel {
						if s.chunks != 1 {
							t.Fatalf("not parallel: %d chunks", s.chunks)
						}
						continue
					}
					share := 2 * th
					if want := float64(panels) / float64(share); math.Abs(float64(sizes[0])-want) > 1 {
						t.Errorf("threads %d, %d panels: first chunk %d panels, want %.1f±1", th, panels, sizes[0], want)
					}
					if sizes[len(sizes)-1] != 1 {
						t.Errorf("threads %d, %d panels: last chunk %d panels, want 1", th, panels, sizes[len(sizes)-1])
					}
					// Guided scheduling takes ~share·ln(panels/share) chunks,
					// then fewer than share single panels.
					limit := panels
					if panels > share {
						limit = min(limit, int(float64(share)*math.Log(float64(panels)/float64(share)))+share+2)
					}
					if s.chunks > limit {
						t.Errorf("threads %d, %d panels: %d chunks (sizes %v), more than %d", th, panels, s.chunks, sizes, limit)
					}
				}
			}
		}
	}
}

// TestPackPanelsAllImplementations checks each SIMD weight packer element
// by element against the portable scatter of the same panel width, on a
// dirty buffer, for every count of columns up to three panels (whole
// panels, partial ones of 8-row slices and of odd tails) and K with and
// without a partial last 8, strided and transposed.
func TestPackPanelsAllImplementations(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		if im.Name() == "generic" {
			t.Skip("the portable packer is the reference")
		}
		r := rand.New(rand.NewPCG(21, 22))
		for _, in := range []int{1, 7, 8, 16, 19, 64} {
			for out := 1; out <= 3*im.panel+1; out++ {
				for _, transposed := range []bool{false, true} {
					rows, cols := out, in
					if transposed {
						rows, cols = in, out
					}
					ld := cols + r.IntN(3)
					w := randSlice(r, rows*ld)
					want := packPanels(nil, w, out, in, ld, transposed, im.panel)
					dirty := make([]float32, len(want))
					for i := range dirty {
						dirty[i] = float32(math.NaN())
					}
					got := im.pack(dirty, w, out, in, ld, transposed)
					if len(got) != len(want) {
						t.Fatalf("out %d in %d transposed %v: %d values, want %d", out, in, transposed, len(got), len(want))
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("out %d in %d ld %d transposed %v: value %d is %g, want %g", out, in, ld, transposed, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}
