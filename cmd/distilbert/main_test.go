package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

type predictLine struct {
	Label     string             `json:"label"`
	Score     float64            `json:"score"`
	Scores    map[string]float64 `json:"scores"`
	Logits    []float64          `json:"logits"`
	Tokens    int                `json:"tokens"`
	Truncated bool               `json:"truncated"`
	InputIDs  []int              `json:"input_ids"`
}

func decodeLines[T any](t *testing.T, s string) []T {
	t.Helper()
	var out []T
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, v)
	}
	return out
}

func TestPredictArgs(t *testing.T) {
	code, out, errs := runCLI(t, "", "predict", "a charming and often affecting journey", "--ids", "unflinchingly bleak and desperate")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := decodeLines[predictLine](t, out)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out)
	}
	// Labels and ids from the SST-2 goldens (dev sentences 0 and 1).
	if lines[0].Label != "POSITIVE" || lines[1].Label != "NEGATIVE" {
		t.Errorf("labels %s, %s", lines[0].Label, lines[1].Label)
	}
	if got := lines[1].InputIDs; len(got) != 10 || got[0] != 101 || got[1] != 4895 || got[9] != 102 {
		t.Errorf("input_ids %v", got)
	}
	for _, l := range lines {
		if l.Tokens != len(l.InputIDs) || len(l.Logits) != 2 || len(l.Scores) != 2 || l.Scores[l.Label] != l.Score {
			t.Errorf("inconsistent line %+v", l)
		}
	}
	// Without --ids there is no input_ids key.
	_, out, _ = runCLI(t, "", "predict", "good")
	if strings.Contains(out, "input_ids") {
		t.Errorf("input_ids without --ids: %s", out)
	}
}

func TestPredictInputOutputFiles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	outPath := filepath.Join(dir, "out.jsonl")
	var sb strings.Builder
	texts := []string{"great", "", "terrible , awful movie", "Crème brûlée 😀", "ok"}
	for i := 0; i < 300; i++ { // more than one chunk: order must hold across chunks
		b, _ := json.Marshal(map[string]any{"text": texts[i%len(texts)], "id": i})
		sb.Write(b)
		sb.WriteString("\n")
		if i == 10 {
			sb.WriteString("\n") // blank lines are skipped
		}
	}
	if err := os.WriteFile(in, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "", "predict", "--input", in, "--output", outPath, "--ids"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := decodeLines[predictLine](t, string(data))
	if len(lines) != 300 {
		t.Fatalf("%d lines", len(lines))
	}
	for i := 5; i < 300; i++ {
		if lines[i].Label != lines[i%5].Label || lines[i].Tokens != lines[i%5].Tokens {
			t.Fatalf("line %d differs from line %d: order lost", i, i%5)
		}
	}
	// stdin gives the same as --input, also after a byte order mark.
	code, out, _ := runCLI(t, sb.String(), "predict", "--ids")
	if code != 0 || out != string(data) {
		t.Errorf("stdin output differs from --input output")
	}
	code, out, errs := runCLI(t, "\ufeff"+sb.String(), "predict", "--ids")
	if code != 0 || out != string(data) {
		t.Errorf("input after a byte order mark: exit %d, %s", code, errs)
	}
}

func TestTokenize(t *testing.T) {
	code, out, errs := runCLI(t, `{"text": "Hello, world!"}`+"\n", "tokenize")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.TrimSpace(out) != `{"input_ids":[101,7592,1010,2088,999,102]}` {
		t.Errorf("tokenize: %s", out)
	}
}

func TestInspect(t *testing.T) {
	code, out, errs := runCLI(t, "", "inspect")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"sst2-mini", "parameters   11170562", "NEGATIVE, POSITIVE", "kernels", "classifier.weight", "F32"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "", "inspect", "--json", "--model", "../../testdata/models/tiny-odd")
	var in struct {
		Parameters int `json:"parameters"`
		Config     struct {
			Dim    int      `json:"dim"`
			Labels []string `json:"labels"`
		} `json:"config"`
		Tensors []struct{ Name string } `json:"tensors"`
		Kernels string                  `json:"kernels"`
	}
	if err := json.Unmarshal([]byte(out), &in); code != 0 || err != nil {
		t.Fatalf("inspect --json: exit %d, %v\n%s", code, err, out)
	}
	if in.Config.Dim != 48 || len(in.Config.Labels) != 3 || len(in.Tensors) != 40 || in.Kernels == "" {
		t.Errorf("inspect --json: %+v", in)
	}
}

func TestErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"text\": \"ok\"}\n{\"text\": 5}\n"), 0o644)
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{"predict", "--input", bad}, "", 1, "bad.jsonl:2"},
		{[]string{"predict"}, "not json\n", 1, "stdin:1"},
		{[]string{"predict"}, "{\"txt\": \"x\"}\n", 1, `missing "text"`},
		{[]string{"predict", "--model", "/nonexistent"}, "", 1, "model directory"},
		{[]string{"predict", "--bogus"}, "", 2, "flag provided but not defined"},
		{[]string{"predict", "x", "--input", bad}, "", 2, "not both"},
		{[]string{"frobnicate"}, "", 2, "unknown command"},
		{[]string{"inspect", "extra"}, "", 2, "no arguments"},
		{[]string{"predict", "--input", "/nonexistent.jsonl"}, "", 1, "no such file"},
	} {
		code, out, errs := runCLI(t, tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errs, tc.code, tc.want)
		}
		if first := strings.SplitN(errs, "\n", 2)[0]; !strings.HasPrefix(first, "distilbert: ") {
			t.Errorf("%v: stderr does not start with a one-line error: %q", tc.args, errs)
		}
		_ = out
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := newFlagSet("x")
	b := fs.Bool("ids", false, "")
	pos, err := parseInterspersed(fs, []string{"a", "--ids", "b", "--", "--ids", "-"})
	if err != nil || !*b || strings.Join(pos, "|") != "a|b|--ids|-" {
		t.Fatalf("got %q %v %v", pos, *b, err)
	}
}

func TestBenchJSON(t *testing.T) {
	code, out, errs := runCLI(t, "", "bench", "--model", "../../testdata/models/tiny-odd", "--seq", "8,64", "--batch", "1,3",
		"--threads", "1,2", "--min-time", "1ms", "--min-iters", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	type row struct {
		Batch, Seq, Threads int
		Kernels             string
		Quantization        string
		P50                 float64 `json:"p50_ms"`
		P90                 float64 `json:"p90_ms"`
		SeqsPerS            float64 `json:"seqs_per_s"`
		GFLOPS              float64 `json:"gflops"`
		Iters               int     `json:"iters"`
		AllocsPerOp         float64 `json:"allocs_per_op"`
		RSSMiB              float64 `json:"rss_mib"`
	}
	rows := decodeLines[row](t, out)
	if len(rows) != 8 {
		t.Fatalf("%d rows, want 8:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r.Kernels == "" || r.Quantization != "none" || r.P50 <= 0 || r.P90 < r.P50 || r.SeqsPerS <= 0 || r.GFLOPS <= 0 || r.Iters < 2 {
			t.Errorf("implausible row %+v", r)
		}
	}
	if code, _, errs := runCLI(t, "", "bench", "--model", "../../testdata/models/tiny-odd", "--seq", "65"); code != 2 || !strings.Contains(errs, "2..64") {
		t.Errorf("seq past the model's positions: exit %d, %s", code, errs)
	}
}

func TestQuantizeFlag(t *testing.T) {
	text := "a charming and often affecting journey"
	_, out, _ := runCLI(t, "", "predict", text)
	fp32 := decodeLines[predictLine](t, out)
	code, out, errs := runCLI(t, "", "predict", "--quantize", "int8", text)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	q := decodeLines[predictLine](t, out)
	if len(q) != 1 || len(fp32) != 1 || q[0].Label != fp32[0].Label || math.Abs(q[0].Logits[0]-fp32[0].Logits[0]) > 0.1 {
		t.Errorf("int8 %+v, float32 %+v", q, fp32)
	}
	if q[0].Logits[0] == fp32[0].Logits[0] {
		t.Error("int8 logits identical to float32: not quantized?")
	}
	t.Setenv("DISTILBERT_QUANTIZE", "int8")
	code, out, _ = runCLI(t, "", "inspect", "--json")
	var in struct {
		Quantization string
		Int8Kernel   string `json:"int8_kernel"`
	}
	if err := json.Unmarshal([]byte(out), &in); code != 0 || err != nil || in.Quantization != "int8" || in.Int8Kernel == "" {
		t.Errorf("inspect with DISTILBERT_QUANTIZE=int8: exit %d, %v, %+v", code, err, in)
	}
	code, out, _ = runCLI(t, "", "bench", "--quantize", "none", "--seq", "8", "--batch", "1", "--threads", "1", "--min-time", "1ms", "--min-iters", "1", "--json")
	if code != 0 || !strings.Contains(out, `"quantization":"none"`) {
		t.Errorf("bench --quantize none over the environment: exit %d, %s", code, out)
	}
	if code, _, errs := runCLI(t, "", "predict", "--quantize", "int4", "x"); code != 2 || !strings.Contains(errs, "int4") {
		t.Errorf("--quantize int4: exit %d, %s", code, errs)
	}
}

func TestSubcommandHelp(t *testing.T) {
	for cmd, flagName := range map[string]string{"bench": "-cpuprofile", "predict": "-ids", "tokenize": "-input", "inspect": "-json", "serve": "-max-batch-size"} {
		code, out, errOut := runCLI(t, "", cmd, "--help")
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage: distilbert "+cmd) || !strings.Contains(out, flagName) {
			t.Errorf("%s --help: code %d, stderr %q, stdout %q", cmd, code, errOut, out)
		}
		if strings.Count(out, "Usage:") != 1 {
			t.Errorf("%s --help printed usage %d times", cmd, strings.Count(out, "Usage:"))
		}
	}
}
