package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/weights"
)

// tinyOddVariant copies tiny-odd into a temporary directory with fields of
// config.json set and, for one label, only the first row of its classifier.
func tinyOddVariant(t *testing.T, set map[string]any, oneLabel bool) string {
	t.Helper()
	src := filepath.Join("..", "testdata", "models", "tiny-odd")
	dir := t.TempDir()
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "config.json" {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			for k, v := range set {
				if v == nil {
					delete(m, k)
				} else {
					m[k] = v
				}
			}
			if data, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if oneLabel {
		f, err := weights.Open(filepath.Join(src, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		var ts []weights.WriteTensor
		for _, n := range f.Names() {
			tt, _ := f.Tensor(n)
			w := weights.WriteTensor{Name: n, DType: "F32", Shape: append([]int(nil), tt.Shape...), Data: append([]float32(nil), tt.Data...)}
			switch n {
			case "classifier.weight":
				w.Shape[0], w.Data = 1, w.Data[:w.Shape[1]]
			case "classifier.bias":
				w.Shape[0], w.Data = 1, w.Data[:1]
			}
			ts = append(ts, w)
		}
		f.Close()
		if err := weights.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestProblemTypes serves a multi-label and a one-label regression variant
// of tiny-odd: the JSON says which, and the scores are sigmoids of the
// library's logits and the raw logit.
func TestProblemTypes(t *testing.T) {
	t.Parallel()
	texts := []string{"a gloriously odd little film", "what a waste of time"}
	for _, c := range []struct {
		name, problemType string
		set               map[string]any
		oneLabel          bool
		score             func(logit float64) float64
	}{
		{"multi-label", "multi_label_classification", map[string]any{"problem_type": "multi_label_classification"}, false,
			func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
		{"regression", "regression", map[string]any{"id2label": nil, "label2id": nil, "num_labels": 1}, true,
			func(x float64) float64 { return x }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := tinyOddVariant(t, c.set, c.oneLabel)
			clf, err := distilbert.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer clf.Close()
			want, err := clf.Predict(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			p := start(t, nil, "--model", dir)
			r := p.get("/info")
			var info struct {
				ProblemType string `json:"problem_type"`
				Config      struct {
					ProblemType string `json:"problem_type"`
				}
			}
			r.json(t, &info)
			if info.ProblemType != c.problemType || info.Config.ProblemType != c.problemType {
				t.Errorf("/info: %s", r.body)
			}
			for i, text := range texts {
				r := p.post("/predict", map[string]string{"text": text})
				var got struct {
					prediction
					ProblemType string `json:"problem_type"`
				}
				r.json(t, &got)
				if r.status != 200 || got.ProblemType != c.problemType || !bytes.HasSuffix(r.body, []byte(`"problem_type":"`+c.problemType+`"}`)) {
					t.Fatalf("/predict: %d %s", r.status, r.body)
				}
				top := 0 // both scores grow with the logit
				for j, l := range clf.Labels() {
					s := c.score(float64(want[i].Logits[j]))
					if d := math.Abs(got.Scores[l] - s); d > 1e-6 {
						t.Errorf("%q %s: score %g, want %g from logit %g", text, l, got.Scores[l], s, want[i].Logits[j])
					}
					if want[i].Logits[j] > want[i].Logits[top] {
						top = j
					}
				}
				if best := clf.Labels()[top]; got.Label != best || got.Score != got.Scores[best] {
					t.Errorf("%q: label %s score %g, want the top label %s (%v)", text, got.Label, got.Score, best, got.Scores)
				}
			}
		})
	}
}
