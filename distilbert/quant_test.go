package distilbert

import (
	"math"
	"testing"

	"github.com/distilbert-go/distilbert/kernels"
)

// quantStats predicts the golden texts with c and compares with the float32
// reference: labels that agree, accuracy, mean and max |logit diff|.
func quantStats(t *testing.T, c *Classifier, cases []goldenCase) (agree, correct int, mean, worst float64) {
	t.Helper()
	preds := predictCases(t, c, cases)
	for i, g := range cases {
		p := preds[i]
		d := maxDiff(p.Logits, g.Logits)
		worst = max(worst, d)
		mean += d / float64(len(cases))
		if p.Label == g.PredLabel {
			agree++
		}
		if c.Labels()[g.Label] == p.Label {
			correct++
		}
	}
	if math.IsNaN(mean) {
		worst = math.Inf(1)
	}
	return agree, correct, mean, worst
}

// Int8 quantization moves the logits, so the goldens check what matters
// to users: the SST-2 dev accuracy stays that of float32 within half a
// point, labels agree, logits stay close (measured: all 872 labels agree,
// same accuracy, |diff| mean 0.003, max 0.03).
func TestInt8SST2Dev(t *testing.T) {
	cases := readJSONL[goldenCase](t, "sst2-mini-dev.jsonl")
	var summary struct {
		Correct int `json:"correct"`
	}
	readJSON(t, "sst2-mini-summary.json", &summary)
	forEachKernels(t, func(t *testing.T, im *kernels.Impl) {
		c, err := LoadEmbedded(WithKernels(im), WithQuantization(QuantInt8))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if q := c.Engine().Info().Quantization; q != QuantInt8 {
			t.Fatalf("quantization %q", q)
		}
		subset := subsetUnderRace(t, cases, 16)
		if testing.Short() && !raceEnabled {
			subset = subset[:0:0]
			for i := 0; i < len(cases); i += 8 {
				subset = append(subset, cases[i])
			}
		}
		n := len(subset)
		agree, correct, mean, worst := quantStats(t, c, subset)
		t.Logf("%d sentences: accuracy %d (float32 %d of 872), labels agree %d, |logit diff| mean %.3g max %.3g",
			n, correct, summary.Correct, agree, mean, worst)
		if mean > 0.02 || worst > 0.15 {
			t.Errorf("logits moved too far: |diff| mean %.3g max %.3g", mean, worst)
		}
		if float64(agree) < 0.99*float64(n) {
			t.Errorf("labels agree on %d of %d", agree, n)
		}
		if n == len(cases) && abs(correct-summary.Correct) > 4 {
			t.Errorf("accuracy %d/872, float32 %d/872", correct, summary.Correct)
		}
	})
}

// tiny-odd's shapes (dim 48, hidden 100, 3 labels) exercise every tail of
// the int8 path. Its random weights (logits within ±2.1) take quantization
// less well than a trained model (measured: |diff| mean 0.08, max 0.2);
// a tail or layout bug would give errors of the logits' own size.
func TestInt8TinyOdd(t *testing.T) {
	cases := readJSONL[goldenCase](t, "tiny-odd.jsonl")
	forEachKernels(t, func(t *testing.T, im *kernels.Impl) {
		c, err := Load(tinyOddDir, WithKernels(im), WithQuantization(QuantInt8))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		agree, _, mean, worst := quantStats(t, c, cases)
		t.Logf("%d texts: labels agree %d, |logit diff| mean %.3g max %.3g", len(cases), agree, mean, worst)
		if mean > 0.15 || worst > 0.4 {
			t.Errorf("logits moved too far: |diff| mean %.3g max %.3g", mean, worst)
		}
	})
}

func TestParseQuantization(t *testing.T) {
	for in, want := range map[string]Quantization{"": QuantNone, "none": QuantNone, "fp32": QuantNone, "int8": QuantInt8} {
		if got, err := ParseQuantization(in); err != nil || got != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	if _, err := ParseQuantization("int4"); err == nil {
		t.Error("int4 accepted")
	}
	if _, err := LoadEmbedded(WithQuantization("fp8")); err == nil {
		t.Error("fp8 accepted by LoadEmbedded")
	}
}

func abs(x int) int { return max(x, -x) }
