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
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/distilbert-go/distilbert/distilbert"
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
	routeAdminReload
	routeV2Server // Open Inference Protocol routes: see v2.go
	routeV2Live
	routeV2Ready
	routeV2Model
	routeV2ModelReady
	routeV2Infer
	routeV2ModelConfig
	routeOther
)

var routeNames = []string{"/", "/docs", "/openapi.json", "/healthz", "/readyz", "/info", "/metrics", "/predict", "/predict/batch",
	"/admin/reload", "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/ready", "/v2/models/{name}/infer",
	"/v2/models/{name}/config", "other"}

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

	// cur is the model being served, swapped by Reload; handlers take it
	// with model() and keep it for the whole request.
	cur        atomic.Pointer[model]
	generation atomic.Uint64 // one per model loaded
	reloading  sync.Mutex    // one Reload at a time
	adminKeys  *keyring      // nil: the admin endpoints are off

	docsHTML []byte
	started  time.Time

	ready    atomic.Bool
	draining atomic.Bool
	inflight atomic.Int64

	srv   *fasthttp.Server
	conns *connListener // set by Run
	adm   *admission
	jwt   *jwtVerifier // nil: no JWTs
	// authFailures throttles failed authentication per client address,
	// so that keys and tokens cannot be guessed at network speed.
	authFailures *limiter
	errLog       *logSampler    // 5xx lines
	redis        *redisCache    // nil: no shared cache
	batching     atomic.Bool    // the batcher goroutine was started
	trusted      []netip.Prefix // --trusted-proxies
}

// New prepares a server for the classifier; nothing listens before Run.
func New(clf *distilbert.Classifier, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkBatchLimits(clf.Engine().Info()); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		level, _ := parseLevel(cfg.LogLevel)
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	s := &Server{
		cfg: cfg, clf: clf, log: log,
		keys:        newKeyring(cfg.APIKeys),
		lim:         newLimiter(cfg.RateLimit, cfg.RateBurst),
		cache:       newLRU(cfg.CacheSize),
		limits:      limits{MaxBodyBytes: cfg.MaxBodyBytes, MaxBatchItems: cfg.MaxBatchItems, MaxTextChars: cfg.MaxTextChars},
		adminKeys:   newKeyring(cfg.AdminKeys),
		corsOrigins: map[string]bool{},
		started:     time.Now(),
	}
	for _, o := range cfg.CORSOrigins {
		if o == "*" {
			s.corsAny = true
		}
		s.corsOrigins[o] = true
	}
	s.m = newServerMetrics()
	fp := cfg.ModelFingerprint
	if fp == "" {
		fp = ModelFingerprint(clf)
	}
	s.cur.Store(s.newModel(clf, fp, s.generation.Add(1), cfg.OwnModel))
	s.m.setModel(clf, cfg.Version, time.Now())
	s.b = newBatcher(nil, &s.cfg, s.m, log)
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
		ExpectHandler:         s.expect,
		HeaderReceived:        s.headerReceived,
	}
	if cfg.MaxInflightBytes == 0 {
		s.cfg.MaxInflightBytes = max(32<<20, 4*cfg.MaxBodyBytes)
	}
	s.adm = newAdmission(s.cfg.MaxInflightBytes, cfg.MaxBodyBytes)
	s.m.set.NewGauge("distilbert_inflight_body_bytes", func() float64 { return float64(s.adm.inUse()) })
	s.trusted, _ = parseProxies(cfg.TrustedProxies) // checked by Validate
	if s.jwt, err = newJWTVerifier(cfg.JWTHS256SecretFile, cfg.JWTPublicKeyFile, cfg.JWTIssuer, cfg.JWTAudience); err != nil {
		return nil, err
	}
	s.authFailures = newLimiter(1, 20)
	s.errLog = newLogSampler(log, 20, time.Second)
	if cfg.CacheRedis != "" {
		if s.redis, err = newRedisCache(cfg.CacheRedis, cfg.CacheRedisTTL, cfg.CacheRedisTimeout, s.m.set, log); err != nil {
			return nil, err
		}
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
// and Run returns nil, within cfg.ShutdownGrace of the signal (see drain).
func (s *Server) Run(ctx context.Context) error {
	tcp, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	fds := fdLimit()
	maxConns, perClient := s.cfg.connCaps(fds)
	if fds > 0 && maxConns > fds {
		s.log.Warn("--max-conns is above the open-files limit", "max_conns", maxConns, "open_files_limit", fds)
	}
	s.conns = newConnListener(tcp, s.log, s.m.set, maxConns, perClient, s.trusted,
		max(8<<20, 4*int64(s.cfg.MaxBodyBytes)), 3*time.Second)
	var ln net.Listener = s.conns
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
	m := s.model()
	ei := m.clf.Engine().Info()
	s.log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme, "model", m.clf.Name(),
		"device", ei.Device, "kernels", ei.Kernels, "precision", ei.Precision, "labels", m.labels,
		"auth", s.keys != nil || s.jwt != nil, "version", s.cfg.Version, "max_conns", maxConns, "max_conns_per_client", perClient)

	t0 := time.Now()
	err = warmUp(m.clf)
	m.release()
	if err != nil {
		s.srv.Shutdown()
		return fmt.Errorf("warm-up: %w", err)
	}
	s.batching.Store(true)
	go s.b.run()
	if s.redis != nil {
		defer s.redis.close()
	}
	stopReturning := make(chan struct{})
	defer close(stopReturning)
	go returnMemory(stopReturning, 5*time.Second, 64<<20)
	if limit := memoryLimitFromCgroup(); limit > 0 {
		s.log.Info("GOMEMLIMIT from the cgroup memory limit", "bytes", limit)
	}
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
	delay := min(s.cfg.ShutdownDelay, s.cfg.ShutdownGrace/2)
	if errors.Is(context.Cause(ctx), ErrInterrupted) {
		delay = 0
	}
	return s.drain(time.Now(), delay)
}

