// Package server is the HTTP service of distilbert serve: a fasthttp
// sentiment API in front of one Classifier, with dynamic batching, a
// bounded queue, request limits, API keys, rate limiting, CORS, Prometheus
// metrics, an optional response cache, structured logs and graceful drain.
//
// Every request that needs the model goes through one queue feeding one
// batcher goroutine (see batcher); handlers tokenize and then wait for
// their predictions, their deadline, or a full-queue refusal.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/distilbert/tokenize"
	"github.com/distilbert-go/distilbert/kernels"
)

// Routes, for dispatch and for metrics (a bounded set of path labels).
const (
	routeIndex = iota
	routeDocs
	routeOpenAPI
	routeHealthz
	routeReadyz
	routeInfo
	routeMetrics
	routePredict
	routeBatch
	routeV2Server // Open Inference Protocol routes: see v2.go
	routeV2Live
	routeV2Ready
	routeV2Model
	routeV2ModelReady
	routeV2Infer
	routeOther
)

var routeNames = []string{"/", "/docs", "/openapi.json", "/healthz", "/readyz", "/info", "/metrics", "/predict", "/predict/batch",
	"/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/ready", "/v2/models/{name}/infer", "other"}

var routeByPath = func() map[string]int {
	m := map[string]int{}
	for i, n := range routeNames[:routeOther] {
		if !strings.Contains(n, "{") {
			m[n] = i
		}
	}
	return m
}()

// routeOf maps a request path to its route (routeOther when none).
func routeOf(path []byte) int {
	if r, ok := routeByPath[string(path)]; ok {
		return r
	}
	return v2ModelRoute(path)
}

// Server is one service instance. Create it with New, run it with Run.
type Server struct {
	cfg    Config
	clf    *distilbert.Classifier
	log    *slog.Logger
	m      *serverMetrics
	b      *batcher
	keys   *keyring
	lim    *limiter
	cache  *lru
	limits limits

	corsAny     bool
	corsOrigins map[string]bool

	labels    []string
	labelJSON [][]byte // each label as a JSON string
	v2        v2Model  // what the Open Inference Protocol routes say about the model
	modelJSON []byte
	cacheKey  string // model name prefix of cache keys

	// problemJSON is `,"problem_type":...` for models whose scores are not
	// a softmax, empty otherwise (single-label answers stay as they were).
	problemJSON []byte

	docsHTML []byte
	started  time.Time

	ready    atomic.Bool
	draining atomic.Bool
	inflight atomic.Int64

	srv *fasthttp.Server
}

