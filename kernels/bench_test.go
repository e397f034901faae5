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

// BenchmarkMemoryRead reads 256 MiB (more than any cache) as two
// sequential streams through each implementation's Dot, one thread: the
// read bandwidth a core gets with the hardware prefetchers alone, against
// which BenchmarkStreamPrefetch's weight streaming compares.
func BenchmarkMemoryRead(b *testing.B) {
	x := make([]float32, 64<<20)
	for i := range x {
		x[i] = float32(i & 7)
	}
	half := len(x) / 2
	for _, im := range Available() {
		b.Run(im.Name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var sink float32
			for i := 0; i < b.N; i++ {
				sink += im.Dot(x[:half], x[half:])
			}
			b.ReportMetric(float64(4*len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			if sink == 1 {
				b.Log(sink)
			}
		})
	}
}
