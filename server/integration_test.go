package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// limitArgs are small limits so that the 413s are cheap to provoke.
var limitArgs = []string{"--max-body-bytes", "16384", "--max-batch-items", "8", "--max-text-chars", "5000"}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	p := start(t, nil, limitArgs...)

	r := p.get("/healthz")
	if r.status != 200 || string(r.body) != `{"status":"ok"}` {
		t.Errorf("/healthz: %d %s", r.status, r.body)
	}
	r = p.get("/readyz")
	if r.status != 200 || string(r.body) != `{"status":"ready"}` {
		t.Errorf("/readyz: %d %s", r.status, r.body)
	}
	if r := p.do("HEAD", "/healthz", nil); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD /healthz: %d %q", r.status, r.body)
	}

	var info struct {
		Model, Version, Kernels, Quantization string
		Labels                                []string
		Config                                struct{ Dim, NLayers int } `json:"-"`
		Parameters                            int64
		CPU                                   struct{ Features []string }
		Limits                                map[string]float64
	}
	r = p.get("/info")
	r.json(t, &info)
	if r.status != 200 || info.Model != "sst2-mini" || info.Kernels == "" || info.Quantization != "none" ||
		strings.Join(info.Labels, ",") != "NEGATIVE,POSITIVE" || info.Parameters < 1e6 || info.Version == "" ||
		info.Limits["max_batch_items"] != 8 || info.Limits["max_text_chars"] != 5000 {
		t.Errorf("/info: %d %s", r.status, r.body)
	}
	if !bytes.Contains(r.body, []byte(`"config":{"dim":256`)) || !bytes.Contains(r.body, []byte(`"features":[`)) {
		t.Errorf("/info lacks config or CPU features: %s", r.body)
	}
	if bytes.Contains(r.body, []byte("problem_type")) {
		t.Errorf("/info of a single-label model names a problem_type: %s", r.body)
	}

	r = p.get("/openapi.json")
	var spec struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]any
	}
	r.json(t, &spec)
	for _, path := range []string{"/predict", "/predict/batch", "/healthz", "/readyz", "/info", "/metrics", "/docs", "/"} {
		if spec.Paths[path] == nil {
			t.Errorf("openapi.json lacks %s", path)
		}
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("openapi.json: %q %q", spec.OpenAPI, r.header.Get("Content-Type"))
	}

	r = p.get("/docs")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(r.body, []byte("/predict/batch")) || !bytes.Contains(r.body, []byte("queue_full")) {
		t.Errorf("/docs: %d %s", r.status, r.header.Get("Content-Type"))
	}
	r = p.get("/")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !bytes.Contains(r.body, []byte("<textarea")) {
		t.Errorf("/: %d %s", r.status, r.header.Get("Content-Type"))
	}
	// Self-contained: nothing loaded from elsewhere.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).Find(r.body); m != nil {
		t.Errorf("/ loads an external resource: %s", m)
	}

	texts := devTexts(t, 5)
	for _, text := range texts {
		var got prediction
		r := p.post("/predict", map[string]string{"text": text})
		r.json(t, &got)
		if r.status != 200 || bytes.Contains(r.body, []byte("problem_type")) {
			t.Fatalf("/predict: %d %s", r.status, r.body)
		}
		checkPrediction(t, text, got)
	}
	var batch struct{ Predictions []prediction }
	r = p.post("/predict/batch", map[string][]string{"texts": texts})
	r.json(t, &batch)
	if r.status != 200 || len(batch.Predictions) != len(texts) {
		t.Fatalf("/predict/batch: %d %s", r.status, r.body)
	}
	for i, text := range texts {
		checkPrediction(t, text, batch.Predictions[i])
	}
	if !batch.Predictions[len(texts)-3].Truncated || batch.Predictions[len(texts)-3].Tokens != 512 {
		t.Errorf("long text not flagged truncated: %+v", batch.Predictions[len(texts)-3])
	}

	// Request ids: honoured, made up when absent or unusable, and logged.
	if r := p.get("/healthz", "X-Request-ID", "abc-123"); r.header.Get("X-Request-ID") != "abc-123" {
		t.Errorf("X-Request-ID not echoed: %q", r.header.Get("X-Request-ID"))
	}
	// A W3C traceparent's trace id goes into the access log; a malformed one is left out.
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	p.get("/healthz", "X-Request-ID", "traced", "traceparent", "00-"+trace+"-00f067aa0ba902b7-01")
	p.get("/healthz", "X-Request-ID", "badly-traced", "traceparent", "00-"+trace+"-0000000000000000-01")
	if r := p.post("/predict", []byte(`{}`), "X-Request-ID", "err-7"); r.header.Get("X-Request-ID") != "err-7" || !bytes.Contains(r.body, []byte(`"request_id":"err-7"`)) {
		t.Errorf("X-Request-ID not in the error: %q %s", r.header.Get("X-Request-ID"), r.body)
	}
	hexID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	if id := p.get("/healthz").header.Get("X-Request-ID"); !hexID.MatchString(id) {
		t.Errorf("generated request id %q", id)
	}
	if id := p.get("/healthz", "X-Request-ID", "has space").header.Get("X-Request-ID"); !hexID.MatchString(id) {
		t.Errorf("unusable request id kept: %q", id)
	}

	m := p.get("/metrics")
	for _, want := range []string{
		`distilbert_http_requests_total{path="/predict",status="200"} 8`,
		`distilbert_http_requests_total{path="/predict/batch",status="200"} 1`,
		`distilbert_http_request_duration_seconds_bucket{path="/predict",le=`,
		`distilbert_queue_wait_seconds_count`, `distilbert_inference_duration_seconds_count`,
		`distilbert_batch_size_count`, `distilbert_batch_tokens_count`, `distilbert_queue_depth 0`,
		`distilbert_predictions_total{label="POSITIVE"}`, `distilbert_predictions_total{label="NEGATIVE"}`,
		`distilbert_cache_hits_total 0`, `distilbert_cache_misses_total 0`,
		`go_goroutines`, `go_memstats_heap_inuse_bytes`, `process_resident_memory_bytes`, `process_cpu_seconds_total`,
	} {
		if !bytes.Contains(m.body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.HasPrefix(m.header.Get("Content-Type"), "text/plain") {
		t.Errorf("/metrics Content-Type %q", m.header.Get("Content-Type"))
	}

	// Texts are not logged without --log-texts; requests are, with their id.
	var sawErr7, sawTrace bool
	for _, rec := range p.logLines() {
		switch rec["id"] {
		case "traced":
			sawTrace = rec["trace_id"] == trace
		case "badly-traced":
			if rec["trace_id"] != nil {
				t.Errorf("trace_id %v from a traceparent with a zero parent id", rec["trace_id"])
			}
		}
		line, _ := json.Marshal(rec)
		if bytes.Contains(line, []byte("charming")) || bytes.Contains(line, []byte("Café")) {
			t.Errorf("a text was logged: %s", line)
		}
		if rec["id"] == "err-7" && rec["status"] == float64(422) {
			sawErr7 = true
		}
	}
	if !sawErr7 {
		t.Errorf("no access log line for request err-7")
	}
	if !sawTrace {
		t.Errorf("no access log line with trace_id %s", trace)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	p := start(t, nil, limitArgs...)
	long := `{"text": "` + strings.Repeat("é", 5001) + `"}` // 5001 characters, 10 KB: under the body limit
	tooMany := `{"texts": ["a","b","c","d","e","f","g","h","i"]}`
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/predict", `{"text": "go`, 400, "malformed_json"},
		{"POST", "/predict", ``, 400, "malformed_json"},
		{"POST", "/predict", `{"text": "a"} {"text": "b"}`, 400, "malformed_json"},
		{"POST", "/predict", `{"text": 42}`, 400, "invalid_type"},
		{"POST", "/predict", `["good"]`, 400, "invalid_type"},
		{"POST", "/predict/batch", `{"texts": "good"}`, 400, "invalid_type"},
		{"POST", "/predict/batch", `{"texts": ["good", 1]}`, 400, "invalid_type"},
		{"POST", "/predict", `{"text": "a", "extra": true}`, 400, "unknown_field"},
		{"POST", "/predict/batch", `{"text": "a"}`, 400, "unknown_field"},
		{"POST", "/predict", "{\"text\": \"bad \xff\xfe bytes\"}", 400, "invalid_utf8"},
		{"POST", "/predict", `{}`, 422, "missing_text"},
		{"POST", "/predict", `{"text": null}`, 422, "missing_text"},
		{"POST", "/predict", `{"text": ""}`, 422, "empty_text"},
		{"POST", "/predict", `{"text": "  \n\t"}`, 422, "empty_text"},
		{"POST", "/predict/batch", `{}`, 422, "missing_text"},
		{"POST", "/predict/batch", `{"texts": []}`, 422, "empty_text"},
		{"POST", "/predict/batch", `{"texts": ["good", ""]}`, 422, "empty_text"},
		{"POST", "/predict", long, 413, "text_too_long"},
		{"POST", "/predict/batch", tooMany, 413, "too_many_items"},
		{"POST", "/predict", `{"text": "` + strings.Repeat("a", 20000) + `"}`, 413, "body_too_large"},
		{"GET", "/predict", ``, 405, "method_not_allowed"},
		{"PUT", "/predict/batch", `{}`, 405, "method_not_allowed"},
		{"POST", "/healthz", `{}`, 405, "method_not_allowed"},
		{"DELETE", "/info", ``, 405, "method_not_allowed"},
		{"GET", "/nope", ``, 404, "not_found"},
		{"POST", "/predict/", `{"text": "a"}`, 404, "not_found"},
	} {
		var body []byte
		if tc.body != "" || tc.method == "POST" {
			body = []byte(tc.body)
		}
		r := p.do(tc.method, tc.path, body)
		if r.status != tc.status {
			t.Errorf("%s %s %.50q: status %d, want %d (%s)", tc.method, tc.path, tc.body, r.status, tc.status, r.body)
			continue
		}
		if code := r.errorCode(t); code != tc.code {
			t.Errorf("%s %s %.50q: code %s, want %s", tc.method, tc.path, tc.body, code, tc.code)
		}
		if tc.status == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	// The service is still fine, and never answered a 500.
	if r := p.post("/predict", map[string]string{"text": "good"}); r.status != 200 {
		t.Fatalf("after the errors: %d %s", r.status, r.body)
	}
	fiveXX := regexp.MustCompile(`.*path="/predict[^"]*",status="5\d\d".*`)
	if m := p.get("/metrics"); fiveXX.Match(m.body) {
		t.Errorf("a 5xx was answered: %s", fiveXX.Find(m.body))
	}
}

func TestAuthAndRateLimitPerKey(t *testing.T) {
	t.Parallel()
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("# service keys\nfile-key\n\nlimit-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, []string{"DISTILBERT_API_KEYS=env-key-1,env-key-2"},
		"--api-keys-file", keys, "--rate-limit", "2", "--rate-burst", "3", "--cors-origins", "https://ok.example")
	body := map[string]string{"text": "good"}

	r := p.post("/predict", body)
	if r.status != 401 || r.errorCode(t) != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no key: %d %s %q", r.status, r.body, r.header.Get("WWW-Authenticate"))
	}
	for _, h := range [][]string{{"Authorization", "Bearer wrong"}, {"X-API-Key", "env-key-1x"}, {"Authorization", "Basic env-key-1"}, {"X-API-Key", ""}} {
		if r := p.post("/predict", body, h...); r.status != 401 {
			t.Errorf("%v: %d %s", h, r.status, r.body)
		}
	}
	if r := p.post("/predict/batch", map[string][]string{"texts": {"a"}}); r.status != 401 {
		t.Errorf("batch without key: %d", r.status)
	}
	for _, h := range [][]string{{"Authorization", "Bearer env-key-1"}, {"authorization", "bearer env-key-2"}, {"X-API-Key", "file-key"}} {
		if r := p.post("/predict", body, h...); r.status != 200 {
			t.Errorf("%v: %d %s", h, r.status, r.body)
		}
	}
	// Health, metrics, info, docs and preflight stay open.
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/info", "/docs", "/openapi.json", "/"} {
		if r := p.get(path); r.status != 200 {
			t.Errorf("%s without key: %d", path, r.status)
		}
	}
	r = p.do("OPTIONS", "/predict", nil, "Origin", "https://ok.example", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization,content-type")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://ok.example" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	r = p.post("/predict", body, "Origin", "https://ok.example", "X-API-Key", "file-key")
	if r.header.Get("Access-Control-Allow-Origin") != "https://ok.example" || !strings.Contains(r.header.Get("Vary"), "Origin") ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-ID") {
		t.Errorf("CORS on POST: %v", r.header)
	}
	if r := p.post("/predict", body, "Origin", "https://evil.example", "X-API-Key", "file-key"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS allowed another origin: %v", r.header)
	}
	if r := p.do("OPTIONS", "/predict", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight allowed another origin: %v", r.header)
	}

	// Rate limit per key: limit-key spends its burst of 3, then gets 429;
	// the other keys are not affected. {} is rejected after the rate
	// limit, so it costs no inference.
	var codes []int
	for range 5 {
		codes = append(codes, p.post("/predict", []byte(`{}`), "X-API-Key", "limit-key").status)
	}
	if codes[0] != 422 || codes[1] != 422 || codes[2] != 422 || codes[4] != 429 {
		t.Errorf("limit-key statuses %v, want 422 422 422 (422 or 429) 429", codes)
	}
	r = p.post("/predict", []byte(`{}`), "X-API-Key", "limit-key")
	if r.status != 429 || r.errorCode(t) != "rate_limited" {
		t.Errorf("429: %d %s", r.status, r.body)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("429 Retry-After %q", r.header.Get("Retry-After"))
	}
	if r := p.post("/predict", []byte(`{}`), "X-API-Key", "env-key-2"); r.status != 422 {
		t.Errorf("another key limited too: %d", r.status)
	}
	time.Sleep(600 * time.Millisecond) // 2/s: one token back
	if r := p.post("/predict", []byte(`{}`), "X-API-Key", "limit-key"); r.status != 422 {
		t.Errorf("after refill: %d %s", r.status, r.body)
	}
}

