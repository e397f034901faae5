//go:build amd64 && !purego

package kernels

import "testing"

// BenchmarkMicroKernelL1 runs the 6×16 micro-kernel on L1-resident data:
// the ceiling for every GEMM shape, to compare with BenchmarkPeak.
func BenchmarkMicroKernelL1(b *testing.B) {
	if !avx2.Supported() {
		b.Skip("no AVX2")
	}
	a := make([]float32, microRows*kBlock)
	w := make([]float32, panelWidth*kBlock)
	c := make([]float32, microRows*panelWidth)
	for i := 0; i < b.N; i++ {
		gemm6x16AVX2(kBlock, &a[0], &w[0], &c[0], panelWidth, nil, 0, &w[0], 64)
	}
	b.ReportMetric(float64(b.N)*microRows*panelWidth*kBlock*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
