package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// keyring checks API keys in constant time: every configured key is
// compared (as SHA-256 digests, so lengths leak nothing) on every request.
type keyring struct {
	digests [][sha256.Size]byte
	ids     []string // short non-secret id of each key, for logs and rate limiting
}

func newKeyring(keys []string) *keyring {
	if len(keys) == 0 {
		return nil
	}
	k := &keyring{}
	for _, key := range keys {
		d := sha256.Sum256([]byte(key))
		k.digests = append(k.digests, d)
		k.ids = append(k.ids, "key:"+hex.EncodeToString(d[:4]))
	}
	return k
}

// check returns the id of the key, or "" when it matches none.
func (k *keyring) check(key []byte) string {
	d := sha256.Sum256(key)
	found := -1
	for i := range k.digests {
		if subtle.ConstantTimeCompare(d[:], k.digests[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 || len(key) == 0 {
		return ""
	}
	return k.ids[found]
}

// limiter is a token-bucket rate limiter per client (API key id or IP).
type limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	if rate <= 0 {
		return nil
	}
	b := float64(burst)
	if burst <= 0 {
		b = math.Max(1, rate)
	}
	return &limiter{rate: rate, burst: b, buckets: map[string]*bucket{}, lastSweep: time.Now()}
}

// exhausted reports whether client's bucket is empty, without taking
// from it, and how long until it is not.
func (l *limiter) exhausted(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		return false, 0
	}
	if tokens := math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate); tokens < 1 {
		return true, time.Duration((1 - tokens) / l.rate * float64(time.Second))
	}
	return false, 0
}

// allow takes one token from client's bucket; when there is none it
// returns false and how long until there is.
func (l *limiter) allow(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 10000 && now.Sub(l.lastSweep) > time.Second {
		// Forget clients whose bucket has refilled: they are as new.
		l.lastSweep = now
		for k, b := range l.buckets {
			if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
	}
	b, ok := l.buckets[client]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
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
