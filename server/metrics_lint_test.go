package server_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// needTool finds a command the repo's scripts install (make test runs
// scripts/install-test-deps.sh first); a bare `go test` without it skips.
func needTool(t *testing.T, name, dep string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: run scripts/install-test-deps.sh %s (make test does)", name, dep)
	}
	return p
}

// TestMetricsExposition checks a live /metrics after some traffic: every
// family has real HELP text and a TYPE before its first sample, and
// Prometheus's own linter (promtool check metrics) finds nothing.
func TestMetricsExposition(t *testing.T) {
	p := start(t, nil, "--cache-size", "8")
	for _, text := range []string{"a great film", "a dull film", "a great film"} {
		if r := p.post("/predict", map[string]string{"text": text}); r.status != 200 {
			t.Fatalf("/predict: %d %s", r.status, r.body)
		}
	}
	p.post("/predict/batch", map[string][]string{"texts": {"good", "bad"}})
	p.get("/nowhere")
	r := p.get("/metrics")
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	help, typ := map[string]string{}, map[string]string{}
	families := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, text, _ := strings.Cut(f, " ")
			help[name] = text
			continue
		}
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(f, " ")
			typ[name] = kind
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		family := name
		if _, ok := typ[name]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && typ[base] != "" {
					family = base
				}
			}
		}
		families[family] = true
		if len(help[family]) < 10 || typ[family] == "" || typ[family] == "untyped" {
			t.Errorf("%s: sample before a real HELP (%q) and TYPE (%q)", name, help[family], typ[family])
		}
	}
	for _, want := range []string{
		"distilbert_http_requests_total", "distilbert_http_request_duration_seconds",
		"distilbert_predictions_total", "distilbert_cache_hits_total", "distilbert_build_info",
		"distilbert_device_memory_bytes", "process_resident_memory_bytes", "go_gc_duration_seconds",
	} {
		if !families[want] {
			t.Errorf("family %s missing from /metrics", want)
		}
	}

	promtool := needTool(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(r.body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
