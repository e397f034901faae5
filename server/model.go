package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/distilbert/tokenize"
)

// Loader loads the model again for a hot reload (SIGHUP, POST
// /admin/reload): from the same --model, with the same options.
type Loader func() (*distilbert.Classifier, error)

// ModelFingerprint names what a model computes, for the shared cache's
// keys: the SHA-256 of its weights (hashed at load), the quantization, the
// device and the arithmetic. Replicas share results only when all four
// agree.
func ModelFingerprint(c *distilbert.Classifier) string {
	info := c.Engine().Info()
	return fmt.Sprintf("sha256:%s quantization:%s device:%s precision:%s",
		c.WeightsSHA256(), info.Quantization, info.Device, info.Precision)
}

// model is one loaded classifier and what the handlers derive from it. The
// server serves one at a time; a hot reload swaps a new one in while the
// requests and batches that took the old one finish on it. Everything a
// request answers with (labels, names, cache keys) comes from the model it
// took, so that an answer never mixes two models.
type model struct {
	clf         *distilbert.Classifier
	labels      []string
	labelJSON   [][]byte // each label as a JSON string
	nameJSON    []byte   // the model's name as a JSON string
	problemJSON []byte   // `,"problem_type":...` for models whose scores are not a softmax, else empty
	v2          v2Model  // what the Open Inference Protocol routes say about the model
	// cacheKey prefixes the in-process cache's keys: the load generation,
	// so that results of a replaced model are never answered.
	cacheKey    string
	redisPrefix string             // the shared cache's key prefix, from the fingerprint
	predictions []*metrics.Counter // by label index
	loadedAt    time.Time
	revision    string // the Hub commit, else the weights' SHA-256

	// owned models were loaded by a reload (or handed over with
	// Config.OwnModel): the server closes them once unused.
	owned bool
	// refs counts the users: one while the model is current, one per
	// request and per engine call using it. The last release closes an
	// owned model.
	refs atomic.Int64
}

func (s *Server) newModel(clf *distilbert.Classifier, fingerprint string, gen uint64, owned bool) *model {
	labels := clf.Labels()
	m := &model{
		clf: clf, labels: labels, owned: owned, loadedAt: time.Now(),
		cacheKey:    fmt.Sprintf("%d\x00", gen),
		redisPrefix: redisPrefix(fingerprint),
		revision:    clf.WeightsSHA256(),
		v2:          newV2Model(s.cfg.ServedModelName, clf.Name(), labels, s.cfg.MaxBatchItems, s.cfg.MaxWait),
	}
	if h := clf.HubSource(); h != nil && h.Commit != "" {
		m.revision = h.Commit
	}
	for _, l := range labels {
		b, _ := json.Marshal(l)
		m.labelJSON = append(m.labelJSON, b)
		m.predictions = append(m.predictions, s.m.set.GetOrCreateCounter(fmt.Sprintf(`distilbert_predictions_total{label=%s}`, quoteLabel(l))))
	}
	m.nameJSON, _ = json.Marshal(clf.Name())
	if pt := clf.ProblemType(); pt != distilbert.SingleLabel {
		m.problemJSON = append([]byte(`,"problem_type":`), appendJSONString(nil, string(pt))...)
	}
	m.refs.Store(1)
	return m
}

// redisPrefix is the shared cache's key prefix for a model fingerprint.
func redisPrefix(fingerprint string) string {
	d := sha256.Sum256([]byte(fingerprint))
	return "distilbert:" + hex.EncodeToString(d[:12]) + ":"
}

