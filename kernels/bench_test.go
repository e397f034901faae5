package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkLinear reports GFLOP/s for the model's matrix shapes on every
// implementation this CPU supports.
func BenchmarkLinear(b *testing.B) {
	shapes := []struct{ m, k, n int }{
		{16, 256, 256}, {64, 256, 1024}, {64, 1024, 256}, {16, 768, 768}, {16, 768, 3072}, {16, 3072, 768},
		{128, 768, 768}, {128, 768, 3072}, {128, 3072, 768},
	}
	defer SetThreads(Threads())
	for _, im := range Available() {
		for _, th := range []int{1, runtimeThreads} {
			for _, s := range shapes {
				b.Run(fmt.Sprintf("%s/threads%d/M%dK%dN%d", im.Name, th, s.m, s.k, s.n), func(b *testing.B) {
					SetThreads(th)
					r := rand.New(rand.NewPCG(1, 1))
					x, w, bias := randSlice(r, s.m*s.k), randSlice(r, s.n*s.k), randSlice(r, s.n)
					dst := make([]float32, s.m*s.n)
					pw, err := im.Pack(w, s.n, s.k)
					if err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						im.Linear(dst, x, s.m, pw, bias, ActNone)
					}
					flops := 2 * float64(s.m) * float64(s.k) * float64(s.n) * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

var runtimeThreads = runtime.GOMAXPROCS(0)
