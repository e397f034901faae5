package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

	"github.com/distilbert-go/distilbert/distilbert"
)

// The integration tests build the real binary once and start it on a
// loopback port with the embedded model: no mocks.

var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "distilbert-serve-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "distilbert")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/distilbert-go/distilbert/cmd/distilbert")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goTool, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binary:", err)
		return 1
	}
	return m.Run()
}

// proc is one running `distilbert serve`.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	client *http.Client
	done   chan struct{} // closed when the process exited
	err    error         // its exit error, after done

	mu   sync.Mutex
	logs []map[string]any
}

// start runs `distilbert serve --addr 127.0.0.1:0 args...` with extra
// environment variables, waits for /readyz and stops it at the end of the
// test.
//
// The shutdown delay is 0 unless env or args set it, so that stopping the
// many test servers does not wait for it.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startWrapped(t, nil, env, args...)
}

// startWrapped is start with the binary run by a wrapper command line
// (e.g. prlimit ... --).
func startWrapped(t *testing.T, wrapper, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, done: make(chan struct{})}
	argv := append(append(append([]string(nil), wrapper...), binary, "serve", "--addr", "127.0.0.1:0"), args...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
	// The race runtime sleeps a second before exiting so that late reports
	// make it out; the drain tests time the exit, so that sleep is dropped
	// (races are still reported while the process runs: see stop).
	p.cmd.Env = append(append(os.Environ(), "DISTILBERT_SHUTDOWN_DELAY=0",
		"GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE")), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				rec = map[string]any{"msg": "raw", "line": sc.Text()}
			}
			p.mu.Lock()
			p.logs = append(p.logs, rec)
			p.mu.Unlock()
			if rec["msg"] == "listening" {
				addr <- fmt.Sprintf("%s://%s", rec["scheme"], rec["addr"])
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	tr := &http.Transport{MaxIdleConnsPerHost: 256, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	p.client = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	select {
	case p.url = <-addr:
	case <-p.done:
		t.Fatalf("serve exited before listening: %v; log %v", p.err, p.logLines())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start listening; log %v", p.logLines())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := p.client.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the process at the end of its test (SIGTERM, then a kill) and
// fails the test if the race detector reported anything in it: the binary
// is built with -race when the tests are, and a race in the server would
// otherwise only change its exit status, which most tests never read.
func (p *proc) stop() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.client.CloseIdleConnections()
	if report := p.raceReport(); report != "" {
		p.t.Errorf("the race detector reported in the server:\n%s", report)
	}
}

// raceReport is the race detector's output in the process's stderr, or "".
func (p *proc) raceReport() string {
	var b strings.Builder
	inRace := false
	for _, rec := range p.logLines() {
		line, _ := rec["line"].(string)
		if rec["msg"] != "raw" {
			continue
		}
		if strings.Contains(line, "WARNING: DATA RACE") {
			inRace = true
		}
		if inRace {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	if b.Len() == 0 && p.err != nil {
		if ee, ok := p.err.(*exec.ExitError); ok && raceEnabled && ee.ExitCode() == 66 {
			return "exit status 66 (the race detector's), no report in stderr"
		}
	}
	return b.String()
}

func (p *proc) logLines() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.logs...)
}

// logField is field key of the first log record with message msg, as
// text ("" when there is none).
func (p *proc) logField(msg, key string) string {
	for _, rec := range p.logLines() {
		if rec["msg"] == msg {
			if v, ok := rec[key]; ok {
				return fmt.Sprint(v)
			}
		}
	}
	return ""
}

// response is one answered request.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
}

// errorCode returns the error code of a JSON error body.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var raw struct {
		Error map[string]string `json:"error"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil || raw.Error == nil {
		t.Fatalf("status %d: not a JSON error body: %q", r.status, r.body)
	}
	if raw.Error["message"] == "" || raw.Error["request_id"] == "" {
		t.Fatalf("error body without message or request_id: %q", r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	return raw.Error["code"]
}

func (p *proc) do(method, path string, body []byte, headers ...string) response {
	p.t.Helper()
	return p.doCtx(context.Background(), method, path, body, headers...)
}

func (p *proc) doCtx(ctx context.Context, method, path string, body []byte, headers ...string) response {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.url+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (p *proc) get(path string, headers ...string) response {
	p.t.Helper()
	return p.do("GET", path, nil, headers...)
}

func (p *proc) post(path string, v any, headers ...string) response {
	p.t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			p.t.Fatal(err)
		}
	}
	return p.do("POST", path, b, headers...)
}

// metric returns the value of one exact series from /metrics (0 if absent).
func (p *proc) metric(series string) float64 {
	p.t.Helper()
	r := p.get("/metrics")
	if r.status != 200 {
		p.t.Fatalf("/metrics: %d", r.status)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindSubmatch(r.body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// prediction is the JSON of one prediction.
type prediction struct {
	Label     string             `json:"label"`
	Score     float64            `json:"score"`
	Scores    map[string]float64 `json:"scores"`
	Tokens    int                `json:"tokens"`
	Truncated bool               `json:"truncated"`
	Model     string             `json:"model"`
}

var (
	refOnce sync.Once
	refClf  *distilbert.Classifier
	refErr  error
)

// alone classifies text by itself with the library, the reference every
// service answer must match.
func alone(t *testing.T, text string) distilbert.Prediction {
	t.Helper()
	refOnce.Do(func() { refClf, refErr = distilbert.LoadEmbedded() })
	if refErr != nil {
		t.Fatal(refErr)
	}
	preds, err := refClf.Predict(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	return preds[0]
}

// checkPrediction compares a service answer with the text classified alone.
func checkPrediction(t *testing.T, text string, got prediction) {
	t.Helper()
	want := alone(t, text)
	if got.Label != want.Label || got.Tokens != want.Tokens || got.Truncated != want.Truncated || got.Model != "sst2-mini" {
		t.Errorf("%.40q: got %+v, want %s tokens %d truncated %v", text, got, want.Label, want.Tokens, want.Truncated)
		return
	}
	for l, p := range want.Scores {
		if d := got.Scores[l] - float64(p); d > 1e-5 || d < -1e-5 {
			t.Errorf("%.40q: score %s %g, alone %g", text, l, got.Scores[l], p)
		}
	}
	if d := got.Score - float64(want.Score); d > 1e-5 || d < -1e-5 {
		t.Errorf("%.40q: score %g, alone %g", text, got.Score, want.Score)
	}
}

// devTexts returns n SST-2 dev sentences (varied lengths), plus a few edge
// cases: a truncated text, unicode, special tokens.
func devTexts(t *testing.T, n int) []string {
	t.Helper()
	f, err := os.Open("../testdata/golden/sst2-mini-dev.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(texts) < n {
		var rec struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, rec.Text)
	}
	return append(texts,
		strings.Repeat("a truly wonderful and moving film . ", 90), // > 512 tokens: truncated
		"Café crème — naïve 日本語 😀 [SEP] [CLS] good",
		"terrible",
	)
}

// longText is a text of about n tokens (for slow requests).
func longText(n int, salt int) string {
	var b strings.Builder
	words := []string{"the", "movie", "was", "surprisingly", "good", "but", "long", "and", "a", "bit", "dull"}
	for i := range n {
		b.WriteString(words[(i*7+salt)%len(words)])
		b.WriteByte(' ')
	}
	return b.String()
}
