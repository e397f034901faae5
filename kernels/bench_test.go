package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// BenchmarkLinear reports GFLOP/s for the model's matrix shapes on every
// implementation this CPU supports.
func BenchmarkLinear(b *testing.B) {
	shapes := []linearShape{
		{16, 256, 256}, {64, 256, 1024}, {64, 1024, 256}, {16, 768, 768}, {16, 768, 3072}, {16, 3072, 768},
		{128, 768, 768}, {128, 768, 3072}, {128, 3072, 768},
	}
	for _, im := range Available() {
		benchLinear(b, im, im.Name(), shapes, "GFLOP/s", func(w []float32, n, k int) (Weights, error) { return im.Pack(w, n, k) })
	}
}

type linearShape struct{ m, k, n int }

// benchLinear times im.Linear with bias on each shape, on one thread and
// all, the weights prepared by prepare (packed or quantized), and reports
// the rate of multiply-adds ×2 in unit.
func benchLinear(b *testing.B, im *Impl, name string, shapes []linearShape, unit string, prepare func(w []float32, n, k int) (Weights, error)) {
	defer SetThreads(Threads())
	for _, th := range []int{1, runtimeThreads} {
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%s/threads%d/M%dK%dN%d", name, th, s.m, s.k, s.n), func(b *testing.B) {
				SetThreads(th)
				r := rand.New(rand.NewPCG(1, 1))
				x, w, bias := randSlice(r, s.m*s.k), randSlice(r, s.n*s.k), randSlice(r, s.n)
				dst := make([]float32, s.m*s.n)
				pw, err := prepare(w, s.n, s.k)
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					im.Linear(dst, x, s.m, pw, bias, ActNone)
				}
				ops := 2 * float64(s.m) * float64(s.k) * float64(s.n) * float64(b.N)
				b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, unit)
			})
		}
	}
}

var runtimeThreads = runtime.GOMAXPROCS(0)

// BenchmarkMemoryRead reads 256 MiB (more than any cache) through each
// implementation's Dot on 1, 2 and GOMAXPROCS threads, each thread two
// sequential streams of its own part: the read bandwidth the cores get with
// the hardware prefetchers alone, against which BenchmarkStreamPrefetch's
// weight streaming compares. Batch-1 passes of few tokens stream every
// weight once, so the 2-thread figure bounds their 2-thread speed for any
// engine (pin the process to the cores meant, e.g. with taskset).
func BenchmarkMemoryRead(b *testing.B) {
	x := make([]float32, 64<<20)
	for i := range x {
		x[i] = float32(i & 7)
	}
	for _, im := range Available() {
		for _, th := range slices.Compact([]int{1, 2, runtimeThreads}) {
			b.Run(fmt.Sprintf("%s/threads%d", im.Name(), th), func(b *testing.B) {
				sinks := make([]float32, th)
				var wg sync.WaitGroup
				for i := 0; i < b.N; i++ {
					for t := range th {
						wg.Go(func() {
							runtime.LockOSThread()
							defer runtime.UnlockOSThread()
							part := x[t*len(x)/th : (t+1)*len(x)/th]
							half := len(part) / 2
							sinks[t] += im.Dot(part[:half], part[half:2*half])
						})
					}
					wg.Wait()
				}
				b.ReportMetric(float64(4*len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
				if sinks[0] == 1 {
					b.Log(sinks)
				}
			})
		}
	}
}

// BenchmarkGELU times each implementation's GELU over one FFN hidden layer
// of 128 tokens (128 × 3072 values), in values per nanosecond.
func BenchmarkGELU(b *testing.B) {
	for _, im := range Available() {
		b.Run(im.Name(), func(b *testing.B) {
			x := randSlice(rand.New(rand.NewPCG(1, 1)), 128*3072)
			for i := range x {
				x[i] *= 3
			}
			src := slices.Clone(x)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(x, src) // GELU of GELU would drift to other inputs
				im.GELU(x)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "values/ns")
		})
	}
}
