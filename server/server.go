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
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
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
	routeAdminReload
	routeV2Server // Open Inference Protocol routes: see v2.go
	routeV2Live
	routeV2Ready
	routeV2Model
	routeV2ModelReady
	routeV2Infer
	routeOther
)

var routeNames = []string{"/", "/docs", "/openapi.json", "/healthz", "/readyz", "/info", "/metrics", "/predict", "/predict/batch",
	"/admin/reload", "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/ready", "/v2/models/{name}/infer", "other"}

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

func (s *Server) accessLog(ctx *fasthttp.RequestCtx, id string, route, status int, d time.Duration, info *reqInfo) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelWarn
		if !s.errLog.allow(time.Now()) {
			return
		}
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
		slog.Int("bytes_in", cmp.Or(info.wireBytes, len(ctx.Request.Body()))),
		slog.Int("bytes_out", len(ctx.Response.Body())),
	}
	if trace := traceID(ctx.Request.Header.Peek("traceparent")); trace != "" {
		attrs = append(attrs, slog.String("trace_id", trace))
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

// traceID is the trace id of a W3C Trace Context traceparent header
// ("00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"), or "" when
// the header is absent or malformed, so that access log lines can be
// joined with the traces of the proxies and clients around the service.
func traceID(v []byte) string {
	if len(v) < 55 || (len(v) > 55 && v[55] != '-') || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return ""
	}
	version, trace, parent, flags := v[0:2], v[3:35], v[36:52], v[53:55]
	if string(version) == "ff" || (string(version) == "00" && len(v) != 55) {
		return ""
	}
	for _, f := range [][]byte{version, trace, parent, flags} {
		for _, c := range f {
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return ""
			}
		}
	}
	if strings.Trim(string(trace), "0") == "" || strings.Trim(string(parent), "0") == "" {
		return ""
	}
	return string(trace)
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

// clientKey authenticates the request (when API keys or JWT keys are
// configured: either admits) and returns the client identity for rate
// limiting, or an error to answer.
func (s *Server) clientKey(ctx *fasthttp.RequestCtx) (string, *apiError) {
	if s.keys == nil && s.jwt == nil {
		return "ip:" + s.clientIP(ctx).String(), nil
	}
	key := presentedKey(ctx, "X-API-Key")
	if len(key) == 0 {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="distilbert"`)
		return "", errorf(401, "unauthorized", "an API key is required: Authorization: Bearer KEY or X-API-Key: KEY")
	}
	addr, now := "ip:"+s.clientIP(ctx).String(), time.Now()
	if aerr := s.authThrottled(ctx, addr, now); aerr != nil {
		return "", aerr
	}
	var id string
	if s.keys != nil {
		id = s.keys.check(key)
	}
	if id == "" && s.jwt != nil && looksLikeJWT(key) {
		var err error
		if id, err = s.jwt.verify(string(key)); err != nil {
			s.log.Debug("jwt refused", "remote", addr, "error", err.Error())
		}
	}
	if id == "" {
		s.authFailures.allow(addr, now)
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="distilbert", error="invalid_token"`)
		if s.jwt != nil {
			return "", errorf(401, "unauthorized", "invalid token")
		}
		return "", errorf(401, "unauthorized", "invalid API key")
	}
	return id, nil
}

// presentedKey is the key a request presents: in header, else as
// Authorization: Bearer.
func presentedKey(ctx *fasthttp.RequestCtx, header string) []byte {
	key := ctx.Request.Header.Peek(header)
	if auth := ctx.Request.Header.Peek("Authorization"); len(key) == 0 && len(auth) > 7 && strings.EqualFold(string(auth[:7]), "bearer ") {
		key = auth[7:]
	}
	return key
}

// authThrottled answers 429 when the client at addr has failed to
// authenticate too often (API keys, tokens and admin keys alike).
func (s *Server) authThrottled(ctx *fasthttp.RequestCtx, addr string, now time.Time) *apiError {
	blocked, wait := s.authFailures.exhausted(addr, now)
	if !blocked {
		return nil
	}
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return errorf(429, "rate_limited", "too many failed authentications; retry in %v", wait.Round(time.Millisecond))
}