// ErrInterrupted, as the cause of Run's context, asks for a drain without
// the shutdown delay (Ctrl-C rather than a load balancer's SIGTERM).
var ErrInterrupted = errors.New("interrupted")

// drain is the shutdown, bounded by cfg.ShutdownGrace from the signal:
// /readyz turns 503 at once while everything is still served, so that
// load balancers stop sending; after the shutdown delay the listener
// closes and what is queued and in flight is finished; at the end of the
// grace whatever still waits is answered 503 and drain returns (exit 0).
func (s *Server) drain(signalled time.Time, delay time.Duration) error {
	s.draining.Store(true)
	grace := s.cfg.ShutdownGrace
	s.log.Info("draining", "inflight", s.inflight.Load(), "queued", s.b.depth(),
		"delay", delay.String(), "grace", grace.String())
	time.Sleep(delay)
	s.b.flushNow()
	sctx, cancel := context.WithDeadline(context.Background(), signalled.Add(grace))
	defer cancel()
	if err := s.srv.ShutdownWithContext(sctx); err != nil {
		queued := s.b.depth()
		s.b.abort(errStopped)
		// The handlers just woken answer 503 in microseconds; give them
		// a moment to write before the process exits.
		for end := time.Now().Add(500 * time.Millisecond); s.inflight.Load() > 0 && time.Now().Before(end); {
			time.Sleep(5 * time.Millisecond)
		}
		// The batch in progress runs on; wait for it a little more, so that
		// the caller may close the model (see EngineIdle).
		select {
		case <-s.b.exited:
		case <-time.After(time.Until(signalled.Add(grace + 800*time.Millisecond))):
		}
		s.log.Warn("shutdown grace over; the rest answered 503", "queued", queued,
			"inflight", s.inflight.Load(), "after_ms", ms(time.Since(signalled)))
		return nil
	}
	s.b.close()
	s.log.Info("stopped", "drain_ms", ms(time.Since(signalled)))
	return nil
}

