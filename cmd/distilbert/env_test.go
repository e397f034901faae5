package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/kernels"
	"github.com/distilbert-go/distilbert/server"
)

// TestMain lets tests run this binary's main in a child process, which is
// how start-up behaviour (DISTILBERT_KERNELS, read once) is tested.
func TestMain(m *testing.M) {
	if os.Getenv("DISTILBERT_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func runChild(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "DISTILBERT_TEST_RUN_MAIN=1"), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

func TestKernelsEnvVar(t *testing.T) {
	code, out, errs := runChild(t, []string{"DISTILBERT_KERNELS=generic"}, "inspect")
	if code != 0 || !strings.Contains(out, "kernels      generic") {
		t.Fatalf("forced generic: exit %d\n%s%s", code, out, errs)
	}
	for _, bad := range []string{"bogus", "avx512", "neon"} {
		code, _, errs = runChild(t, []string{"DISTILBERT_KERNELS=" + bad}, "predict", "fine")
		if (bad == "avx512" || bad == "neon") && code == 0 {
			continue // this CPU and build have it
		}
		if code != 1 || !strings.Contains(errs, "DISTILBERT_KERNELS="+bad) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("DISTILBERT_KERNELS=%s: exit %d, stderr %q; want one clear line and exit 1", bad, code, errs)
		}
	}
}

// Every int8 kernel this CPU runs can be forced with
// DISTILBERT_INT8_KERNELS; an unusable value is one clear line, exit 1.
func TestInt8KernelsEnvVar(t *testing.T) {
	for _, name := range kernels.Int8Kernels() {
		code, out, errs := runChild(t, []string{"DISTILBERT_INT8_KERNELS=" + name}, "inspect", "--quantize", "int8", "--json")
		var in inspection
		if code != 0 || json.Unmarshal([]byte(out), &in) != nil || in.Engine.Int8Kernels != name || in.Int8Kernel != name {
			t.Fatalf("DISTILBERT_INT8_KERNELS=%s: exit %d, engine %+v\n%s", name, code, in.Engine, errs)
		}
		code, out, errs = runChild(t, []string{"DISTILBERT_INT8_KERNELS=" + name}, "predict", "--quantize", "int8", "a fine film")
		if code != 0 || !strings.Contains(out, `"label"`) {
			t.Fatalf("predict with %s: exit %d\n%s%s", name, code, out, errs)
		}
	}
	code, _, errs := runChild(t, []string{"DISTILBERT_INT8_KERNELS=bogus"}, "predict", "fine")
	if code != 1 || !strings.Contains(errs, "DISTILBERT_INT8_KERNELS=bogus") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("bogus: exit %d, stderr %q; want one clear line and exit 1", code, errs)
	}
}

// --device selects a registered backend by name; one this binary lacks is
// a clear error.
func TestDeviceFlag(t *testing.T) {
	code, _, errs := runChild(t, nil, "predict", "--device", "cuda", "fine")
	if code != 1 || !strings.Contains(errs, "device cuda") || !strings.Contains(errs, "-tags cuda") {
		t.Errorf("--device cuda: exit %d, stderr %q", code, errs)
	}
	code, out, errs := runChild(t, []string{"DISTILBERT_DEVICE=auto"}, "inspect", "--json")
	var in inspection
	if code != 0 || json.Unmarshal([]byte(out), &in) != nil || in.Engine.Device != "cpu" {
		t.Errorf("DISTILBERT_DEVICE=auto: exit %d, engine %+v\n%s", code, in.Engine, errs)
	}
	before := countingCalls.Load()
	var stdout, stderr strings.Builder
	if code := run([]string{"predict", "--device", "counting", "a fine film"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("--device counting: exit %d: %s", code, stderr.String())
	}
	if countingCalls.Load() == before || !strings.Contains(stdout.String(), `"label"`) {
		t.Fatalf("--device counting did not predict through the counting engine: %s", stdout.String())
	}
}

// countingEngine is a second backend, registered the way the GPU one is.
type countingEngine struct{ distilbert.Engine }

var countingCalls atomic.Int64

func (e countingEngine) Forward(batch []distilbert.Sequence, logits []float32) error {
	countingCalls.Add(1)
	return e.Engine.Forward(batch, logits)
}

func init() {
	distilbert.RegisterBackend(distilbert.Backend{Name: "counting", AutoPriority: -1, Open: func(spec distilbert.EngineSpec) (distilbert.Engine, error) {
		e, err := distilbert.OpenCPU(spec)
		if err != nil {
			return nil, err
		}
		return countingEngine{e}, nil
	}})
}

// serve's batch limits follow the engine when not given: the CPU's 32 and
// 8192, a GPU's larger ones (capped), and a given flag always wins.
func TestServeBatchingFollowsEngine(t *testing.T) {
	gpu := distilbert.EngineInfo{Device: "cuda:0", MaxBatchSequences: 1024, MaxBatchTokens: 131072}
	for _, tc := range []struct {
		info         distilbert.EngineInfo
		given        map[string]bool
		seqs, tokens int
	}{
		{distilbert.EngineInfo{Device: "cpu"}, nil, 32, 8192},
		{gpu, nil, servingBatchSequences, servingBatchTokens},
		{gpu, map[string]bool{"max-batch-size": true}, 7, servingBatchTokens},
	} {
		cfg := server.DefaultConfig()
		cfg.MaxBatchSize = 7
		engineBatching(&cfg, tc.given, tc.info)
		if cfg.MaxBatchSize != tc.seqs || cfg.MaxBatchTokens != tc.tokens {
			t.Errorf("%s, given %v: batch %d × %d tokens, want %d × %d", tc.info.Device, tc.given,
				cfg.MaxBatchSize, cfg.MaxBatchTokens, tc.seqs, tc.tokens)
		}
	}
}