func TestRateLimitPerIPAndEnv(t *testing.T) {
	t.Parallel()
	p := start(t, []string{"DISTILBERT_RATE_LIMIT=0.5", "DISTILBERT_RATE_BURST=2", "DISTILBERT_CORS_ORIGINS=*", "DISTILBERT_MAX_BATCH_ITEMS=3"},
		"--max-batch-items", "2") // the command line wins over the environment
	var info struct {
		RateLimit float64            `json:"rate_limit_per_s"`
		Limits    map[string]float64 `json:"limits"`
	}
	p.get("/info").json(t, &info)
	if info.RateLimit != 0.5 || info.Limits["max_batch_items"] != 2 {
		t.Errorf("env/flags not applied: %+v", info)
	}
	r := p.post("/predict/batch", map[string][]string{"texts": {"a", "b", "c"}}, "Origin", "https://any.example")
	if r.status != 413 || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("batch of 3: %d %v", r.status, r.header)
	}
	r = p.post("/predict", map[string]string{"text": "good"})
	if r.status != 200 {
		t.Errorf("second request: %d", r.status)
	}
	r = p.post("/predict", map[string]string{"text": "good"})
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("third request within two seconds: %d %v", r.status, r.header)
	}
}

// The int8 model serves the same labels; /info says how it computes.
func TestQuantizedService(t *testing.T) {
	t.Parallel()
	p := start(t, []string{"DISTILBERT_QUANTIZE=int8"})
	var info struct {
		Quantization string
		ComputeDType string `json:"compute_dtype"`
		Int8Kernel   string `json:"int8_kernel"`
	}
	p.get("/info").json(t, &info)
	if info.Quantization != "int8" || info.ComputeDType != "I8" || info.Int8Kernel == "" {
		t.Errorf("info: %+v", info)
	}
	var pred prediction
	if r := p.post("/predict", map[string]string{"text": "a charming and often affecting journey"}); r.status != 200 {
		t.Fatalf("predict: %d %s", r.status, r.body)
	} else {
		r.json(t, &pred)
	}
	if pred.Label != "POSITIVE" || pred.Score < 0.99 {
		t.Errorf("prediction %+v", pred)
	}
}

func TestBadFlagsAndEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"DISTILBERT_MAX_QUEUE=lots"}, nil, "DISTILBERT_MAX_QUEUE"},
		{nil, []string{"--max-batch-size", "0"}, "--max-batch-size must be positive"},
		{nil, []string{"--max-batch-size", "64"}, "--max-batch-size 64 is more than one engine call takes (32)"},
		{nil, []string{"--max-batch-tokens", "9000"}, "--max-batch-tokens 9000 is more than one engine call takes (8192)"},
		{nil, []string{"--trusted-proxies", "10.0.0.0/33"}, "--trusted-proxies"},
		{nil, []string{"--tls-cert", "x.pem"}, "--tls-cert and --tls-key go together"},
		{nil, []string{"--api-keys-file", "/nonexistent/keys"}, "api keys"},
		{nil, []string{"extra"}, "serve takes no arguments"},
		{nil, []string{"--addr", "256.1.1.1:99999"}, "listen"},
		{[]string{"DISTILBERT_QUANTIZE=int4"}, nil, "quantization \"int4\" is not supported"},
		{nil, []string{"--served-model-name", "a/b"}, "--served-model-name"},
	} {
		cmd := exec.Command(binary, append([]string{"serve"}, tc.args...)...)
		cmd.Env = append(os.Environ(), tc.env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v %v: exit 0", tc.env, tc.args)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if !strings.Contains(string(out), tc.want) || !strings.HasPrefix(lines[len(lines)-1], "distilbert: ") && !strings.HasPrefix(lines[len(lines)-1], "run 'distilbert help'") {
			t.Errorf("%v %v: output %q, want %q", tc.env, tc.args, out, tc.want)
		}
	}
}

