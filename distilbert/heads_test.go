package distilbert

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distilbert-go/distilbert/kernels"
	"github.com/distilbert-go/distilbert/weights"
)

var headTexts = []string{"a gloriously odd little film", "what a waste of time", "", "the best movie of the year!"}

// tinyOddConfig returns tiny-odd's config.json with fields set (nil deletes).
func tinyOddConfig(t *testing.T, set map[string]any) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tinyOddDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
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
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// firstLabelOnly keeps the first row of tiny-odd's classifier: a one-label
// head whose output is tiny-odd's first logit.
func firstLabelOnly(t *testing.T) []weights.WriteTensor {
	t.Helper()
	ts := tinyOddTensors(t)
	for i := range ts {
		switch ts[i].Name {
		case "classifier.weight":
			ts[i].Shape = []int{1, ts[i].Shape[1]}
			ts[i].Data = ts[i].Data[:ts[i].Shape[1]]
		case "classifier.bias":
			ts[i].Shape = []int{1}
			ts[i].Data = ts[i].Data[:1]
		}
	}
	return ts
}

func predictDir(t *testing.T, dir string) []Prediction {
	t.Helper()
	c, err := Load(dir, WithKernels(kernels.Generic()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	preds, err := c.Predict(context.Background(), headTexts)
	if err != nil {
		t.Fatal(err)
	}
	return preds
}

// checkTop checks that Label and Score are the highest of Scores.
func checkTop(t *testing.T, p Prediction) {
	t.Helper()
	for l, s := range p.Scores {
		if s > p.Score || (l == p.Label && s != p.Score) {
			t.Errorf("label %s score %g, but %s scores %g", p.Label, p.Score, l, s)
		}
	}
}

func TestSingleLabelIsSoftmax(t *testing.T) {
	base := predictDir(t, tinyOddDir)
	explicit := predictDir(t, modelDir(t, tinyOddConfig(t, map[string]any{"problem_type": "single_label_classification"}), tinyOddTensors(t)))
	for i, p := range base {
		if p.ProblemType != SingleLabel || explicit[i].ProblemType != SingleLabel {
			t.Fatalf("problem types %q, %q", p.ProblemType, explicit[i].ProblemType)
		}
		var sum float64
		mx := math.Inf(-1)
		for _, v := range p.Logits {
			mx = math.Max(mx, float64(v))
		}
		for _, v := range p.Logits {
			sum += math.Exp(float64(v) - mx)
		}
		for j, l := range []string{"neg", "neu", "pos"} {
			want := math.Exp(float64(p.Logits[j])-mx) / sum
			if d := math.Abs(float64(p.Scores[l]) - want); d > 1e-7 {
				t.Errorf("%q %s: %g, softmax %g", headTexts[i], l, p.Scores[l], want)
			}
			if explicit[i].Scores[l] != p.Scores[l] {
				t.Errorf("%q %s: explicit single_label_classification %g, default %g", headTexts[i], l, explicit[i].Scores[l], p.Scores[l])
			}
		}
		checkTop(t, p)
		// Today's JSON, a contract: no problem_type for single-label models.
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(js), "problem_type") {
			t.Errorf("single-label JSON mentions problem_type: %s", js)
		}
	}
}

func TestMultiLabelIsSigmoid(t *testing.T) {
	base := predictDir(t, tinyOddDir)
	got := predictDir(t, modelDir(t, tinyOddConfig(t, map[string]any{"problem_type": "multi_label_classification"}), tinyOddTensors(t)))
	sums := 0.0
	for i, p := range got {
		if p.ProblemType != MultiLabel {
			t.Fatalf("problem type %q", p.ProblemType)
		}
		for j, l := range []string{"neg", "neu", "pos"} {
			if p.Logits[j] != base[i].Logits[j] {
				t.Fatalf("%q: logits %v, tiny-odd %v", headTexts[i], p.Logits, base[i].Logits)
			}
			want := 1 / (1 + math.Exp(-float64(p.Logits[j])))
			if d := math.Abs(float64(p.Scores[l]) - want); d > 1e-7 {
				t.Errorf("%q %s: %g, sigmoid(%g) = %g", headTexts[i], l, p.Scores[l], p.Logits[j], want)
			}
			sums += float64(p.Scores[l])
		}
		checkTop(t, p)
		if p.Label != base[i].Label {
			t.Errorf("%q: top label %s, softmax's %s", headTexts[i], p.Label, base[i].Label)
		}
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(js), `"problem_type":"multi_label_classification"`) {
			t.Errorf("multi-label JSON: %s", js)
		}
	}
	if math.Abs(sums-float64(len(got))) < 0.01 {
		t.Errorf("sigmoid scores sum to 1 per text (%g over %d texts): a softmax?", sums, len(got))
	}
}

