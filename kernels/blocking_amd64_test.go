//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// blockedDrivers are the drivers of this architecture a test can run or
// re-tune, by Impl name.
var blockedDrivers = map[string]*blockedGemm{"avx2": avx2Gemm, "avx512": avx512Gemm}

// withOrder returns a copy of im whose GEMM runs base with K slice kBlock
// in the whole-panel order (rowBlocks 0, whatever M) or in the BLIS order
// with rowBlocks row groups per block (whatever M), prefetching the next C
// tile or not, keeping the whole-panel order's partial sums out of C or not.
func withOrder(im *Impl, base *blockedGemm, kBlock, rowBlocks int, prefetchC, sums bool) *Impl {
	g := *base
	g.kBlock, g.blisKBlock = kBlock, kBlock
	if rowBlocks == 0 {
		g.smallMGroups = math.MaxInt32
	} else {
		g.smallMGroups, g.rowBlockGroups = 0, rowBlocks
	}
	if !prefetchC {
		g.prefetchC = nil
	}
	if !sums {
		g.sums = nil
	}
	v := *im
	v.gemm, v.packA, v.aSlice = g.gemm, g.packA, g.slice
	return &v
}

// TestBlockedOrders runs each amd64 driver in both loop orders, forced,
// whatever the shape (the defaults pick one by size), against the float64
// reference: small K slices and row blocks make every shape cross slice,
// block and tail boundaries.
func TestBlockedOrders(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		base, ok := blockedDrivers[im.Name()]
		if !ok {
			t.Skip("not a blocked driver")
		}
		for _, o := range []struct {
			name           string
			kBlock, blocks int
			sums           bool
		}{{"stream", 32, 0, true}, {"stream-nosums", 32, 0, false}, {"blis1", 32, 1, false}, {"blis3", 48, 3, false}, {"stream-default-k", base.kBlock, 0, true}} {
			v := withOrder(im, base, o.kBlock, o.blocks, true, o.sums)
			r := rand.New(rand.NewPCG(3, 4))
			for trial := 0; trial < 20; trial++ {
				m, in, out := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
				act := Activation(r.IntN(3))
				x, w, b := randSlice(r, m*in), randSlice(r, out*in), randSlice(r, out)
				pw, err := v.Pack(w, out, in)
				if err != nil {
					t.Fatal(err)
				}
				dst := make([]float32, m*out)
				v.Linear(dst, x, m, pw, b, act)
				want := linearRef(x, w, b, m, in, out, act)
				if d := maxAbsDiff(dst, want); d > 4e-5*math.Sqrt(float64(in)) {
					t.Fatalf("%s: m=%d in=%d out=%d: max diff %g", o.name, m, in, out, d)
				}
			}
		}
	})
}

// TestPrefetchPartsCoverSlice checks the whole-panel and BLIS orders'
// prefetch plans: as many calls prefetch as the plan says, their parts, in
// order, cover the next slice, and each call's prefetches (one step apart,
// at most a line) reach the end of its part.
func TestPrefetchPartsCoverSlice(t *testing.T) {
	for name, base := range blockedDrivers {
		for _, share := range []int{0, 1, 2, 3, 4, math.MaxInt32} {
			g := *base
			g.prefetchShare = share
			for m := 1; m <= 300; m++ {
				groups := (m + g.rows - 1) / g.rows
				for _, blis := range []bool{false, true} {
					g1 := groups
					if blis {
						g1 = min(groups, g.rowBlockGroups)
					}
					kb := g.slice(m)
					sharers, sharedRows := g.prefetchPlan(m, 0, g1, blis)
					covered, n := 0, 0
					for grp := 0; grp < g1 && n < sharers; grp++ {
						rows := min(g.rows, m-grp*g.rows)
						part, step := g.prefetchPart(kb, kb, rows, sharedRows)
						// The kernels prefetch in their k loop unrolled by
						// two, none in an odd kc's last k; a line of slack.
						if n := kb / 2 * 2 * g.prefetchesPerK; step > 64 || (n-1)*step+64 < 4*part-64 {
							t.Fatalf("%s share %d m %d: %d prefetches %d bytes apart miss some of a %d-float part", name, share, m, n, step, part)
						}
						if _, step := g.prefetchPart(kb, kb/2+1, rows, sharedRows); step > 64 {
							t.Fatalf("%s share %d m %d: step %d skips lines", name, share, m, step)
						}
						covered += part
						n++
					}
					if n != sharers {
						t.Fatalf("%s share %d m %d blis %v: %d calls prefetch, plan says %d", name, share, m, blis, n, sharers)
					}
					if sharers > 0 && covered < kb*g.panel {
						t.Fatalf("%s share %d m %d blis %v: parts cover %d of %d floats", name, share, m, blis, covered, kb*g.panel)
					}
				}
			}
		}
	}
}