// Results of /predict/batch and of concurrent /predict calls, batched
// together by the service, equal each text classified alone.
func TestBatchingEquivalence(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--max-batch-size", "16", "--max-wait", "20ms")
	texts := devTexts(t, 45)
	var wg sync.WaitGroup
	got := make([]prediction, len(texts))
	status := make([]int, len(texts))
	for i, text := range texts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.post("/predict", map[string]string{"text": text})
			status[i] = r.status
			if r.status == 200 {
				json.Unmarshal(r.body, &got[i])
			}
		}()
	}
	wg.Wait()
	for i, text := range texts {
		if status[i] != 200 {
			t.Fatalf("/predict %d: status %d", i, status[i])
		}
		checkPrediction(t, text, got[i])
	}
	batches := p.metric("distilbert_batches_total")
	if batches >= float64(len(texts)) {
		t.Errorf("%d concurrent requests ran in %g batches: no batching", len(texts), batches)
	}
	t.Logf("%d concurrent /predict ran in %g batches", len(texts), batches)

	// Two concurrent batch requests share the queue with each other.
	var batch [2]struct{ Predictions []prediction }
	for k := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.post("/predict/batch", map[string][]string{"texts": texts[k*20 : k*20+25]})
			if r.status != 200 {
				t.Errorf("/predict/batch: %d %s", r.status, r.body)
			}
			json.Unmarshal(r.body, &batch[k])
		}()
	}
	wg.Wait()
	for k := range batch {
		if len(batch[k].Predictions) != 25 {
			t.Fatalf("batch %d: %d predictions", k, len(batch[k].Predictions))
		}
		for i, pr := range batch[k].Predictions {
			checkPrediction(t, texts[k*20+i], pr)
		}
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--cache-size", "2")
	var first, second prediction
	p.post("/predict", map[string]string{"text": "a gorgeous, witty, seductive movie"}).json(t, &first)
	r := p.post("/predict", map[string]string{"text": "a gorgeous, witty, seductive movie"})
	r.json(t, &second)
	if !sameScores(first, second) {
		t.Errorf("cached answer differs: %+v vs %+v", first, second)
	}
	var batch struct{ Predictions []prediction }
	p.post("/predict/batch", map[string][]string{"texts": {"a gorgeous, witty, seductive movie", "dull", "awful"}}).json(t, &batch)
	checkPrediction(t, "a gorgeous, witty, seductive movie", batch.Predictions[0])
	checkPrediction(t, "awful", batch.Predictions[2])
	if h, m, n := p.metric("distilbert_cache_hits_total"), p.metric("distilbert_cache_misses_total"), p.metric("distilbert_cache_entries"); h != 2 || m != 3 || n != 2 {
		t.Errorf("cache hits %g misses %g entries %g, want 2 3 2", h, m, n)
	}
}

