package distilbert

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/distilbert-go/distilbert/kernels"
)

// countingEngine wraps the CPU engine and counts its forward passes: a
// second backend, registered and selected the way a GPU one is.
type countingEngine struct {
	Engine
	calls *atomic.Int64
}

func (e countingEngine) Forward(batch []Sequence, logits []float32) error {
	e.calls.Add(1)
	return e.Engine.Forward(batch, logits)
}

func (e countingEngine) Info() EngineInfo {
	info := e.Engine.Info()
	info.Backend = "counting"
	return info
}

var countingCalls atomic.Int64

func init() {
	RegisterBackend(Backend{Name: "counting", AutoPriority: -1, Open: func(spec EngineSpec) (Engine, error) {
		cpu, err := OpenCPU(spec)
		if err != nil {
			return nil, err
		}
		return countingEngine{Engine: cpu, calls: &countingCalls}, nil
	}})
}

func TestSecondBackend(t *testing.T) {
	c, err := Load(tinyOddDir, WithKernels(kernels.Generic()), WithDevice("counting"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if b := c.Engine().Info().Backend; b != "counting" {
		t.Fatalf("backend %q, want counting", b)
	}
	before := countingCalls.Load()
	if _, err := c.Predict(context.Background(), []string{"a fine film", "not at all"}); err != nil {
		t.Fatal(err)
	}
	if countingCalls.Load() == before {
		t.Fatal("Predict did not run through the selected engine")
	}
}

func TestDeviceErrors(t *testing.T) {
	for device, want := range map[string]string{
		"cuda":     "-tags cuda",
		"cuda:1":   "-tags cuda",
		"tpu":      "unknown",
		"counting": "", // opens
	} {
		c, err := Load(tinyOddDir, WithKernels(kernels.Generic()), WithDevice(device))
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", device, err)
			} else {
				c.Close()
			}
			continue
		}
		if err == nil {
			c.Close()
			t.Errorf("%s: loaded", device)
		} else if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "device "+device) {
			t.Errorf("%s: %v, want an error naming the device and %q", device, err, want)
		}
	}
	// auto takes the best backend that opens: the CPU here (counting
	// ranks below it).
	c, err := Load(tinyOddDir, WithKernels(kernels.Generic()), WithDevice("auto"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if info := c.Engine().Info(); info.Backend != "cpu" || info.Device != "cpu" {
		t.Fatalf("auto chose %+v", info)
	}
}

// Every int8 kernel this CPU runs (DISTILBERT_INT8_KERNELS) gives the same
// logits bit for bit: integer sums are exact.
func TestInt8KernelsAgree(t *testing.T) {
	g := readJSONL[goldenCase](t, "tiny-odd.jsonl")
	var want []float32
	for _, name := range kernels.Int8Kernels() {
		im, err := kernels.Best().WithInt8Kernel(name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Load(tinyOddDir, WithKernels(im), WithQuantization(QuantInt8))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Engine().Info().Int8Kernels; got != name {
			t.Fatalf("int8 kernel %q reported as %q", name, got)
		}
		var got []float32
		for _, ex := range g[:12] {
			logits := make([]float32, len(c.Labels()))
			if err := c.Engine().Forward([]Sequence{{IDs: ex.InputIDs}}, logits); err != nil {
				t.Fatal(err)
			}
			got = append(got, logits...)
		}
		c.Close()
		if want == nil {
			want = got
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("int8 kernel %s: logit %d = %g, %s gave %g", name, i, got[i], kernels.Int8Kernels()[0], want[i])
			}
		}
	}
}

// limitedEngine declares small batch limits and records the largest batch
// it was given.
type limitedEngine struct {
	Engine
	largest *atomic.Int64
}

func (e limitedEngine) Forward(batch []Sequence, logits []float32) error {
	for {
		old := e.largest.Load()
		if int64(len(batch)) <= old || e.largest.CompareAndSwap(old, int64(len(batch))) {
			break
		}
	}
	return e.Engine.Forward(batch, logits)
}

func (e limitedEngine) Info() EngineInfo {
	info := e.Engine.Info()
	info.MaxBatchSequences, info.MaxBatchTokens = 3, 1000
	return info
}

var limitedLargest atomic.Int64

func init() {
	RegisterBackend(Backend{Name: "limited", AutoPriority: -2, Open: func(spec EngineSpec) (Engine, error) {
		cpu, err := OpenCPU(spec)
		if err != nil {
			return nil, err
		}
		return limitedEngine{Engine: cpu, largest: &limitedLargest}, nil
	}})
}

// The pipeline batches up to the engine's own limits (a GPU's are far
// above the CPU's), and the CPU's are the defaults.
func TestEngineBatchLimits(t *testing.T) {
	if s, tk := (EngineInfo{}).BatchLimits(); s != MaxBatchSequences || tk != MaxBatchTokens {
		t.Errorf("default limits %d, %d; want the CPU's %d, %d", s, tk, MaxBatchSequences, MaxBatchTokens)
	}
	c, err := Load(tinyOddDir, WithKernels(kernels.Generic()), WithDevice("limited"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	texts := strings.Fields("one two three four five six seven eight nine ten")
	preds, err := c.Predict(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != len(texts) {
		t.Fatalf("%d predictions for %d texts", len(preds), len(texts))
	}
	if n := limitedLargest.Load(); n != 3 {
		t.Errorf("largest engine call %d sequences, want the engine's limit 3", n)
	}
}
