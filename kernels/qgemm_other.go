//go:build (!amd64 && !arm64) || purego

package kernels

// int8Kernels: only the portable one in this build.
var int8Kernels = []int8Kernel{int8Go}

func qMicro(_ qKernel, steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, _ *int8) {
	qMicroGo(steps, a, b, c, ldc, rows, zero, scale, colSum, colScale, bias)
}

// qWidePanels: every kernel here covers one panel at a time.
func qWidePanels(qKernel) int { return 1 }

func qMicroWide(kind qKernel, steps int, a *uint8, b *int8, panelBytes int, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8) {
	qMicroWideGo(kind, steps, a, b, panelBytes, c, ldc, rows, zero, scale, colSum, colScale, bias, pf)
}

func qRange(_ qKernel, x []float32) (lo, hi float32, finite bool) { return qRangeGo(x) }

func qQuantize(qKernel, []float32, []uint8, float32, float32) int { return 0 }