// predict serves /predict and /predict/batch. /predict also takes Hugging
// Face TEI's request shape, answered in TEI's shape (see tei.go).
func (s *Server) predict(ctx *fasthttp.RequestCtx, batch bool, id string, start time.Time, info *reqInfo) {
	// After admit the body is decoded; a refused compressed one is answered
	// in the native shape, since what it holds is not read.
	aerr := s.admit(ctx, start, info)
	tei := !batch && isTEIRequest(ctx.PostBody())
	if aerr != nil {
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
	results, aerr := s.classify(ctx, texts, classifyOptions{itemName: nativeItemName(batch)}, id, start, info)
	if aerr != nil {
		writeClassifyError(ctx, id, aerr, writeError)
		return
	}
	m := info.model
	b := make([]byte, 0, 64+len(results)*(96+len(m.nameJSON)+24*len(m.labels)))
	if batch {
		b = append(b, `{"predictions":[`...)
	}
	for i := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = m.appendResult(b, &results[i])
	}
	if batch {
		b = append(b, "]}"...)
	}
	writeJSON(ctx, 200, b)
}

// admit authenticates and rate-limits a request that needs the model,
// then decodes its body if the client compressed it.
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
	// Decompressed only now, so that a refused client costs no inflating.
	if compressedRequest(&ctx.Request.Header) {
		info.wireBytes = len(ctx.Request.Body())
	}
	if aerr := decodeBody(&ctx.Request, s.cfg.MaxBodyBytes); aerr != nil {
		if aerr.Status == fasthttp.StatusUnsupportedMediaType {
			ctx.Response.Header.Set(fasthttp.HeaderAcceptEncoding, acceptedEncodings)
		}
		return aerr
	}
	return nil
}

// requestModel is the model the request answers with, taken once.
func (s *Server) requestModel(info *reqInfo) *model {
	if info.model == nil {
		info.model = s.model()
	}
	return info.model
}

// classifyOptions change how classify treats its texts.
type classifyOptions struct {
	// refuseTruncated answers 422 input_too_long, before any inference,
	// when a text has more tokens than the model takes (TEI's truncate=false).
	refuseTruncated bool
	// itemName names text i of n in errors (nil: "the text", "text i").
	itemName func(i int) string
}

// name is how errors name text i of n.
func (o classifyOptions) name(i, n int) string {
	switch {
	case o.itemName != nil:
		return o.itemName(i)
	case n > 1:
		return fmt.Sprintf("text %d", i)
	}
	return "the text"
}

// nativeItemName names texts as /predict and /predict/batch take them.
func nativeItemName(batch bool) func(int) string {
	if !batch {
		return func(int) string { return `"text"` }
	}
	return func(i int) string { return fmt.Sprintf(`"texts"[%d]`, i) }
}

// errClientGoneStatus marks the classify error of a client that closed its
// connection: nobody reads the answer.
const errClientGoneStatus = 499

