package distilbert

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distilbert-go/distilbert/kernels"
	"github.com/distilbert-go/distilbert/weights"
)

// tinyOddTensors reads tiny-odd's tensors as writable copies.
func tinyOddTensors(t *testing.T) []weights.WriteTensor {
	t.Helper()
	f, err := weights.Open(filepath.Join(tinyOddDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []weights.WriteTensor
	for _, n := range f.Names() {
		tt, _ := f.Tensor(n)
		out = append(out, weights.WriteTensor{Name: n, DType: "F32", Shape: append([]int(nil), tt.Shape...), Data: append([]float32(nil), tt.Data...)})
	}
	return out
}

// modelDir writes a checkpoint directory: tiny-odd's tokenizer files, the
// given config.json (tiny-odd's when empty) and tensors.
func modelDir(t *testing.T, config string, tensors []weights.WriteTensor) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"} {
		data, err := os.ReadFile(filepath.Join(tinyOddDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "config.json" && config != "" {
			data = []byte(config)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if tensors != nil {
		if err := weights.WriteFile(filepath.Join(dir, "model.safetensors"), tensors, nil); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func tinyOddLogits(t *testing.T, dir string) []float32 {
	t.Helper()
	c, err := Load(dir, WithKernels(kernels.Generic()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.Predict(context.Background(), []string{"a gloriously odd little film"})
	if err != nil {
		t.Fatal(err)
	}
	return p[0].Logits
}

// Checkpoints saved from the base model have no "distilbert." prefix on
// encoder keys; both layouts must load to the same logits.
func TestUnprefixedKeyLayout(t *testing.T) {
	ts := tinyOddTensors(t)
	for i := range ts {
		ts[i].Name = strings.TrimPrefix(ts[i].Name, "distilbert.")
	}
	want := tinyOddLogits(t, tinyOddDir)
	got := tinyOddLogits(t, modelDir(t, "", ts))
	if maxDiff(got, float64s(want)) != 0 {
		t.Fatalf("unprefixed layout: %v, want %v", got, want)
	}
}

// F16/BF16 checkpoints are widened at load and must stay close to F32.
func TestHalfPrecisionCheckpoint(t *testing.T) {
	want := tinyOddLogits(t, tinyOddDir)
	for _, dt := range []string{"F16", "BF16"} {
		ts := tinyOddTensors(t)
		for i := range ts {
			ts[i].DType = dt
		}
		got := tinyOddLogits(t, modelDir(t, "", ts))
		if d := maxDiff(got, float64s(want)); d > 0.05 {
			t.Errorf("%s: logits %v, want ≈ %v", dt, got, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	base := tinyOddTensors(t)
	edit := func(f func([]weights.WriteTensor) []weights.WriteTensor) []weights.WriteTensor {
		ts := make([]weights.WriteTensor, len(base))
		for i, tt := range base {
			tt.Shape = append([]int(nil), tt.Shape...)
			tt.Data = append([]float32(nil), tt.Data...)
			ts[i] = tt
		}
		return f(ts)
	}
	drop := func(name string) func([]weights.WriteTensor) []weights.WriteTensor {
		return func(ts []weights.WriteTensor) []weights.WriteTensor {
			out := ts[:0]
			for _, tt := range ts {
				if tt.Name != name {
					out = append(out, tt)
				}
			}
			return out
		}
	}
	cfg, err := os.ReadFile(filepath.Join(tinyOddDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		config  string
		tensors []weights.WriteTensor
		want    []string // every fragment must be in the error
	}{
		{"missing tensors reported together", "", edit(func(ts []weights.WriteTensor) []weights.WriteTensor {
			return drop("classifier.bias")(drop("distilbert.transformer.layer.1.ffn.lin1.weight")(ts))
		}), []string{"missing tensors", "classifier.bias", "distilbert.transformer.layer.1.ffn.lin1.weight"}},
		{"mismatched shape", "", edit(func(ts []weights.WriteTensor) []weights.WriteTensor {
			for i := range ts {
				if ts[i].Name == "distilbert.transformer.layer.0.ffn.lin1.weight" {
					ts[i].Shape = []int{48, 100}
				}
			}
			return ts
		}), []string{"mismatched", "layer.0.ffn.lin1.weight has shape [48 100], want [100 48]"}},
		{"unexpected tensor", "", edit(func(ts []weights.WriteTensor) []weights.WriteTensor {
			return append(ts, weights.WriteTensor{Name: "vocab_projector.bias", DType: "F32", Shape: []int{2}, Data: []float32{1, 2}})
		}), []string{"unexpected tensors: vocab_projector.bias"}},
		{"NaN weight", "", edit(func(ts []weights.WriteTensor) []weights.WriteTensor {
			for i := range ts {
				if ts[i].Name == "pre_classifier.weight" {
					ts[i].Data[7] = float32(math.NaN())
				}
			}
			return ts
		}), []string{"pre_classifier.weight: element 7 is NaN"}},
		{"config with more labels than the classifier", strings.Replace(string(cfg), `"2": "pos"`, `"2": "pos", "3": "meh"`, 1), base,
			[]string{"classifier.weight has shape [3 48], want [4 48]"}},
		{"broken config.json", `{"dim": 48,`, base, []string{"config.json", "invalid JSON"}},
		{"config wrong type", `{"dim": "48"}`, base, []string{"config.json", "invalid JSON"}},
		{"unsupported activation", strings.Replace(string(cfg), `"gelu"`, `"silu"`, 1), base, []string{`activation "silu" is not supported`}},
		{"heads do not divide dim", strings.Replace(string(cfg), `"n_heads": 3`, `"n_heads": 5`, 1), base, []string{"dim 48 is not divisible by n_heads 5"}},
		{"bad id2label", strings.Replace(string(cfg), `"2": "pos"`, `"7": "pos"`, 1), base, []string{"id2label"}},
		{"other model type", strings.Replace(string(cfg), `"model_type": "distilbert"`, `"model_type": "bert"`, 1), base, []string{`model_type "bert"`}},
		{"no weights", "", nil, []string{"no model.safetensors"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(modelDir(t, tc.config, tc.tensors), WithKernels(kernels.Generic()))
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("missing directory loaded")
	}
}

// Corrupt safetensors files must surface the reader's error, not panic.
func TestLoadCorruptWeights(t *testing.T) {
	dir := modelDir(t, "", tinyOddTensors(t))
	path := filepath.Join(dir, "model.safetensors")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 7, 8, 100, len(data) / 2, len(data) - 1} {
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir, WithKernels(kernels.Generic())); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
			t.Errorf("truncated to %d bytes: error %v", n, err)
		}
	}
}

func TestForwardRejectsBadInput(t *testing.T) {
	c := loadTinyOdd(t, kernels.Generic())
	m := cpuModel(c)
	out := make([]float32, 8)
	for name, b := range map[string][]Sequence{
		"empty sequence":   {{IDs: nil}},
		"id out of vocab":  {{IDs: []int32{101, 30522, 102}}},
		"negative id":      {{IDs: []int32{101, -1, 102}}},
		"too long":         {{IDs: make([]int32, 65)}},
		"mask length":      {{IDs: []int32{101, 102}, Mask: []bool{true}}},
		"logits too small": {{IDs: []int32{101, 102}}, {IDs: []int32{101, 102}}, {IDs: []int32{101, 102}}},
	} {
		if err := m.Forward(b, out); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A checkpoint without tokenizer.json (older exports) tokenizes from
// vocab.txt + tokenizer_config.json, with the same ids and logits.
func TestLoadVocabOnlyCheckpoint(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"} {
		data, err := os.ReadFile(filepath.Join(tinyOddDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := readJSONL[goldenCase](t, "tiny-odd.jsonl")
	c, err := Load(dir, WithKernels(kernels.Generic()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkGoldens(t, c, cases)
}

// sinusoidal_pos_embds checkpoints may omit the position table; it is then
// built as Hugging Face's create_sinusoidal_embeddings does:
// PE[pos, 2i] = sin(pos/10000^(2i/d)), PE[pos, 2i+1] = cos(pos/10000^(2i/d)).
func TestSinusoidalPositions(t *testing.T) {
	const positions, dim = 64, 48
	pe := sinusoidalEmbeddings(positions, dim)
	for _, pos := range []int{0, 1, 7, 63} {
		for i := 0; i < dim/2; i++ {
			angle := float64(pos) / math.Pow(10000, float64(2*i)/dim)
			if got, want := pe[pos*dim+2*i], math.Sin(angle); math.Abs(float64(got)-want) > 1e-6 {
				t.Fatalf("PE[%d,%d] = %g, want %g", pos, 2*i, got, want)
			}
			if got, want := pe[pos*dim+2*i+1], math.Cos(angle); math.Abs(float64(got)-want) > 1e-6 {
				t.Fatalf("PE[%d,%d] = %g, want %g", pos, 2*i+1, got, want)
			}
		}
	}
	cfg, err := os.ReadFile(filepath.Join(tinyOddDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	ts := tinyOddTensors(t)
	kept := ts[:0]
	for _, tt := range ts {
		if tt.Name != "distilbert.embeddings.position_embeddings.weight" {
			kept = append(kept, tt)
		}
	}
	// Without the flag, a missing table is an error; with it, the model loads.
	if _, err := Load(modelDir(t, "", kept), WithKernels(kernels.Generic())); err == nil || !strings.Contains(err.Error(), "position_embeddings") {
		t.Fatalf("missing position table accepted without sinusoidal_pos_embds: %v", err)
	}
	sin := strings.Replace(string(cfg), `"sinusoidal_pos_embds": false`, `"sinusoidal_pos_embds": true`, 1)
	got := tinyOddLogits(t, modelDir(t, sin, kept))
	for _, v := range got {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("logits %v", got)
		}
	}
}