// New prepares a server for the classifier; nothing listens before Run.
func New(clf *distilbert.Classifier, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		level, _ := parseLevel(cfg.LogLevel)
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	labels := clf.Labels()
	s := &Server{
		cfg: cfg, clf: clf, log: log,
		keys:   newKeyring(cfg.APIKeys),
		lim:    newLimiter(cfg.RateLimit, cfg.RateBurst),
		cache:  newLRU(cfg.CacheSize),
		limits: limits{MaxBodyBytes: cfg.MaxBodyBytes, MaxBatchItems: cfg.MaxBatchItems, MaxTextChars: cfg.MaxTextChars},
		labels: labels, cacheKey: clf.Name() + "\x00",
		corsOrigins: map[string]bool{},
		started:     time.Now(),
	}
	for _, o := range cfg.CORSOrigins {
		if o == "*" {
			s.corsAny = true
		}
		s.corsOrigins[o] = true
	}
	for _, l := range labels {
		b, _ := json.Marshal(l)
		s.labelJSON = append(s.labelJSON, b)
	}
	s.modelJSON, _ = json.Marshal(clf.Name())
	if pt := clf.ProblemType(); pt != distilbert.SingleLabel {
		s.problemJSON = append([]byte(`,"problem_type":`), appendJSONString(nil, string(pt))...)
	}
	s.v2 = newV2Model(cfg.ServedModelName, clf.Name(), labels)
	s.m = newServerMetrics(labels, clf.Name(), clf.Engine().Info(), cfg.Version)
	s.b = newBatcher(clf.PredictEncoded, &s.cfg, s.m, log)
	s.m.set.NewGauge("distilbert_queue_depth", func() float64 { return float64(s.b.depth()) })
	s.m.set.NewGauge("distilbert_queue_capacity", func() float64 { return float64(cfg.MaxQueue) })
	s.m.set.NewGauge("distilbert_inflight_requests", func() float64 { return float64(s.inflight.Load()) })
	s.m.set.NewGauge("distilbert_ready", func() float64 { return b2f(s.ready.Load() && !s.draining.Load()) })
	s.m.set.NewGauge("distilbert_cache_entries", func() float64 {
		if s.cache == nil {
			return 0
		}
		return float64(s.cache.len())
	})
	docs, err := renderDocs(openapiJSON)
	if err != nil {
		return nil, err
	}
	s.docsHTML = docs
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		ErrorHandler:          s.handleParseError,
		Name:                  "distilbert",
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.RequestTimeout + cfg.ReadTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		MaxRequestBodySize:    cfg.MaxBodyBytes,
		CloseOnShutdown:       true,
		SecureErrorLogMessage: !cfg.LogTexts,
		Logger:                fasthttpLogger{log},
	}
	return s, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp", "detail", fmt.Sprintf(format, args...))
}

// Run listens on cfg.Addr, warms the model up, marks the service ready and
// serves until ctx is done (SIGTERM in distilbert serve). Then it drains:
// /readyz turns false, the listener closes, in-flight requests are answered
// and Run returns, within cfg.ShutdownGrace (an error if connections were
// still open then).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.srv.Serve(ln) }()
	ei := s.clf.Engine().Info()
	s.log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme, "model", s.clf.Name(),
		"device", ei.Device, "kernels", ei.Kernels, "precision", ei.Precision, "labels", s.labels, "auth", s.keys != nil, "version", s.cfg.Version)

	t0 := time.Now()
	if err := s.warmUp(); err != nil {
		s.srv.Shutdown()
		return fmt.Errorf("warm-up: %w", err)
	}
	go s.b.run()
	s.ready.Store(true)
	s.log.Info("ready", "warmup_ms", ms(time.Since(t0)))

	select {
	case err := <-serveErr:
		s.b.close()
		if err == nil {
			err = errors.New("listener closed")
		}
		return err
	case <-ctx.Done():
	}
	return s.drain()
}

