package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/distilbert"
)

// installModel puts the files of checkpoint directory src into dst the way
// a deployment should replace a model: each file written beside its place
// and renamed over it, so that the model serving, which maps its weights
// file, keeps its own copy.
func installModel(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		replaceFile(t, filepath.Join(dst, e.Name()), b)
	}
}

func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// Hot reload under closed-loop load: POST /admin/reload swaps in another
// model (other weights, other labels), SIGHUP swaps the first one back,
// and a broken weights file leaves the loaded model serving. No request
// fails, every answer is exactly one model's (never a mix), and every
// request sent after a reload answered is the new model's.
func TestHotReload(t *testing.T) {
	t.Parallel()
	const sst2, tiny = "../distilbert/defaultmodel/sst2-mini", "../testdata/models/tiny-odd"
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	installModel(t, sst2, dir)
	keys := filepath.Join(t.TempDir(), "admin-keys")
	if err := os.WriteFile(keys, []byte("# operators\nreload-secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	texts := []string{"a gorgeous, witty, seductive movie .", "the plot is nothing but boilerplate clichés",
		"it 's a charming and often affecting journey .", "unflinchingly bleak and desperate"}
	want := map[int][]distilbert.Prediction{} // by number of labels: 2 sst2-mini, 3 tiny-odd
	for _, src := range []string{sst2, tiny} {
		c, err := distilbert.Load(src)
		if err != nil {
			t.Fatal(err)
		}
		preds, err := c.Predict(context.Background(), texts)
		if err != nil {
			t.Fatal(err)
		}
		want[len(c.Labels())] = preds
		c.Close()
	}

	p := start(t, []string{"DISTILBERT_API_KEYS=client-key"}, "--model", dir, "--admin-keys-file", keys, "--max-wait", "2ms")
	revision := func() (string, time.Time, []string) {
		var info struct {
			Revision string    `json:"revision"`
			LoadedAt time.Time `json:"loaded_at"`
			Labels   []string  `json:"labels"`
			Reload   bool      `json:"reload"`
		}
		p.get("/info").json(t, &info)
		if !info.Reload {
			t.Errorf("/info says reload is off")
		}
		return info.Revision, info.LoadedAt, info.Labels
	}
	sst2SHA, tinySHA := fileSHA256(t, sst2+"/model.safetensors"), fileSHA256(t, tiny+"/model.safetensors")
	rev0, loaded0, _ := revision()
	if rev0 != sst2SHA {
		t.Fatalf("revision %q, want the weights' SHA-256 %s", rev0, sst2SHA)
	}

	// switched is when the last reload was seen done: requests sent after
	// it must get the model it loaded (labelsAfter counts its labels),
	// unless another reload has been started since (pending).
	var mu sync.Mutex
	var switched time.Time
	labelsAfter, pending := 2, false
	reloading := func() {
		mu.Lock()
		pending = true
		mu.Unlock()
	}
	reloaded := func(labels int) {
		mu.Lock()
		switched, labelsAfter, pending = time.Now(), labels, false
		mu.Unlock()
	}
	var stop atomic.Bool
	var answered [4]atomic.Int64 // by number of labels
	var failures atomic.Int64
	var firstFailure atomic.Value
	fail := func(format string, args ...any) {
		failures.Add(1)
		firstFailure.CompareAndSwap(nil, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; !stop.Load(); i++ {
				mu.Lock()
				sent, must := time.Now(), labelsAfter
				mu.Unlock()
				k := i % len(texts)
				r := p.post("/predict", map[string]string{"text": texts[k]}, "X-API-Key", "client-key")
				if r.status != 200 {
					fail("status %d %s", r.status, r.body)
					continue
				}
				var got prediction
				r.json(t, &got)
				n := len(got.Scores)
				ref, ok := want[n]
				if !ok {
					fail("an answer with %d labels: %s", n, r.body)
					continue
				}
				mu.Lock()
				late := !pending && sent.After(switched) && n != must
				mu.Unlock()
				if late {
					fail("sent after the reload to %d labels, answered by the %d-label model", must, n)
				}
				exp := ref[k]
				if got.Label != exp.Label || got.Tokens != exp.Tokens {
					fail("%q: %s/%d tokens, want %s/%d", texts[k], got.Label, got.Tokens, exp.Label, exp.Tokens)
				}
				for l, s := range exp.Scores {
					if math.Abs(got.Scores[l]-float64(s)) > 1e-5 {
						fail("%q: score %s %g, want %g (a mixed answer?)", texts[k], l, got.Scores[l], s)
					}
				}
				answered[n].Add(1)
			}
		}()
	}
	load := func() {
		for n0 := answered[2].Load() + answered[3].Load(); answered[2].Load()+answered[3].Load() < n0+20; {
			time.Sleep(10 * time.Millisecond)
		}
	}
	load()

	// The admin endpoint answers only admin keys.
	for _, h := range [][]string{nil, {"X-API-Key", "client-key"}, {"Authorization", "Bearer client-key"}, {"X-Admin-Key", "reload-secret-2"}} {
		if r := p.post("/admin/reload", []byte{}, h...); r.status != 401 || r.errorCode(t) != "unauthorized" {
			t.Errorf("reload with %v: %d %s", h, r.status, r.body)
		}
	}
	if r := p.get("/admin/reload", "X-Admin-Key", "reload-secret-1"); r.status != 405 {
		t.Errorf("GET /admin/reload: %d", r.status)
	}

	// 1. POST /admin/reload: the tiny-odd model, three labels.
	reloading()
	installModel(t, tiny, dir)
	r := p.post("/admin/reload", []byte{}, "Authorization", "Bearer reload-secret-1")
	if r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.body)
	}
	reloaded(3)
	var res struct {
		Status   string    `json:"status"`
		Revision string    `json:"revision"`
		LoadedAt time.Time `json:"loaded_at"`
	}
	r.json(t, &res)
	if res.Status != "reloaded" || res.Revision != tinySHA || !res.LoadedAt.After(loaded0) {
		t.Errorf("reload answer %s, want revision %s loaded after %v", r.body, tinySHA, loaded0)
	}
	if rev, at, labels := revision(); rev != tinySHA || !at.Equal(res.LoadedAt) || fmt.Sprint(labels) != "[neg neu pos]" {
		t.Errorf("/info after reload: revision %s loaded_at %v labels %v", rev, at, labels)
	}
	load()

	// 2. SIGHUP: sst2-mini again.
	reloading()
	installModel(t, sst2, dir)
	p.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(60 * time.Second); ; {
		if rev, _, _ := revision(); rev == sst2SHA {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the model")
		}
		time.Sleep(20 * time.Millisecond)
	}
	reloaded(2)
	load()

	// 3. A broken weights file: the reload fails, the model keeps serving.
	replaceFile(t, filepath.Join(dir, "model.safetensors"), []byte("not a safetensors file at all"))
	r = p.post("/admin/reload", []byte{}, "X-Admin-Key", "reload-secret-1")
	if r.status != 500 || r.errorCode(t) != "reload_failed" {
		t.Errorf("reload of a broken model: %d %s", r.status, r.body)
	}
	if rev, _, _ := revision(); rev != sst2SHA {
		t.Errorf("after a failed reload the revision is %s, want %s", rev, sst2SHA)
	}
	load()

	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d failed requests, first: %v", n, firstFailure.Load())
	}
	if answered[2].Load() == 0 || answered[3].Load() == 0 {
		t.Errorf("answers by model: sst2-mini %d, tiny-odd %d", answered[2].Load(), answered[3].Load())
	}
	if ok, failed := p.metric(`distilbert_model_reloads_total{result="success"}`), p.metric(`distilbert_model_reloads_total{result="failure"}`); ok != 2 || failed != 1 {
		t.Errorf("reload metrics: %g successes, %g failures; want 2 and 1", ok, failed)
	}
	t.Logf("answered by sst2-mini %d, by tiny-odd %d", answered[2].Load(), answered[3].Load())
}

// Without admin keys the admin endpoint is off, and says how to turn it
// on; SIGHUP still reloads.
func TestAdminReloadOff(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	r := p.post("/admin/reload", []byte{}, "X-Admin-Key", "anything")
	if r.status != 403 || r.errorCode(t) != "admin_disabled" {
		t.Errorf("reload without admin keys: %d %s", r.status, r.body)
	}
	// SIGHUP needs no key: /info still says the model can be reloaded.
	var info struct {
		Reload bool `json:"reload"`
	}
	p.get("/info").json(t, &info)
	if !info.Reload {
		t.Errorf("/info says reload is off; SIGHUP can reload")
	}
}
