package server

import (
	"cmp"
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

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
