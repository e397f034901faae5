package kernels

import (
	"runtime"
	"time"
)

// peakLoop is an implementation's tiny FMA loop: flopsPerIter floating
// point operations per iteration with no memory traffic.
type peakLoop struct {
	run          func(iters int)
	flopsPerIter float64
}

// PeakGFLOPS measures one core's fp32 FMA peak with the implementation's
// own instructions (best of several ~20 ms runs, pinned to one OS thread),
// the yardstick for GEMM efficiency. ok is false when the implementation
// has no such loop (generic).
func (im *Impl) PeakGFLOPS() (gflops float64, ok bool) {
	loop := im.peak
	if loop.run == nil {
		return 0, false
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const iters = 1 << 20
	best := time.Duration(1<<63 - 1)
	for i := 0; i < 15; i++ {
		start := time.Now()
		loop.run(iters)
		best = min(best, time.Since(start))
	}
	return loop.flopsPerIter * iters / best.Seconds() / 1e9, true
}