func (s *Server) drain() error {
	s.draining.Store(true)
	s.b.flushNow()
	start := time.Now()
	s.log.Info("draining", "inflight", s.inflight.Load(), "queued", s.b.depth(), "grace", s.cfg.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	err := s.srv.ShutdownWithContext(sctx)
	s.b.close()
	if err != nil {
		s.log.Error("shutdown grace exceeded", "inflight", s.inflight.Load(), "after_ms", ms(time.Since(start)))
		return fmt.Errorf("shutdown: %d requests still in flight after %v", s.inflight.Load(), s.cfg.ShutdownGrace)
	}
	s.log.Info("stopped", "drain_ms", ms(time.Since(start)))
	return nil
}

// warmUp runs a short and a longest-possible text so that buffers are
// sized and code paths touched before the first request.
func (s *Server) warmUp() error {
	maxLen := s.clf.Tokenizer().MaxLen()
	long := strings.Repeat("warm ", maxLen)
	encs := []tokenize.Encoding{s.clf.Encode("warm up the model"), s.clf.Encode(long)}
	_, err := s.clf.PredictEncoded(context.Background(), encs)
	return err
}

func ms(d time.Duration) float64 { return math.Round(d.Seconds()*1e6) / 1e3 }

// reqInfo is what the access log says about a request beyond the basics.
type reqInfo struct {
	client string
	texts  []string
	cached int
}

// handle is the fasthttp handler.
func (s *Server) handle(ctx *fasthttp.RequestCtx) { s.serve(ctx, s.route) }

// serve wraps every request: request id, CORS, panic recovery, metrics,
// access log.
func (s *Server) serve(ctx *fasthttp.RequestCtx, next func(*fasthttp.RequestCtx, int, string, time.Time, *reqInfo)) {
	start := time.Now()
	s.inflight.Add(1)
	route := routeOf(ctx.Path())
	id := requestID(ctx)
	ctx.Response.Header.Set("X-Request-ID", id)
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	s.applyCORS(ctx)
	var info reqInfo
	defer func() {
		if r := recover(); r != nil {
			s.m.panics.Inc()
			s.log.Error("panic in handler", "id", id, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			ctx.Response.Reset()
			ctx.Response.Header.Set("X-Request-ID", id)
			s.applyCORS(ctx)
			writeError(ctx, id, errorf(500, "internal", "internal error"))
		}
		s.inflight.Add(-1)
		status := ctx.Response.StatusCode()
		d := time.Since(start)
		s.m.request(route, status, d.Seconds())
		s.accessLog(ctx, id, route, status, d, &info)
	}()
	next(ctx, route, id, start, &info)
}

func (s *Server) accessLog(ctx *fasthttp.RequestCtx, id string, route, status int, d time.Duration, info *reqInfo) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelWarn
	case !s.cfg.AccessLog:
		return
	}
	if !s.log.Enabled(context.Background(), level) {
		return
	}
	path := string(ctx.Path())
	if len(path) > 200 {
		path = path[:200]
	}
	attrs := []slog.Attr{
		slog.String("id", id),
		slog.String("method", string(ctx.Method())),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Float64("duration_ms", ms(d)),
		slog.String("remote", ctx.RemoteIP().String()),
		slog.Int("bytes_in", len(ctx.Request.Body())),
		slog.Int("bytes_out", len(ctx.Response.Body())),
	}
	if info.client != "" {
		attrs = append(attrs, slog.String("client", info.client))
	}
	if route == routePredict || route == routeBatch || route == routeV2Infer {
		attrs = append(attrs, slog.Int("texts", len(info.texts)), slog.Int("cached", info.cached))
		if s.cfg.LogTexts && len(info.texts) > 0 {
			attrs = append(attrs, slog.Any("text_values", info.texts))
		}
	}
	s.log.LogAttrs(context.Background(), level, "request", attrs...)
}

// requestID honours a sane X-Request-ID (1–128 printable ASCII bytes) or
// makes one.
func requestID(ctx *fasthttp.RequestCtx) string {
	if v := ctx.Request.Header.Peek("X-Request-ID"); len(v) > 0 && len(v) <= 128 {
		ok := true
		for _, c := range v {
			if c < 0x21 || c > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return string(v)
		}
	}
	var b [16]byte
	const hexdigits = "0123456789abcdef"
	x := rand.Uint64()
	for i := range b {
		b[i] = hexdigits[x&15]
		x >>= 4
	}
	return string(b[:])
}