// classify answers texts from the caches or through the queue and the
// engine, in order, and counts them by label. Every protocol's handler
// calls it after admit, so batching, limits, timeouts and metrics are the
// same for all. Texts take their places in the queue before they are
// tokenized, so that a refusal costs no work. Its errors carry
// Retry-After where one applies.
func (s *Server) classify(ctx *fasthttp.RequestCtx, texts []string, opts classifyOptions, id string, start time.Time, info *reqInfo) ([]result, *apiError) {
	info.texts = texts
	s.m.texts.Add(len(texts))
	m := s.requestModel(info)

	results := make([]result, len(texts))
	var missing []int
	for i, t := range texts {
		if s.cache != nil {
			if r, ok := s.cache.get(m.cacheKey + t); ok {
				results[i] = r
				s.m.cacheHits.Inc()
				info.cached++
				continue
			}
			s.m.cacheMisses.Inc()
		}
		missing = append(missing, i)
	}
	if s.redis != nil && len(missing) > 0 {
		missing = s.fromRedis(m, texts, missing, results, info)
	}
	if opts.refuseTruncated && info.cached > 0 {
		computed := make([]bool, len(texts))
		for _, i := range missing {
			computed[i] = true
		}
		for i := range results {
			if !computed[i] && results[i].truncated {
				return nil, tooManyTokens(m, i, len(texts))
			}
		}
	}
	if s.cache != nil || s.redis != nil {
		switch info.cached {
		case len(texts):
			ctx.Response.Header.Set("X-Cache", "HIT")
		case 0:
			ctx.Response.Header.Set("X-Cache", "MISS")
		default:
			ctx.Response.Header.Set("X-Cache", "PARTIAL")
		}
	}
	if len(missing) > 0 {
		if err := s.b.reserve(len(missing)); err != nil {
			return nil, s.refusal(ctx, err)
		}
		encs := make([]tokenize.Encoding, len(missing))
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.b.unreserve(len(missing))
					panic(r)
				}
			}()
			for k, i := range missing {
				encs[k] = m.clf.Encode(texts[i])
			}
		}()
		for k, i := range missing {
			switch {
			case opts.refuseTruncated && encs[k].Truncated:
				s.b.unreserve(len(missing))
				return nil, tooManyTokens(m, i, len(texts))
			case len(encs[k].IDs) <= 2:
				// A text that normalizes to nothing ("\u0000", a lone
				// surrogate, control characters) is as empty as "".
				s.b.unreserve(len(missing))
				return nil, errorf(422, "empty_text", "%s has no content once normalized", opts.name(i, len(texts)))
			}
		}
		j := newJob(m, encs, start.Add(s.cfg.RequestTimeout), ctx.Conn())
		if err := s.b.submitReserved(j); err != nil {
			return nil, s.refusal(ctx, err)
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
			r := m.toResult(&p)
			results[missing[k]] = r
			if s.cache != nil {
				s.cache.add(m.cacheKey+texts[missing[k]], r)
			}
		}
		if s.redis != nil {
			computed := make([]string, len(missing))
			fresh := make([]result, len(missing))
			for k, i := range missing {
				computed[k], fresh[k] = texts[i], results[i]
			}
			s.redis.setMany(m.redisPrefix, computed, fresh)
		}
	}
	for i := range results {
		m.predictions[results[i].label].Inc()
	}
	return results, nil
}

func tooManyTokens(m *model, i, n int) *apiError {
	name := "the text"
	if n > 1 {
		name = fmt.Sprintf("text %d", i)
	}
	return errorf(422, "input_too_long", "%s has more than the model's %d tokens and truncation is off", name, m.clf.Tokenizer().MaxLen())
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

// fromRedis fills results from the shared cache (and the LRU from it) and
// returns the indices still missing.
func (s *Server) fromRedis(m *model, texts []string, missing []int, results []result, info *reqInfo) []int {
	look := make([]string, len(missing))
	for k, i := range missing {
		look[k] = texts[i]
	}
	got, found := s.redis.getMany(m.redisPrefix, len(m.labels), look)
	still := missing[:0]
	for k, i := range missing {
		if !found[k] {
			still = append(still, i)
			continue
		}
		results[i] = got[k]
		info.cached++
		if s.cache != nil {
			s.cache.add(m.cacheKey+texts[i], got[k])
		}
	}
	return still
}

// refusal is the answer to a request the queue did not take.
func (s *Server) refusal(ctx *fasthttp.RequestCtx, err error) *apiError {
	ctx.Response.Header.Set("Retry-After", "1")
	if errors.Is(err, errQueueFull) {
		s.m.queueFull.Inc()
		return errorf(503, "queue_full", "the service is at capacity; retry later")
	}
	return errorf(503, "shutting_down", "the service is shutting down")
}

func (m *model) toResult(p *distilbert.Prediction) result {
	r := result{probs: make([]float32, len(m.labels)), logits: p.Logits, tokens: p.Tokens, truncated: p.Truncated}
	for i, l := range m.labels {
		r.probs[i] = p.Scores[l]
		if l == p.Label {
			r.label = i
		}
	}
	return r
}

func (m *model) appendResult(b []byte, r *result) []byte {
	b = append(b, `{"label":`...)
	b = append(b, m.labelJSON[r.label]...)
	b = append(b, `,"score":`...)
	b = appendFloat(b, r.probs[r.label])
	b = append(b, `,"scores":{`...)
	for i, p := range r.probs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.labelJSON[i]...)
		b = append(b, ':')
		b = appendFloat(b, p)
	}
	b = append(b, `},"tokens":`...)
	b = strconv.AppendInt(b, int64(r.tokens), 10)
	b = append(b, `,"truncated":`...)
	b = strconv.AppendBool(b, r.truncated)
	b = append(b, `,"model":`...)
	b = append(b, m.nameJSON...)
	b = append(b, m.problemJSON...)
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
	// Revision is the Hub commit, else the weights' SHA-256; LoadedAt is
	// when the model serving was loaded (at start or by the last reload).
	Revision string    `json:"revision"`
	LoadedAt time.Time `json:"loaded_at"`
	// Reload says whether the model can be reloaded (SIGHUP; POST
	// /admin/reload also needs admin keys).
	Reload bool `json:"reload"`
}

