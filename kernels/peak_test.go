package kernels

import "testing"

// BenchmarkPeak reports the core's measured fp32 FMA peak per implementation.
func BenchmarkPeak(b *testing.B) {
	for _, im := range Available() {
		if _, ok := im.PeakGFLOPS(); !ok {
			continue
		}
		b.Run(im.Name, func(b *testing.B) {
			var g float64
			for i := 0; i < b.N; i++ {
				g, _ = im.PeakGFLOPS()
			}
			b.ReportMetric(g, "GFLOP/s")
		})
	}
}