func (s *Server) applyCORS(ctx *fasthttp.RequestCtx) {
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 || len(s.corsOrigins) == 0 {
		return
	}
	h := &ctx.Response.Header
	switch {
	case s.corsAny:
		h.Set("Access-Control-Allow-Origin", "*")
	case s.corsOrigins[string(origin)]:
		h.SetBytesV("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	default:
		return
	}
	h.Set("Access-Control-Expose-Headers", "X-Request-ID, Retry-After")
	if ctx.IsOptions() && len(ctx.Request.Header.Peek("Access-Control-Request-Method")) > 0 {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, X-Request-ID")
		h.Set("Access-Control-Max-Age", "600")
	}
}

func (s *Server) route(ctx *fasthttp.RequestCtx, route int, id string, start time.Time, info *reqInfo) {
	if route == routeOther {
		writeError(ctx, id, errorf(404, "not_found", "no such endpoint: %s", truncate(string(ctx.Path()), 100)))
		return
	}
	if isV2Route(route) { // answers in the protocol's own error shape
		s.serveV2(ctx, route, id, start, info)
		return
	}
	allow := "GET, HEAD, OPTIONS"
	post := route == routePredict || route == routeBatch
	if post {
		allow = "POST, OPTIONS"
	}
	switch {
	case ctx.IsOptions():
		ctx.Response.Header.Set("Allow", allow)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	case post && !ctx.IsPost(), !post && !ctx.IsGet() && !ctx.IsHead():
		ctx.Response.Header.Set("Allow", allow)
		writeError(ctx, id, errorf(405, "method_not_allowed", "%s %s is not allowed; use %s", truncate(string(ctx.Method()), 20), routeNames[route], strings.Split(allow, ",")[0]))
		return
	}
	switch route {
	case routeIndex:
		writeStatic(ctx, "text/html; charset=utf-8", indexHTML)
		ctx.Response.Header.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'")
	case routeDocs:
		writeStatic(ctx, "text/html; charset=utf-8", s.docsHTML)
		ctx.Response.Header.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'")
	case routeOpenAPI:
		writeStatic(ctx, "application/json", openapiJSON)
	case routeHealthz:
		writeJSON(ctx, 200, []byte(`{"status":"ok"}`))
	case routeReadyz:
		switch {
		case s.draining.Load():
			writeJSON(ctx, 503, []byte(`{"status":"draining"}`))
		case !s.ready.Load():
			writeJSON(ctx, 503, []byte(`{"status":"warming_up"}`))
		default:
			writeJSON(ctx, 200, []byte(`{"status":"ready"}`))
		}
	case routeInfo:
		b, err := json.Marshal(s.info())
		if err != nil {
			panic(err)
		}
		writeJSON(ctx, 200, b)
	case routeMetrics:
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		s.m.write(ctx)
	case routePredict, routeBatch:
		s.predict(ctx, route == routeBatch, id, start, info)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func writeStatic(ctx *fasthttp.RequestCtx, ctype string, body []byte) {
	ctx.SetContentType(ctype)
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(body)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(body)
}

func writeError(ctx *fasthttp.RequestCtx, id string, e *apiError) {
	b := make([]byte, 0, 128+len(e.Message))
	b = append(b, `{"error":{"code":`...)
	b = appendJSONString(b, e.Code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.Message)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, id)
	b = append(b, "}}"...)
	writeJSON(ctx, e.Status, b)
}

// handleParseError answers requests fasthttp could not read: too large a
// body (413), too large headers (431), a read timeout (408), or garbage (400).
func (s *Server) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	id := requestID(ctx)
	ctx.Response.Header.Set("X-Request-ID", id)
	var e *apiError
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = errorf(413, "body_too_large", "request body is larger than the limit of %d bytes", s.cfg.MaxBodyBytes)
	case errors.As(err, &small):
		e = errorf(431, "headers_too_large", "request headers are too large")
	case errors.As(err, &ne) && ne.Timeout():
		e = errorf(408, "request_timeout", "timed out reading the request")
	default:
		e = errorf(400, "bad_request", "cannot parse the HTTP request")
	}
	route := routeOf(ctx.Path())
	if isV2Route(route) {
		writeV2Error(ctx, id, e)
	} else {
		writeError(ctx, id, e)
	}
	s.m.request(route, e.Status, time.Since(ctx.Time()).Seconds())
	if s.cfg.AccessLog {
		s.log.Info("request", "id", id, "path", truncate(string(ctx.Path()), 200), "status", e.Status,
			"remote", ctx.RemoteIP().String(), "error", e.Code)
	}
}