// BenchmarkBlocking sweeps the blocked driver's K slice and loop order on
// each amd64 SIMD path this CPU runs, paired with the peak loop as in
// BenchmarkLinearVsPeak: it is how the block sizes of a path are chosen on
// a new CPU (go test -run=NONE -bench=Blocking -benchtime=20x ./kernels).
// Orders: "stream" is the small-M order (each W panel front to back),
// "-nosums" with its partial sums in C instead of a scratch between K
// slices; "blisN" is the BLIS order with N row groups per L2 block,
// "-nopfc" without prefetching the next C tile.
func BenchmarkBlocking(b *testing.B) {
	defer SetThreads(Threads())
	orders := []struct {
		name        string
		rowBlocks   int // 0: whole-panel order
		noPrefetchC bool
		noSums      bool
	}{{"stream", 0, false, false}, {"stream-nosums", 0, false, true}, {"stream-nopfc-nosums", 0, true, true}, {"blis4", 4, false, false}, {"blis8", 8, false, false}, {"blis12", 12, false, false}, {"blis16", 16, false, false}, {"blis8-nopfc", 8, true, false}}
	shapes := []struct{ m, k, n int }{
		{128, 768, 3072}, {128, 768, 768}, {128, 3072, 768}, {256, 768, 3072}, {256, 3072, 768},
		{384, 768, 3072}, {384, 3072, 768}, {768, 768, 3072},
		{2048, 768, 3072}, {2048, 3072, 768}, {2048, 768, 768}, // batch 32 × seq 64
	}
	for _, im := range Available() {
		base, ok := blockedDrivers[im.Name()]
		if !ok {
			continue
		}
		for _, s := range shapes {
			for _, kb := range []int{128, 192, 256, 384} {
				for _, o := range orders {
					v := withOrder(im, base, kb, o.rowBlocks, !o.noPrefetchC, !o.noSums)
					b.Run(fmt.Sprintf("%s/M%dK%dN%d/kb%d/%s", im.Name(), s.m, s.k, s.n, kb, o.name), func(b *testing.B) {
						benchPairedWithPeak(b, v, v.peak, s.m, s.k, s.n, v.packWeights)
					})
				}
			}
		}
	}
}

// BenchmarkStreamPrefetch runs the linear layers of one DistilBERT-base
// pass (6 × four 768×768, 768→3072 and 3072→768: 170 MB of packed float32
// weights, more than any cache) at few rows (1: a [CLS] row; 4: a short
// text; 16…128), so that W streams from memory as it does at batch 1, for
// each whole-panel prefetch setting and K slice of each amd64 driver: how
// many calls share the prefetch of the next slice ("pfnone": none, only the
// hardware prefetchers; "share1": the first call fetches it all;
// "shareall": every call its part). It reports the weight bytes streamed
// per second; BenchmarkMemoryRead is what the cores read at best.
//
//	go test -run=NONE -bench=StreamPrefetch -benchtime=10x ./kernels
func BenchmarkStreamPrefetch(b *testing.B) {
	defer SetThreads(Threads())
	shapes := [][2]int{{768, 768}, {768, 768}, {768, 768}, {768, 768}, {768, 3072}, {3072, 768}}
	for _, im := range Available() {
		base, ok := blockedDrivers[im.Name()]
		if !ok {
			continue
		}
		r := rand.New(rand.NewPCG(5, 6))
		var ws []*Matrix
		var bytes float64
		for layer := 0; layer < 6; layer++ {
			for _, s := range shapes {
				pw, err := im.Pack(randSlice(r, s[0]*s[1]), s[1], s[0])
				if err != nil {
					b.Fatal(err)
				}
				ws = append(ws, pw)
				bytes += float64(4 * s[0] * s[1])
			}
		}
		x, dst := randSlice(r, 128*3072), make([]float32, 128*3072)
		for _, m := range []int{1, 4, 16, 64, 128} {
			for _, th := range []int{1, 2} {
				for _, pf := range []struct {
					name  string
					share int
				}{{"pfnone", 0}, {"share1", 1}, {"share2", 2}, {"share4", 4}, {"shareall", math.MaxInt32}} {
					for _, kb := range []int{base.kBlock / 4, base.kBlock / 2, base.kBlock} {
						g := *base
						g.prefetchShare, g.kBlock = pf.share, kb
						v := *im
						v.gemm, v.packA, v.aSlice = g.gemm, g.packA, g.slice
						name := fmt.Sprintf("%s/M%d/threads%d/%s/kb%d", im.Name(), m, th, pf.name, kb)
						b.Run(name, func(b *testing.B) {
							SetThreads(th)
							for i := 0; i < b.N; i++ {
								for _, w := range ws {
									v.Linear(dst, x, m, w, nil, ActNone)
								}
							}
							b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
						})
					}
				}
			}
		}
	}
}
