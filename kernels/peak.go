package kernels

import (
	"runtime"
	"time"
)

// peakLoop is a tiny loop of a kernel's multiply-accumulate instruction:
// opsPerIter operations per iteration (a multiply and an add count two,
// float or integer) with no memory traffic.
type peakLoop struct {
	run        func(iters int)
	opsPerIter float64
}

// PeakGFLOPS measures one core's fp32 FMA peak with the implementation's
// own instructions (best of several ~20 ms runs, pinned to one OS thread),
// the yardstick for GEMM efficiency. ok is false when the implementation
// has no such loop (generic).
func (im *Impl) PeakGFLOPS() (gflops float64, ok bool) { return im.peak.measure() }

// Int8PeakGOPS is PeakGFLOPS for im's int8 micro-kernel: one core's peak
// of the integer multiply-accumulate sequence it is built on (VPDPBUSD,
// VPMADDUBSW with its VPMADDWD and VPADDD, or SDOT), in billions of
// operations per second. ok is false for the portable kernel.
func (im *Impl) Int8PeakGOPS() (gops float64, ok bool) { return im.int8Peak().measure() }

func (im *Impl) int8Peak() peakLoop {
	for _, k := range int8Kernels {
		if k.kind == im.qkernel {
			return k.peak
		}
	}
	return peakLoop{}
}

// measure is the best rate of several ~20 ms runs, pinned to one OS
// thread, in billions of operations per second.
func (loop peakLoop) measure() (gops float64, ok bool) {
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
	return loop.opsPerIter * iters / best.Seconds() / 1e9, true
}
