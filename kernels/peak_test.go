package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkPeak reports the core's measured fp32 FMA peak per implementation.
func BenchmarkPeak(b *testing.B) {
	for _, im := range Available() {
		if _, ok := im.PeakGFLOPS(); !ok {
			continue
		}
		b.Run(im.Name(), func(b *testing.B) {
			var g float64
			for i := 0; i < b.N; i++ {
				g, _ = im.PeakGFLOPS()
			}
			b.ReportMetric(g, "GFLOP/s")
		})
	}
}

// BenchmarkPeakInt8 is BenchmarkPeak for the int8 micro-kernels: the peak
// of each one's multiply-accumulate instruction mix.
func BenchmarkPeakInt8(b *testing.B) {
	for _, im := range int8Impls(b) {
		if _, ok := im.Int8PeakGOPS(); !ok {
			continue
		}
		b.Run(im.Int8Kernel(), func(b *testing.B) {
			var g float64
			for i := 0; i < b.N; i++ {
				g, _ = im.Int8PeakGOPS()
			}
			b.ReportMetric(g, "GOP/s")
		})
	}
}

// int8PeakShapes are the int8 GEMM shapes whose share of the peak the
// speed issue tracks: M = 128, K and N ∈ {768, 3072}.
var int8PeakShapes = []struct{ m, k, n int }{{128, 768, 3072}, {128, 768, 768}, {128, 3072, 768}, {128, 3072, 3072}}

// BenchmarkLinearInt8VsPeak is BenchmarkLinearVsPeak for the int8 kernels,
// each against its own instruction's peak loop.
func BenchmarkLinearInt8VsPeak(b *testing.B) {
	defer SetThreads(Threads())
	for _, im := range int8Impls(b) {
		loop := im.int8Peak()
		if loop.run == nil {
			continue
		}
		for _, s := range int8PeakShapes {
			b.Run(fmt.Sprintf("%s/M%dK%dN%d", im.Int8Kernel(), s.m, s.k, s.n), func(b *testing.B) {
				benchPairedWithPeak(b, im, loop, s.m, s.k, s.n, func(w []float32, n, k int) (Weights, error) { return QuantizeMatrix(w, n, k) })
			})
		}
	}
}

// BenchmarkLinearVsPeak measures the GEMM efficiency shapes
// (M=128, K=768, N=3072 and 768, one thread) as a fraction of the FMA peak,
// pairing every GEMM call with a peak-loop run of similar length right
// before it: on a shared machine both halves of a pair see about the same
// interference, so the median ratio is steadier than two separate runs.
func BenchmarkLinearVsPeak(b *testing.B) {
	defer SetThreads(Threads())
	for _, im := range Available() {
		if im.peak.run == nil {
			continue
		}
		for _, s := range []struct{ m, k, n int }{{128, 768, 3072}, {128, 768, 768}, {128, 3072, 768}} {
			b.Run(fmt.Sprintf("%s/M%dK%dN%d", im.Name(), s.m, s.k, s.n), func(b *testing.B) {
				benchPairedWithPeak(b, im, im.peak, s.m, s.k, s.n, im.packWeights)
			})
		}
	}
}

// packWeights is Pack as a weights preparer for benchPairedWithPeak.
func (im *Impl) packWeights(w []float32, n, k int) (Weights, error) { return im.Pack(w, n, k) }

// benchPairedWithPeak runs im.Linear on random M×K by N×K operands (the
// weights prepared by prep) on one pinned thread, each call right after a
// run of the peak loop with the same operation count, and reports the
// median peak/GEMM time ratio and the best rate.
func benchPairedWithPeak(b *testing.B, im *Impl, loop peakLoop, m, k, n int, prep func(w []float32, n, k int) (Weights, error)) {
	SetThreads(1)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := rand.New(rand.NewPCG(1, 1))
	x, w := randSlice(r, m*k), randSlice(r, n*k)
	dst := make([]float32, m*n)
	pw, err := prep(w, n, k)
	if err != nil {
		b.Fatal(err)
	}
	flops := 2 * float64(m) * float64(k) * float64(n)
	iters := int(flops / loop.opsPerIter)  // as long as the GEMM at peak
	im.Linear(dst, x, m, pw, nil, ActNone) // warm: packed A buffer, pages
	ratios := make([]float64, 0, b.N)
	var best float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		loop.run(iters)
		t1 := time.Now()
		im.Linear(dst, x, m, pw, nil, ActNone)
		t2 := time.Now()
		ratios = append(ratios, t1.Sub(t0).Seconds()/t2.Sub(t1).Seconds())
		best = max(best, flops/t2.Sub(t1).Seconds()/1e9)
	}
	slices.Sort(ratios)
	b.ReportMetric(100*ratios[len(ratios)/2], "%peak(median)")
	b.ReportMetric(best, "Gop/s(best)")
}