// expect answers "Expect: 100-continue": a body announced over the limit
// gets its 413 instead of an invitation to send it.
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	if s.adm.refused(&ctx.Request.Header) {
		_, elapsed := s.adm.release(&ctx.Request.Header)
		id := requestID(ctx)
		ctx.Response.Header.Set("X-Request-ID", id)
		s.writeOverloaded(ctx, id)
		markLinger(ctx.Conn())
		s.m.request(routeOf(ctx.Path()), 503, elapsed.Seconds())
		return fasthttp.StatusServiceUnavailable
	}
	if n := ctx.Request.Header.ContentLength(); n > s.cfg.MaxBodyBytes {
		_, elapsed := s.adm.release(&ctx.Request.Header)
		id := requestID(ctx)
		ctx.Response.Header.Set("X-Request-ID", id)
		writeError(ctx, id, errorf(413, "body_too_large", "request body is %d bytes, the limit is %d", n, s.cfg.MaxBodyBytes))
		markLinger(ctx.Conn())
		s.m.request(routeOf(ctx.Path()), 413, elapsed.Seconds())
		return fasthttp.StatusRequestEntityTooLarge
	}
	return fasthttp.StatusContinue
}

func ms(d time.Duration) float64 { return math.Round(d.Seconds()*1e6) / 1e3 }

// reqInfo is what the access log says about a request beyond the basics.
type reqInfo struct {
	model  *model // taken by classify, released when the request ends
	client string
	texts  []string
	cached int
	// wireBytes is the body's size as sent, when it was compressed (the
	// request then holds it inflated); 0 otherwise.
	wireBytes int
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
		if info.model != nil {
			info.model.release()
		}
		s.adm.release(&ctx.Request.Header)
		s.inflight.Add(-1)
		if s.cfg.CompressResponses {
			compressResponse(ctx) // before the access log, which counts the bytes sent
		}
		status := ctx.Response.StatusCode()
		d := time.Since(start)
		s.m.request(route, status, d.Seconds())
		s.accessLog(ctx, id, route, status, d, &info)
	}()
	next(ctx, route, id, start, &info)
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
	post := route == routePredict || route == routeBatch || route == routeAdminReload
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
	case routeAdminReload:
		s.adminReload(ctx, id)
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
	// The time is from the headers, as for requests that are served; a
	// request whose headers could not be read counts 0.
	refused, elapsed := s.adm.release(&ctx.Request.Header)
	switch {
	case refused && errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.writeOverloaded(ctx, id)
		markLinger(ctx.Conn())
		s.m.request(routeOf(ctx.Path()), 503, elapsed.Seconds())
		return
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
	// fasthttp closes the connection after this answer, maybe with part
	// of the request unread.
	markLinger(ctx.Conn())
	s.m.request(route, e.Status, elapsed.Seconds())
	if s.cfg.AccessLog {
		s.log.Info("request", "id", id, "path", truncate(string(ctx.Path()), 200), "status", e.Status,
			"remote", ctx.RemoteIP().String(), "error", e.Code)
	}
}

// headerReceived admits a request's body into the byte budget.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	return s.adm.headerReceived(h)
}

// writeOverloaded answers a request the byte budget did not take.
func (s *Server) writeOverloaded(ctx *fasthttp.RequestCtx, id string) {
	s.m.queueFull.Inc()
	ctx.Response.Header.Set("Retry-After", "1")
	writeError(ctx, id, errorf(503, "queue_full", "the service is at capacity; retry later"))
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

// EngineIdle reports whether no engine call is running any more: after Run
// returned past the shutdown grace, a batch may still be running, and the
// model must not be closed (unmapped) under it.
func (s *Server) EngineIdle() bool {
	if !s.batching.Load() {
		return true
	}
	select {
	case <-s.b.exited:
		return true
	default:
		return false
	}
}
