package distilbert

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distilbert-go/distilbert/kernels"
	"github.com/distilbert-go/distilbert/weights"
)

var tinyPTDir = filepath.Join("..", "testdata", "models", "tiny-pt")

// tinyPTModel returns a model directory holding the tiny-pt variant's
// pytorch_model.bin ("" for tiny-pt itself, or legacy, f16, bf16, views)
// beside tiny-pt's config and tokenizer, which the variants share.
func tinyPTModel(t testing.TB, variant string) string {
	t.Helper()
	if variant == "" {
		return tinyPTDir
	}
	return modelDirWith(t, "pytorch_model.bin", filepath.Join(tinyPTDir, "..", "tiny-pt-variants", variant, "pytorch_model.bin"))
}

// modelDirWith copies tiny-pt's config and tokenizer files into a fresh
// directory and adds the weights file src under the name weightsName.
func modelDirWith(t testing.TB, weightsName, src string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"} {
		copyFile(t, filepath.Join(tinyPTDir, name), filepath.Join(dir, name))
	}
	copyFile(t, src, filepath.Join(dir, weightsName))
	return dir
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTinyPTGolden: the zip, legacy and views checkpoints give the
// reference outputs on every kernel implementation.
func TestTinyPTGolden(t *testing.T) {
	cases := readJSONL[goldenCase](t, "tiny-pt.jsonl")
	for _, tc := range []struct{ variant, format string }{
		{"", weights.FormatPyTorchZip}, {"legacy", weights.FormatPyTorchLegacy}, {"views", weights.FormatPyTorchZip},
	} {
		dir := tinyPTModel(t, tc.variant)
		name := strings.TrimSuffix("tiny-pt-"+tc.variant, "-")
		t.Run(name, func(t *testing.T) {
			forEachKernels(t, func(t *testing.T, im *kernels.Impl) {
				c, err := Load(dir, WithKernels(im))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if c.WeightsFormat() != tc.format || c.Tokenizer().MaxLen() != 32 {
					t.Fatalf("format %s, max length %d", c.WeightsFormat(), c.Tokenizer().MaxLen())
				}
				checkGoldens(t, c, cases)
			})
		})
	}
}

// TestTinyPTHalfMatchesSafetensors: the F16 and BF16 checkpoints give
// exactly, bit for bit, what the F32 weights give once the project's own
// writer has stored them as F16 / BF16 safetensors.
func TestTinyPTHalfMatchesSafetensors(t *testing.T) {
	cases := readJSONL[goldenCase](t, "tiny-pt.jsonl")
	ref, err := weights.OpenPyTorch(filepath.Join(tinyPTDir, "pytorch_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, dtype := range []string{"F16", "BF16"} {
		var ts []weights.WriteTensor
		for _, n := range ref.Names() {
			tt, _ := ref.Tensor(n)
			ts = append(ts, weights.WriteTensor{Name: n, DType: dtype, Shape: tt.Shape, Data: tt.Data})
		}
		st := filepath.Join(t.TempDir(), "model.safetensors")
		if err := weights.WriteFile(st, ts, nil); err != nil {
			t.Fatal(err)
		}
		stDir := modelDirWith(t, "model.safetensors", st)
		ptDir := tinyPTModel(t, strings.ToLower(dtype))
		t.Run(dtype, func(t *testing.T) {
			cases := subsetUnderRace(t, cases, 3)
			forEachKernels(t, func(t *testing.T, im *kernels.Impl) {
				want := predictCases(t, loadDir(t, stDir, im), cases)
				pt := loadDir(t, ptDir, im)
				if pt.WeightsFormat() != weights.FormatPyTorchZip {
					t.Errorf("format %s", pt.WeightsFormat())
				}
				got := predictCases(t, pt, cases)
				var worst float64
				for i, g := range cases {
					for j, v := range got[i].Logits {
						if math.Float32bits(v) != math.Float32bits(want[i].Logits[j]) {
							t.Fatalf("%s: logits %v, from %s safetensors %v", g.Case, got[i].Logits, dtype, want[i].Logits)
						}
					}
					worst = math.Max(worst, maxDiff(got[i].Logits, g.Logits))
				}
				// Rounded weights move the logits a little off the F32 reference.
				t.Logf("%d cases identical; max |logit diff| to the F32 golden %.3g", len(cases), worst)
			})
		})
	}
}

func loadDir(t testing.TB, dir string, im *kernels.Impl) *Classifier {
	t.Helper()
	c, err := Load(dir, WithKernels(im))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestLoadRefusesPicklePayload: a pytorch_model.bin that would run code
// under Python fails to load, naming the global; model.safetensors wins
// when both are present; a directory with neither says which it looked for.
func TestLoadRefusesPicklePayload(t *testing.T) {
	dir := modelDirWith(t, "pytorch_model.bin", filepath.Join("..", "testdata", "pickle", "evil-zip.bin"))
	_, err := Load(dir)
	if !errors.Is(err, weights.ErrGlobalNotAllowed) || !strings.Contains(err.Error(), "posix.system") {
		t.Errorf("evil checkpoint: %v", err)
	}
	st := filepath.Join(t.TempDir(), "model.safetensors")
	ref, err := weights.OpenPyTorch(filepath.Join(tinyPTDir, "pytorch_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	var ts []weights.WriteTensor
	for _, n := range ref.Names() {
		tt, _ := ref.Tensor(n)
		ts = append(ts, weights.WriteTensor{Name: n, DType: "F32", Shape: tt.Shape, Data: tt.Data})
	}
	if err := weights.WriteFile(st, ts, nil); err != nil {
		t.Fatal(err)
	}
	copyFile(t, st, filepath.Join(dir, "model.safetensors"))
	c, err := Load(dir)
	if err != nil || c.WeightsFormat() != weights.FormatSafetensors {
		t.Fatalf("both files: %v", err)
	}
	c.Close()
	os.Remove(filepath.Join(dir, "pytorch_model.bin"))
	os.Remove(filepath.Join(dir, "model.safetensors"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no model.safetensors or pytorch_model.bin") {
		t.Errorf("no weights: %v", err)
	}
}