// clientKey authenticates the request (when keys are configured) and
// returns the client identity for rate limiting, or an error to answer.
func (s *Server) clientKey(ctx *fasthttp.RequestCtx) (string, *apiError) {
	if s.keys == nil {
		return "ip:" + ctx.RemoteIP().String(), nil
	}
	key := ctx.Request.Header.Peek("X-API-Key")
	if auth := ctx.Request.Header.Peek("Authorization"); len(key) == 0 && len(auth) > 7 && strings.EqualFold(string(auth[:7]), "bearer ") {
		key = auth[7:]
	}
	if len(key) == 0 {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="distilbert"`)
		return "", errorf(401, "unauthorized", "an API key is required: Authorization: Bearer KEY or X-API-Key: KEY")
	}
	id := s.keys.check(key)
	if id == "" {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="distilbert", error="invalid_token"`)
		return "", errorf(401, "unauthorized", "invalid API key")
	}
	return id, nil
}

// predict serves /predict and /predict/batch. /predict also takes Hugging
// Face TEI's request shape, answered in TEI's shape (see tei.go).
func (s *Server) predict(ctx *fasthttp.RequestCtx, batch bool, id string, start time.Time, info *reqInfo) {
	tei := !batch && isTEIRequest(ctx.PostBody())
	if aerr := s.admit(ctx, start, info); aerr != nil {
		if tei {
			writeTEIError(ctx, id, aerr)
		} else {
			writeError(ctx, id, aerr)
		}
		return
	}
	if tei {
		s.predictTEI(ctx, id, start, info)
		return
	}
	texts, aerr := decodeRequest(ctx.PostBody(), batch, s.limits)
	if aerr != nil {
		writeError(ctx, id, aerr)
		return
	}
	results, aerr := s.classify(ctx, texts, classifyOptions{}, id, start, info)
	if aerr != nil {
		writeClassifyError(ctx, id, aerr, writeError)
		return
	}
	b := make([]byte, 0, 64+len(results)*(96+len(s.modelJSON)+24*len(s.labels)))
	if batch {
		b = append(b, `{"predictions":[`...)
	}
	for i := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendResult(b, &results[i])
	}
	if batch {
		b = append(b, "]}"...)
	}
	writeJSON(ctx, 200, b)
}

// admit authenticates and rate-limits a request that needs the model.
func (s *Server) admit(ctx *fasthttp.RequestCtx, start time.Time, info *reqInfo) *apiError {
	client, aerr := s.clientKey(ctx)
	if aerr != nil {
		return aerr
	}
	info.client = client
	if s.lim != nil {
		if ok, wait := s.lim.allow(client, start); !ok {
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return errorf(429, "rate_limited", "rate limit of %g requests/s exceeded; retry in %v", s.cfg.RateLimit, wait.Round(time.Millisecond))
		}
	}
	return nil
}

// classifyOptions change how classify treats its texts.
type classifyOptions struct {
	// refuseTruncated answers 422 input_too_long, before any inference,
	// when a text has more tokens than the model takes (TEI's truncate=false).
	refuseTruncated bool
}

// errClientGoneStatus marks the classify error of a client that closed its
// connection: nobody reads the answer.
const errClientGoneStatus = 499

