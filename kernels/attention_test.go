package kernels

import (
	"math/rand/v2"
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
						t.Errorf("%s hd %d heads %d nk %d nq %d: diff %g", im.Name, hd, heads, nk, s.NQ, d)
					}
				}
			}
		}
	}
}
