//go:build amd64 && !purego

package kernels

// qgemm6x16AVX2 is the AVX2 int8 micro-kernel (see qMicroGo for the contract).
//
//go:noescape
func qgemm6x16AVX2(steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale *float32)

func qMicro(kind qKernel, steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale *float32) {
	if kind == qKernelAVX2 {
		qgemm6x16AVX2(steps, a, b, c, ldc, rows, zero, scale, colSum, colScale)
		return
	}
	qMicroGo(steps, a, b, c, ldc, rows, zero, scale, colSum, colScale)
}