func sameScores(a, b prediction) bool {
	if a.Label != b.Label || a.Score != b.Score || a.Tokens != b.Tokens || a.Truncated != b.Truncated || a.Model != b.Model {
		return false
	}
	for k, v := range a.Scores {
		if b.Scores[k] != v {
			return false
		}
	}
	return true
}

// With a queue of one sequence, a burst gets 503 + Retry-After at once for
// what does not fit, and 200 for the rest.
func TestQueueFull(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--max-queue", "1", "--max-batch-size", "1")
	const n = 24
	var wg sync.WaitGroup
	status := make([]int, n)
	retry := make([]string, n)
	elapsed := make([]time.Duration, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			r := p.post("/predict", map[string]string{"text": longText(200, i)})
			status[i], elapsed[i] = r.status, time.Since(t0)
			if r.status == 503 {
				retry[i] = r.header.Get("Retry-After")
				if code := r.errorCode(t); code != "queue_full" {
					t.Errorf("503 code %s", code)
				}
			}
		}()
	}
	wg.Wait()
	var ok, full int
	for i, s := range status {
		switch s {
		case 200:
			ok++
		case 503:
			full++
			if retry[i] != "1" {
				t.Errorf("503 Retry-After %q", retry[i])
			}
		default:
			t.Errorf("status %d", s)
		}
	}
	if ok == 0 || full == 0 {
		t.Fatalf("burst of %d: %d ok, %d queue full; want both", n, ok, full)
	}
	if got := p.metric("distilbert_queue_full_total"); got != float64(full) {
		t.Errorf("queue_full metric %g, want %d", got, full)
	}
	t.Logf("burst of %d: %d answered, %d refused with 503", n, ok, full)
}

