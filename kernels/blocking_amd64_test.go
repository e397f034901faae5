//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"math"
	"testing"
)

// BenchmarkBlocking sweeps the blocked driver's K slice and loop order on
// each amd64 SIMD path this CPU runs, paired with the peak loop as in
// BenchmarkLinearVsPeak: it is how the block sizes of a path are chosen on
// a new CPU (go test -run=NONE -bench=Blocking -benchtime=20x ./kernels).
// "stream" is the small-M order (each W panel front to back), "blisN" the
// BLIS order with N row groups per L2 block (and prefetch of the next
// group's C tile, which "-nopfc" leaves out).
func BenchmarkBlocking(b *testing.B) {
	defer SetThreads(Threads())
	drivers := map[string]*blockedGemm{"avx2": avx2Gemm, "avx512": avx512Gemm}
	for _, im := range Available() {
		base, ok := drivers[im.Name]
		if !ok {
			continue
		}
		for _, s := range []struct{ m, k, n int }{{128, 768, 3072}, {128, 768, 768}, {512, 768, 3072}} {
			for _, kb := range []int{64, 128, 192, 256, 384} {
				for _, order := range []int{0, 4, 8, 16, -8} { // 0: stream; -8: blis8 without C prefetch
					if s.m > 128 && order == 0 {
						continue
					}
					g := *base
					g.kBlock = kb
					name := "stream"
					switch {
					case order == 0:
						g.smallMGroups = math.MaxInt32
					case order < 0:
						g.smallMGroups, g.rowBlockGroups, g.prefetchC = 0, -order, nil
						name = fmt.Sprintf("blis%d-nopfc", -order)
					default:
						g.smallMGroups, g.rowBlockGroups = 0, order
						name = fmt.Sprintf("blis%d", order)
					}
					v := *im
					v.gemm = g.gemm
					b.Run(fmt.Sprintf("%s/M%dK%dN%d/kb%d/%s", im.Name, s.m, s.k, s.n, kb, name), func(b *testing.B) {
						benchPairedWithPeak(b, &v, s.m, s.k, s.n)
					})
				}
			}
		}
	}
}