// computeDType names the arithmetic of the encoder's linear layers.
func computeDType(q distilbert.Quantization) string {
	if q == distilbert.QuantInt8 {
		return "I8" // u8·s8 products summed in int32; the rest in float32
	}
	return "F32"
}

func (s *Server) info() infoResponse {
	m := s.model()
	defer m.release()
	ei := m.clf.Engine().Info()
	in := infoResponse{
		Model: m.clf.Name(), Version: s.cfg.Version, GoVersion: runtime.Version(),
		Labels: m.labels, Config: *m.clf.Config(), MaxTokens: m.clf.Tokenizer().MaxLen(),
		ProblemType:  string(m.clf.ProblemType()),
		Quantization: string(ei.Quantization), ComputeDType: computeDType(ei.Quantization),
		Int8Kernel: ei.Int8Kernels, Engine: ei,
		Kernels: ei.Kernels, CPU: kernels.CPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Batching: map[string]any{
			"max_batch_size": s.cfg.MaxBatchSize, "max_batch_tokens": s.cfg.MaxBatchTokens,
			"max_wait_ms": ms(s.cfg.MaxWait), "max_queue": s.cfg.MaxQueue,
		},
		Limits: map[string]any{
			"max_body_bytes": s.cfg.MaxBodyBytes, "max_batch_items": s.cfg.MaxBatchItems,
			"max_inflight_bytes": s.cfg.MaxInflightBytes, "memory_ceiling_bytes": s.memoryCeiling(),
			"max_text_chars": s.cfg.MaxTextChars, "request_timeout_ms": ms(s.cfg.RequestTimeout),
		},
		Auth: s.keys != nil || s.jwt != nil, RateLimit: s.cfg.RateLimit, CacheSize: s.cfg.CacheSize,
		UptimeSeconds: math.Round(time.Since(s.started).Seconds()*1000) / 1000,
		Ready:         s.ready.Load() && !s.draining.Load(),
		WeightsSHA256: m.clf.WeightsSHA256(), Hub: m.clf.HubSource(),
		Revision: m.revision, LoadedAt: m.loadedAt.UTC(), Reload: s.cfg.Loader != nil,
	}
	seen := map[string]bool{}
	for _, t := range m.clf.Tensors() {
		in.Parameters += int64(t.Elements)
		if !seen[t.DType] {
			seen[t.DType] = true
			in.WeightDTypes = append(in.WeightDTypes, t.DType)
		}
	}
	return in
}

// clientIP is the client's address: the peer's, or the one a trusted
// proxy forwarded (--trusted-proxies).
func (s *Server) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	peer, _ := netip.AddrFromSlice(ctx.RemoteIP())
	peer = peer.Unmap()
	if len(s.trusted) == 0 {
		return peer
	}
	var xff [][]byte
	for k, v := range ctx.Request.Header.All() {
		if strings.EqualFold(string(k), "X-Forwarded-For") {
			xff = append(xff, v)
		}
	}
	return clientAddr(peer, xff, s.trusted)
}

// memoryCeiling is memoryCeiling for the caps in force.
func (s *Server) memoryCeiling() int64 {
	maxConns, _ := s.cfg.connCaps(fdLimit())
	m := s.model()
	defer m.release()
	c := m.clf.Config()
	return memoryCeiling(&s.cfg, maxConns, engineBytes(c.Dim, c.HiddenDim, c.NHeads,
		m.clf.Tokenizer().MaxLen(), s.cfg.MaxBatchTokens, s.cfg.MaxBatchSize))
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