// A request that cannot be answered within --request-timeout gets 504,
// and queued work whose deadline passed is skipped.
func TestTimeout(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--request-timeout", "2ms", "--max-batch-size", "1")
	const n = 8
	var wg sync.WaitGroup
	status := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.post("/predict", map[string]string{"text": longText(500, i)})
			status[i] = r.status
			if r.status == 504 && r.errorCode(t) != "timeout" {
				t.Errorf("504 body %s", r.body)
			}
		}()
	}
	wg.Wait()
	for _, s := range status {
		if s != 504 {
			t.Errorf("statuses %v, want all 504", status)
			break
		}
	}
	// Fast requests still work: health does not wait for the engine.
	if r := p.get("/healthz"); r.status != 200 {
		t.Errorf("/healthz %d", r.status)
	}
	if got := p.metric("distilbert_timeouts_total"); got != n {
		t.Errorf("timeouts metric %g, want %d", got, n)
	}
	// Skipped sequences are counted when the batcher drops them.
	deadline := time.Now().Add(5 * time.Second)
	for p.metric("distilbert_queue_depth") > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if skipped, batches := p.metric("distilbert_skipped_sequences_total"), p.metric("distilbert_batches_total"); skipped == 0 || batches >= n+1 {
		t.Errorf("skipped %g sequences and ran %g batches (incl. none for warm-up): expired work was run", skipped, batches)
	}
}