// classify answers texts from the cache or through the queue and the
// engine, in order, and counts them by label. Every protocol's handler
// calls it after admit, so batching, limits, timeouts and metrics are the
// same for all. Its errors carry Retry-After where one applies.
func (s *Server) classify(ctx *fasthttp.RequestCtx, texts []string, opts classifyOptions, id string, start time.Time, info *reqInfo) ([]result, *apiError) {
	info.texts = texts
	s.m.texts.Add(len(texts))

	results := make([]result, len(texts))
	var encs []tokenize.Encoding
	var missing []int
	for i, t := range texts {
		if s.cache != nil {
			if r, ok := s.cache.get(s.cacheKey + t); ok {
				if opts.refuseTruncated && r.truncated {
					return nil, s.tooManyTokens(i, len(texts))
				}
				results[i] = r
				s.m.cacheHits.Inc()
				info.cached++
				continue
			}
			s.m.cacheMisses.Inc()
		}
		enc := s.clf.Encode(t)
		if opts.refuseTruncated && enc.Truncated {
			return nil, s.tooManyTokens(i, len(texts))
		}
		encs = append(encs, enc)
		missing = append(missing, i)
	}
	if len(encs) > 0 {
		j := newJob(encs, start.Add(s.cfg.RequestTimeout), ctx.Conn())
		if err := s.b.submit(j); err != nil {
			ctx.Response.Header.Set("Retry-After", "1")
			if errors.Is(err, errQueueFull) {
				s.m.queueFull.Inc()
				return nil, errorf(503, "queue_full", "the service is at capacity; retry later")
			}
			return nil, errorf(503, "shutting_down", "the service is shutting down")
		}
		timer := time.NewTimer(time.Until(j.deadline))
		select {
		case <-j.done:
			timer.Stop()
		case <-timer.C:
			j.cancelled.Store(true)
			s.m.timeouts.Inc()
			return nil, errorf(504, "timeout", "no result within the request timeout of %v", s.cfg.RequestTimeout)
		}
		switch {
		case errors.Is(j.err, errClientGone):
			return nil, errorf(errClientGoneStatus, "client_gone", "the client closed the connection")
		case errors.Is(j.err, errStopped):
			ctx.Response.Header.Set("Retry-After", "1")
			return nil, errorf(503, "shutting_down", "the service is shutting down")
		case j.err != nil:
			s.log.Error("inference failed", "id", id, "error", j.err.Error())
			return nil, errorf(500, "inference_failed", "inference failed")
		}
		for k, p := range j.preds {
			r := s.toResult(&p)
			results[missing[k]] = r
			if s.cache != nil {
				s.cache.add(s.cacheKey+texts[missing[k]], r)
			}
		}
	}
	for i := range results {
		s.m.labels[results[i].label].Inc()
	}
	return results, nil
}

func (s *Server) tooManyTokens(i, n int) *apiError {
	name := "the text"
	if n > 1 {
		name = fmt.Sprintf("text %d", i)
	}
	return errorf(422, "input_too_long", "%s has more than the model's %d tokens and truncation is off", name, s.clf.Tokenizer().MaxLen())
}

// writeClassifyError answers a classify error with the protocol's writer,
// except for a client that went away: nobody reads that answer.
func writeClassifyError(ctx *fasthttp.RequestCtx, id string, e *apiError, write func(*fasthttp.RequestCtx, string, *apiError)) {
	if e.Status == errClientGoneStatus {
		ctx.SetStatusCode(errClientGoneStatus) // nginx's "client closed request"
		ctx.SetConnectionClose()
		return
	}
	write(ctx, id, e)
}

func (s *Server) toResult(p *distilbert.Prediction) result {
	r := result{probs: make([]float32, len(s.labels)), logits: p.Logits, tokens: p.Tokens, truncated: p.Truncated}
	for i, l := range s.labels {
		r.probs[i] = p.Scores[l]
		if l == p.Label {
			r.label = i
		}
	}
	return r
}

func (s *Server) appendResult(b []byte, r *result) []byte {
	b = append(b, `{"label":`...)
	b = append(b, s.labelJSON[r.label]...)
	b = append(b, `,"score":`...)
	b = appendFloat(b, r.probs[r.label])
	b = append(b, `,"scores":{`...)
	for i, p := range r.probs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.labelJSON[i]...)
		b = append(b, ':')
		b = appendFloat(b, p)
	}
	b = append(b, `},"tokens":`...)
	b = strconv.AppendInt(b, int64(r.tokens), 10)
	b = append(b, `,"truncated":`...)
	b = strconv.AppendBool(b, r.truncated)
	b = append(b, `,"model":`...)
	b = append(b, s.modelJSON...)
	b = append(b, s.problemJSON...)
	return append(b, '}')
}

func appendFloat(b []byte, f float32) []byte {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, float64(f), 'g', -1, 32)
}

