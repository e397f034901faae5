package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// Implementations share scratch pools, and some packers return their input
// instead of a copy. Alternating implementations call by call must not let
// one write through another's alias (a bug this test caught once).
func TestAttentionInterleavedImplementations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, hd := range []int{16, 64} {
		for _, heads := range []int{1, 3} {
			for _, nk := range []int{2, 5, 16, 17, 33} {
				ld := heads * hd
				s := AttnSeq{Q: 0, NQ: nk, K: 0, NK: nk}
				if nk%2 == 1 {
					s.NQ = 1
				}
				q, k, v := randSlice(r, nk*ld), randSlice(r, nk*ld), randSlice(r, nk*ld)
				want := make([]float32, nk*ld)
				Generic().Attention(want, q, k, v, ld, heads, hd, []AttnSeq{s})
				for _, im := range Available() {
					got := make([]float32, nk*ld)
					im.Attention(got, q, k, v, ld, heads, hd, []AttnSeq{s})
					if d := maxAbsDiff(want[:s.NQ*ld], got[:s.NQ*ld]); d > 1e-4 {
						t.Errorf("%s hd %d heads %d nk %d nq %d: diff %g", im.Name(), hd, heads, nk, s.NQ, d)
					}
				}
			}
		}
	}
}

// The direct path (few queries) matches the GEMM path, masks included.
func TestAttentionDirectMatchesGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const heads, hd = 3, 20
	ld := heads * hd
	for _, im := range Available() {
		for _, nk := range []int{1, 2, 7, 16, 33, 130} {
			for nq := 1; nq <= 4; nq++ {
				mask := make([]bool, nk)
				for j := range mask {
					mask[j] = r.IntN(4) != 0
				}
				for _, m := range [][]bool{nil, mask} {
					q, k, v := randSlice(r, (nq+nk)*ld), randSlice(r, (nq+nk)*ld), randSlice(r, (nq+nk)*ld)
					// Queries after the keys: the item's offsets must be honoured.
					seqs := []AttnSeq{{Q: nk, NQ: nq, K: 0, NK: nk, Mask: m}}
					direct, gemm := make([]float32, (nq+nk)*ld), make([]float32, (nq+nk)*ld)
					im.attention(direct, q, k, v, ld, heads, hd, seqs, 4)
					im.attention(gemm, q, k, v, ld, heads, hd, seqs, 0)
					if d := maxAbsDiff(direct, gemm); d > 1e-5 {
						t.Errorf("%s nq %d nk %d mask %v: direct and GEMM paths differ by %g", im.Name(), nq, nk, m != nil, d)
					}
				}
			}
		}
	}
}

// BenchmarkAttention: one sequence, 12 heads of 64 (DistilBERT-base), all
// queries or just the [CLS] one (the last layer), one thread and all.
func BenchmarkAttention(b *testing.B) {
	defer SetThreads(Threads())
	const heads, hd = 12, 64
	for _, im := range Available() {
		for _, th := range slices.Compact([]int{1, runtimeThreads}) {
			for _, n := range []int{8, 16, 20, 32, 64, 128} {
				for _, nq := range []int{1, n} {
					b.Run(fmt.Sprintf("%s/threads%d/nq%d/nk%d", im.Name(), th, nq, n), func(b *testing.B) {
						SetThreads(th)
						r := rand.New(rand.NewPCG(1, 1))
						ld := heads * hd
						q, k, v := randSlice(r, n*ld), randSlice(r, n*ld), randSlice(r, n*ld)
						ctx := make([]float32, n*ld)
						seqs := []AttnSeq{{NQ: nq, NK: n}}
						for i := 0; i < b.N; i++ {
							im.Attention(ctx, q, k, v, ld, heads, hd, seqs)
						}
					})
				}
			}
		}
	}
}