// A client that closes its connection has its queued work skipped.
func TestClientGoneSkipped(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--max-batch-size", "1", "--max-batch-items", "64")
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = longText(400, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for p.metric("distilbert_batches_total") < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	b, _ := json.Marshal(map[string][]string{"texts": texts})
	r := p.doCtx(ctx, "POST", "/predict/batch", b)
	if r.status != -1 {
		t.Fatalf("request not cancelled: %d", r.status)
	}
	deadline := time.Now().Add(20 * time.Second)
	for p.metric("distilbert_client_gone_total") < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	gone, skipped, batches := p.metric("distilbert_client_gone_total"), p.metric("distilbert_skipped_sequences_total"), p.metric("distilbert_batches_total")
	if gone != 1 || skipped == 0 || batches > 40 {
		t.Errorf("client gone %g, skipped %g, batches %g: the work was not skipped", gone, skipped, batches)
	}
	if r := p.post("/predict", map[string]string{"text": "still fine"}); r.status != 200 {
		t.Errorf("after: %d", r.status)
	}
}

// SIGTERM: readiness goes, the listener closes, every in-flight request
// is still answered, and the process exits 0 within the grace period.
func TestGracefulDrain(t *testing.T) {
	t.Parallel()
	// --max-wait holds the requests in the queue (the batch never fills),
	// so that they are surely in flight when SIGTERM comes.
	p := start(t, nil, "--max-wait", "5s", "--max-batch-size", "32", "--shutdown-grace", "20s")
	const n = 12
	var wg sync.WaitGroup
	status := make([]int, n)
	preds := make([]prediction, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.post("/predict", map[string]string{"text": longText(40, i)})
			status[i] = r.status
			if r.status == 200 {
				json.Unmarshal(r.body, &preds[i])
			}
		}()
	}
	// Wait until they are all in flight (the /metrics request is one more).
	deadline := time.Now().Add(10 * time.Second)
	for p.metric("distilbert_inflight_requests") < n+1 {
		if time.Now().After(deadline) {
			t.Fatal("requests never all in flight")
		}
		time.Sleep(2 * time.Millisecond)
	}
	t0 := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	wg.Wait()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("did not exit")
	}
	if p.err != nil {
		t.Errorf("exit: %v", p.err)
	}
	for i, s := range status {
		if s != 200 {
			t.Errorf("request %d: status %d during drain", i, s)
		} else {
			checkPrediction(t, longText(40, i), preds[i])
		}
	}
	var draining, stopped bool
	for _, rec := range p.logLines() {
		draining = draining || rec["msg"] == "draining"
		stopped = stopped || rec["msg"] == "stopped"
	}
	if !draining || !stopped {
		t.Errorf("no draining/stopped log lines")
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(p.url, "http://"), time.Second); err == nil {
		t.Errorf("still accepting connections after exit")
	}
	t.Logf("drained %d in-flight requests in %v", n, time.Since(t0).Round(time.Millisecond))
}

func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	p := start(t, nil, "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("url %s", p.url)
	}
	var got prediction
	r := p.post("/predict", map[string]string{"text": "a gorgeous, witty, seductive movie"})
	r.json(t, &got)
	checkPrediction(t, "a gorgeous, witty, seductive movie", got)
	// Plain HTTP to a TLS port does not get an answer.
	plain := strings.Replace(p.url, "https://", "http://", 1)
	if resp, err := p.client.Get(plain + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered on the TLS port")
		}
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestLogTexts(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--log-texts")
	p.post("/predict", map[string]string{"text": "remember this sentence"})
	time.Sleep(50 * time.Millisecond)
	for _, rec := range p.logLines() {
		if b, _ := json.Marshal(rec); bytes.Contains(b, []byte("remember this sentence")) {
			return
		}
	}
	t.Errorf("--log-texts: text not logged")
}