// appendJSONString appends s as a JSON string (s is valid UTF-8 or gets
// U+FFFD, like encoding/json).
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// infoResponse is GET /info.
type infoResponse struct {
	Model        string            `json:"model"`
	Version      string            `json:"version"`
	GoVersion    string            `json:"go_version"`
	Labels       []string          `json:"labels"`
	ProblemType  string            `json:"problem_type,omitempty"` // absent for single-label (softmax) models
	Config       distilbert.Config `json:"config"`
	MaxTokens    int               `json:"max_tokens"`
	Parameters   int64             `json:"parameters"`
	WeightDTypes []string          `json:"weight_dtypes"`
	Quantization string            `json:"quantization"`
	ComputeDType string            `json:"compute_dtype"`
	Int8Kernel   string            `json:"int8_kernel"`
	Kernels      string            `json:"kernels"`
	// Engine says where and how the forward pass runs (device, precision).
	Engine        distilbert.EngineInfo `json:"engine"`
	CPU           kernels.CPUInfo       `json:"cpu"`
	GOMAXPROCS    int                   `json:"gomaxprocs"`
	Batching      map[string]any        `json:"batching"`
	Limits        map[string]any        `json:"limits"`
	Auth          bool                  `json:"auth"`
	RateLimit     float64               `json:"rate_limit_per_s"`
	CacheSize     int                   `json:"cache_size"`
	UptimeSeconds float64               `json:"uptime_seconds"`
	Ready         bool                  `json:"ready"`
	// WeightsSHA256 identifies the weights file; Hub is the repository and
	// revision when the model was loaded from the Hub cache.
	WeightsSHA256 string                `json:"weights_sha256,omitempty"`
	Hub           *distilbert.HubSource `json:"hub,omitempty"`
}

// computeDType names the arithmetic of the encoder's linear layers.
func computeDType(q distilbert.Quantization) string {
	if q == distilbert.QuantInt8 {
		return "I8" // u8·s8 products summed in int32; the rest in float32
	}
	return "F32"
}

func (s *Server) info() infoResponse {
	ei := s.clf.Engine().Info()
	in := infoResponse{
		Model: s.clf.Name(), Version: s.cfg.Version, GoVersion: runtime.Version(),
		Labels: s.labels, Config: *s.clf.Config(), MaxTokens: s.clf.Tokenizer().MaxLen(),
		ProblemType:  string(s.clf.ProblemType()),
		Quantization: string(ei.Quantization), ComputeDType: computeDType(ei.Quantization),
		Int8Kernel: ei.Int8Kernels, Engine: ei,
		Kernels: ei.Kernels, CPU: kernels.CPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Batching: map[string]any{
			"max_batch_size": s.cfg.MaxBatchSize, "max_batch_tokens": s.cfg.MaxBatchTokens,
			"max_wait_ms": ms(s.cfg.MaxWait), "max_queue": s.cfg.MaxQueue,
		},
		Limits: map[string]any{
			"max_body_bytes": s.cfg.MaxBodyBytes, "max_batch_items": s.cfg.MaxBatchItems,
			"max_text_chars": s.cfg.MaxTextChars, "request_timeout_ms": ms(s.cfg.RequestTimeout),
		},
		Auth: s.keys != nil, RateLimit: s.cfg.RateLimit, CacheSize: s.cfg.CacheSize,
		UptimeSeconds: math.Round(time.Since(s.started).Seconds()*1000) / 1000,
		Ready:         s.ready.Load() && !s.draining.Load(),
		WeightsSHA256: s.clf.WeightsSHA256(), Hub: s.clf.HubSource(),
	}
	seen := map[string]bool{}
	for _, t := range s.clf.Tensors() {
		in.Parameters += int64(t.Elements)
		if !seen[t.DType] {
			seen[t.DType] = true
			in.WeightDTypes = append(in.WeightDTypes, t.DType)
		}
	}
	return in
}
