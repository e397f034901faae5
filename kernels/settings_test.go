package kernels

import (
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestSettingsFromEnv(t *testing.T) {
	s, err := SettingsFromEnv(env(nil))
	if err != nil || s != DefaultSettings() {
		t.Fatalf("no variables: %+v, %v; want the defaults", s, err)
	}
	s, err = SettingsFromEnv(env(map[string]string{EnvVar: " generic ", Int8EnvVar: "go", SpinEnvVar: "0", HugePagesEnvVar: "off"}))
	if err != nil || s.Kernels != "generic" || s.Int8Kernels != "go" || s.Spin != 0 || s.HugePages {
		t.Fatalf("got %+v, %v", s, err)
	}
	if s, _ := SettingsFromEnv(env(map[string]string{SpinEnvVar: "250us"})); s.Spin != 250*time.Microsecond {
		t.Fatalf("spin 250us read as %v", s.Spin)
	}
	for name, bad := range map[string]string{SpinEnvVar: "2s", HugePagesEnvVar: "maybe"} {
		if _, err := SettingsFromEnv(env(map[string]string{name: bad})); err == nil || !strings.Contains(err.Error(), name+"="+bad) {
			t.Errorf("%s=%s: error %v, want one naming the variable", name, bad, err)
		}
	}
}

func TestSettingsSelect(t *testing.T) {
	im, err := DefaultSettings().Select()
	if err != nil || im != Best() || !im.Supported() {
		t.Fatalf("default: %v, %v; want the best supported implementation", im, err)
	}
	if g, err := (Settings{Kernels: "generic"}).Select(); err != nil || g != Generic() {
		t.Fatalf("generic: %v", err)
	}
	for _, bad := range []Settings{{Kernels: "no-such-kernels"}, {Int8Kernels: "no-such-int8"}} {
		if _, err := bad.Select(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	for _, im := range All() {
		if _, err := (Settings{Kernels: im.Name()}).Select(); (err == nil) != im.Supported() {
			t.Errorf("%s: supported %v but select error %v", im.Name(), im.Supported(), err)
		}
	}
}

// Every int8 kernel this CPU runs can be chosen for every implementation
// (DISTILBERT_INT8_KERNELS), without changing the registered Impl, and
// gives the portable kernel's results bit for bit.
func TestInt8KernelChoice(t *testing.T) {
	names := Int8Kernels()
	if len(names) == 0 || names[len(names)-1] != "go" {
		t.Fatalf("int8 kernels %v: the portable one must come last", names)
	}
	const m, in, out = 13, 70, 37
	x, w, bias := testMatrix(m*in, 1), testMatrix(out*in, 2), testMatrix(out, 3)
	qw, err := QuantizeMatrix(w, out, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range Available() {
		// The activation is the float32 implementation's own.
		ref, err := im.WithInt8Kernel("go")
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, m*out)
		ref.Linear(want, x, m, qw, bias, ActGELU)
		before := im.Int8Kernel()
		for _, name := range names {
			v, err := (Settings{Kernels: im.Name(), Int8Kernels: name}).Select()
			if err != nil {
				t.Fatalf("%s + %s: %v", im.Name(), name, err)
			}
			if v.Int8Kernel() != name || v.Name() != im.Name() {
				t.Fatalf("%s + %s: got %s + %s", im.Name(), name, v.Name(), v.Int8Kernel())
			}
			got := make([]float32, m*out)
			v.Linear(got, x, m, qw, bias, ActGELU)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s + %s: element %d = %g, the portable kernel gives %g", im.Name(), name, i, got[i], want[i])
				}
			}
		}
		if im.Int8Kernel() != before {
			t.Fatalf("%s: WithInt8Kernel changed the registered Impl's kernel", im.Name())
		}
	}
}

// testMatrix returns n deterministic values in about ±1.
func testMatrix(n int, seed uint32) []float32 {
	out := make([]float32, n)
	state := seed*2654435761 + 1
	for i := range out {
		state = state*1664525 + 1013904223
		out[i] = float32(int32(state>>8)%2000)/1000 - 1
	}
	return out
}