// acquire takes a reference unless the model was released for good.
func (m *model) acquire() bool {
	for {
		n := m.refs.Load()
		if n == 0 {
			return false
		}
		if m.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (m *model) release() {
	if m.refs.Add(-1) == 0 && m.owned {
		m.clf.Close()
	}
}

// model takes a reference on the current model; the caller releases it.
// A reload may retire the model between the load and the reference: then
// the next one is current.
func (s *Server) model() *model {
	for {
		m := s.cur.Load()
		if m == nil {
			// A handler outliving the shutdown grace: its panic is
			// answered 500 by serve's recovery.
			panic("server: model used after Close")
		}
		if m.acquire() {
			return m
		}
	}
}

// Close releases the server's model once Run has returned and the engine
// is idle (EngineIdle). A model loaded by a reload is closed then, and so
// is the classifier given to New with Config.OwnModel; without it, that
// one stays the caller's to close.
func (s *Server) Close() {
	if m := s.cur.Swap(nil); m != nil {
		m.release()
	}
}

var (
	errReloadBusy        = errors.New("a reload is already in progress")
	errReloadUnsupported = errors.New("this server has no model loader")
	errReloadDraining    = errors.New("the service is shutting down")
)

// ReloadResult describes a model swapped in by Reload.
type ReloadResult struct {
	Model         string    `json:"model"`
	Revision      string    `json:"revision"`
	WeightsSHA256 string    `json:"weights_sha256"`
	LoadedAt      time.Time `json:"loaded_at"`
	LoadMS        float64   `json:"load_ms"`
	WarmupMS      float64   `json:"warmup_ms"`
}

// Reload loads the model again through cfg.Loader, warms it up and swaps
// it in: new requests take it, while requests and batches holding the old
// one finish on it, and the old one is closed when the last lets go. A
// failed load or warm-up leaves the old model serving. One reload runs at
// a time; another one meanwhile is refused, not queued.
func (s *Server) Reload() (ReloadResult, error) {
	if s.cfg.Loader == nil {
		return ReloadResult{}, errReloadUnsupported
	}
	if !s.reloading.TryLock() {
		return ReloadResult{}, errReloadBusy
	}
	defer s.reloading.Unlock()
	if s.draining.Load() {
		return ReloadResult{}, errReloadDraining
	}
	t0 := time.Now()
	res, err := s.reload()
	if err != nil {
		s.m.reloadFailures.Inc()
		s.log.Error("reload failed; the loaded model keeps serving", "error", err.Error(), "after_ms", ms(time.Since(t0)))
		return res, err
	}
	s.m.reloads.Inc()
	s.log.Info("model reloaded", "model", res.Model, "revision", res.Revision,
		"load_ms", res.LoadMS, "warmup_ms", res.WarmupMS)
	return res, nil
}

func (s *Server) reload() (ReloadResult, error) {
	t0 := time.Now()
	clf, err := s.cfg.Loader()
	if err != nil {
		return ReloadResult{}, fmt.Errorf("load: %w", err)
	}
	loaded := time.Now()
	if err := warmUp(clf); err != nil {
		clf.Close()
		return ReloadResult{}, fmt.Errorf("warm-up: %w", err)
	}
	m := s.newModel(clf, ModelFingerprint(clf), s.generation.Add(1), true)
	old := s.cur.Swap(m)
	if old == nil { // closed meanwhile (Run returned)
		s.cur.Store(nil)
		m.release()
		return ReloadResult{}, errReloadDraining
	}
	// Old entries could no longer be hit (their keys hold the old
	// generation): give the room back at once.
	s.cache.clear()
	old.release()
	s.m.setModel(clf, s.cfg.Version, m.loadedAt)
	return ReloadResult{
		Model: clf.Name(), Revision: m.revision, WeightsSHA256: clf.WeightsSHA256(), LoadedAt: m.loadedAt,
		LoadMS: ms(loaded.Sub(t0)), WarmupMS: ms(time.Since(loaded)),
	}, nil
}

// warmUp runs a short and a longest-possible text so that buffers are
// sized and code paths touched before the first request.
func warmUp(clf *distilbert.Classifier) error {
	maxLen := clf.Tokenizer().MaxLen()
	long := strings.Repeat("warm ", maxLen)
	encs := []tokenize.Encoding{clf.Encode("warm up the model"), clf.Encode(long)}
	_, err := clf.PredictEncoded(context.Background(), encs)
	return err
}

// adminReload serves POST /admin/reload, behind an admin key.
func (s *Server) adminReload(ctx *fasthttp.RequestCtx, id string) {
	if aerr := s.adminAuth(ctx); aerr != nil {
		writeError(ctx, id, aerr)
		return
	}
	res, err := s.Reload()
	switch {
	case errors.Is(err, errReloadBusy):
		writeError(ctx, id, errorf(409, "reload_in_progress", "%v", err))
	case errors.Is(err, errReloadUnsupported):
		writeError(ctx, id, errorf(501, "reload_unsupported", "%v", err))
	case errors.Is(err, errReloadDraining):
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, id, errorf(503, "shutting_down", "%v", err))
	case err != nil:
		// Only admins see this, and they need the reason (a path, a bad
		// file) to fix it.
		writeError(ctx, id, errorf(500, "reload_failed", "reload failed; the loaded model keeps serving: %v", err))
	default:
		b, _ := json.Marshal(struct {
			Status string `json:"status"`
			ReloadResult
		}{"reloaded", res})
		writeJSON(ctx, 200, b)
	}
}

// adminAuth admits a request with one of the admin keys (Authorization:
// Bearer KEY or X-Admin-Key: KEY). API keys and JWTs do not admit: they
// are for clients. Failures count against the client's authentication
// budget like any other.
func (s *Server) adminAuth(ctx *fasthttp.RequestCtx) *apiError {
	if s.adminKeys == nil {
		return errorf(403, "admin_disabled", "the admin endpoints are off; start the service with --admin-keys-file or DISTILBERT_ADMIN_KEYS")
	}
	key := presentedKey(ctx, "X-Admin-Key")
	addr, now := "ip:"+s.clientIP(ctx).String(), time.Now()
	if aerr := s.authThrottled(ctx, addr, now); aerr != nil {
		return aerr
	}
	if len(key) == 0 || s.adminKeys.check(key) == "" {
		s.authFailures.allow(addr, now)
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="distilbert-admin"`)
		return errorf(401, "unauthorized", "an admin key is required: Authorization: Bearer KEY or X-Admin-Key: KEY")
	}
	return nil
}
