//go:build cuda

package cuda

import (
	"sync"
	"testing"

	"github.com/distilbert-go/distilbert/distilbert"
)

var probe struct {
	once sync.Once
	err  error
	desc gpuDesc
}

// gpuDevices is cuda:0 when a driver and a GPU answer; otherwise the GPU
// targets are skipped with the reason, once.
func gpuDevices(t *testing.T) []string {
	probe.once.Do(func() {
		d, err := openGPU(0)
		if err != nil {
			probe.err = err
			return
		}
		probe.desc = d.desc
		d.close()
	})
	if probe.err != nil {
		t.Logf("no GPU targets: %v", probe.err)
		return nil
	}
	t.Logf("GPU: %+v", probe.desc)
	return []string{"cuda"}
}

// TestGEMMAccuracy recomputes every GEMM of a reduced-precision pass on the
// host from the device's own inputs, with cuBLAS's reduced-precision
// reductions disallowed (the engine's setting) and allowed, and reports
// each GEMM's error and the logits'. It tells a cuBLAS precision loss from
// a kernel bug.
func TestGEMMAccuracy(t *testing.T) {
	if len(gpuDevices(t)) == 0 {
		t.Skip("no GPU")
	}
	var probe goldenCase
	for _, g := range readJSONL(t, "sst2-mini-edge.jsonl") {
		if g.Case == "punct_mix" {
			probe = g
		}
	}
	for _, prec := range []string{"fp16", "bf16"} {
		for _, mode := range []int{mathStrict, mathDefault} {
			c := load(t, sst2Dir, target{"cuda", prec, true})
			e := c.Engine().(*engine)
			e.opts.graphs = false // a capture cannot download
			dev := e.dev.(*gpuDevice)
			if err := dev.setMath(mode); err != nil {
				t.Fatal(err)
			}
			dev.checkGEMM = true
			logits := make([]float32, len(c.Labels()))
			if err := e.Forward([]distilbert.Sequence{{IDs: probe.InputIDs}}, logits); err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, ge := range dev.gemmErrors {
				worst = max(worst, ge.rel)
				if i < 8 || ge.rel > 1e-2 {
					t.Logf("%s math %d: gemm %d m=%d n=%d k=%d batch=%d %s: relative error %.3g", prec, mode, i, ge.m, ge.n, ge.k, ge.batch, ge.types, ge.rel)
				}
			}
			t.Logf("%s math %d: %d GEMMs, worst relative error %.3g; logits %v, want %v (diff %.3g)",
				prec, mode, len(dev.gemmErrors), worst, logits, probe.Logits, maxDiff(logits, probe.Logits))
			if mode == mathStrict && worst > 2e-2 {
				t.Errorf("%s: a GEMM is off by %.3g of its largest value", prec, worst)
			}
			c.Close()
		}
	}
}