func TestRegressionIsRaw(t *testing.T) {
	base := predictDir(t, tinyOddDir)
	oneLabel := tinyOddConfig(t, map[string]any{"id2label": nil, "label2id": nil, "num_labels": 1})
	for name, config := range map[string]string{
		"num_labels 1":            oneLabel,
		"problem_type regression": tinyOddConfig(t, map[string]any{"id2label": map[string]string{"0": "stars"}, "label2id": nil, "problem_type": "regression"}),
	} {
		got := predictDir(t, modelDir(t, config, firstLabelOnly(t)))
		for i, p := range got {
			if p.ProblemType != Regression || len(p.Logits) != 1 || len(p.Scores) != 1 {
				t.Fatalf("%s: %+v", name, p)
			}
			// The one output is tiny-odd's first logit, unchanged.
			if p.Logits[0] != base[i].Logits[0] || p.Score != p.Logits[0] || p.Scores[p.Label] != p.Logits[0] {
				t.Errorf("%s %q: score %g, scores %v, logit %g (tiny-odd's first %g)",
					name, headTexts[i], p.Score, p.Scores, p.Logits[0], base[i].Logits[0])
			}
			js, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(js), `"problem_type":"regression"`) {
				t.Errorf("%s JSON: %s", name, js)
			}
		}
	}
	// Several regression outputs: each raw, the label the largest.
	got := predictDir(t, modelDir(t, tinyOddConfig(t, map[string]any{"problem_type": "regression"}), tinyOddTensors(t)))
	for i, p := range got {
		for j, l := range []string{"neg", "neu", "pos"} {
			if p.Scores[l] != base[i].Logits[j] {
				t.Errorf("%q %s: %g, logit %g", headTexts[i], l, p.Scores[l], base[i].Logits[j])
			}
		}
		checkTop(t, p)
	}
}

func TestParseProblemType(t *testing.T) {
	cfg := func(extra string) string {
		return `{"dim": 48, "n_heads": 3, "n_layers": 1, "hidden_dim": 8, "vocab_size": 10` + extra + `}`
	}
	for _, c := range []struct {
		extra string
		want  ProblemType
	}{
		{``, SingleLabel},
		{`, "problem_type": null`, SingleLabel},
		{`, "num_labels": 3`, SingleLabel},
		{`, "num_labels": 1`, Regression},
		{`, "num_labels": 1, "problem_type": "single_label_classification"`, SingleLabel},
		{`, "num_labels": 1, "problem_type": "multi_label_classification"`, MultiLabel},
		{`, "problem_type": "multi_label_classification"`, MultiLabel},
		{`, "problem_type": "regression"`, Regression},
	} {
		c0, err := ParseConfig("config.json", []byte(cfg(c.extra)))
		if err != nil {
			t.Errorf("%s: %v", c.extra, err)
			continue
		}
		if c0.ProblemType != c.want {
			t.Errorf("%s: %q, want %q", c.extra, c0.ProblemType, c.want)
		}
	}
	for _, bad := range []string{`, "problem_type": "multi_label"`, `, "problem_type": 1`, `, "problem_type": "Regression"`} {
		_, err := ParseConfig("config.json", []byte(cfg(bad)))
		if err == nil || !strings.Contains(err.Error(), "problem_type") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
	if (&Config{Dim: 8, NHeads: 1, NLayers: 1, HiddenDim: 8, MaxPositionEmbeddings: 8, VocabSize: 8, Activation: "gelu",
		LayerNormEps: 1e-12, ModelType: "distilbert", Labels: []string{"a"}, ProblemType: "softmax"}).Validate() == nil {
		t.Error("Validate accepts problem_type softmax")
	}
	if SingleLabel.String() != "single_label_classification" || MultiLabel.String() != "multi_label_classification" {
		t.Error("String names")
	}
}

func TestSigmoidExtremes(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{0, 0.5}, {1000, 1}, {-1000, 0}, {math.Inf(1), 1}, {math.Inf(-1), 0}, {-40, math.Exp(-40) / (1 + math.Exp(-40))},
	} {
		if got := sigmoid64(c.x); got != c.want {
			t.Errorf("sigmoid(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if !math.IsNaN(sigmoid64(math.NaN())) {
		t.Error("sigmoid(NaN) is a number")
	}
}
