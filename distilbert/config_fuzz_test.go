package distilbert

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig checks that any config.json either fails with an error or
// yields a configuration that validates, with labels and a known head.
func FuzzParseConfig(f *testing.F) {
	for _, dir := range []string{tinyOddDir, filepath.Join("defaultmodel", "sst2-mini")} {
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{}`, `{"num_labels": 1}`, `{"problem_type": "regression", "id2label": {"0": "x"}}`,
		`{"problem_type": "multi_label_classification", "num_labels": 4}`, `{"problem_type": "nope"}`,
		`{"id2label": {"0": "a", "1": "b"}, "label2id": {"a": 0, "b": 1}, "problem_type": null}`,
		`{"dim": 0}`, `{"n_heads": 7, "dim": 48}`, `{"id2label": {"x": "a"}}`, `{"num_labels": -1}`, `[]`, `{"dim": 1e99}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("config.json", data)
		if err != nil {
			if c != nil {
				t.Fatal("a config with an error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed but invalid: %v", err)
		}
		if len(c.Labels) == 0 || c.HeadDim() <= 0 {
			t.Fatalf("no labels or head dim: %+v", c)
		}
		if p := c.ProblemType; p != SingleLabel && p != MultiLabel && p != Regression {
			t.Fatalf("problem type %q", p)
		}
	})
}
