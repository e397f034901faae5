//go:build !amd64 || purego

package kernels

func qMicro(_ qKernel, steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale *float32) {
	qMicroGo(steps, a, b, c, ldc, rows, zero, scale, colSum, colScale)
}
