package server

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// admission is the byte budget for request bodies: a request takes its
// Content-Length (a chunked one, the body limit; a compressed one, the
// body limit more for what it decodes to) from it when its headers
// have been read, before fasthttp reads the body, and gives it back when
// answered. A request the budget cannot take gets 503 at once and its body
// is never buffered (only drained, see trackedConn.Close), so that the
// bodies held and decoded at any time stay within --max-inflight-bytes
// however many clients send at once.
type admission struct {
	max     int64
	maxBody int64

	mu     sync.Mutex
	used   int64
	grants map[*fasthttp.RequestHeader]grant // by the request's header, which fasthttp reuses per connection
}

type grant struct {
	bytes   int64
	refused bool
	at      time.Time // when the headers were read
}

func newAdmission(maxInflight, maxBody int) *admission {
	return &admission{max: int64(maxInflight), maxBody: int64(maxBody), grants: map[*fasthttp.RequestHeader]grant{}}
}

// headerReceived is fasthttp's HeaderReceived hook. A refused request gets
// a body limit of one byte, so that fasthttp stops at its headers with
// ErrBodyTooLarge, which handleParseError answers 503 (see refusedBody).
func (a *admission) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	a.mu.Lock()
	defer a.mu.Unlock()
	// The header of a request that never reached the handler nor the error
	// handler (a connection closed mid-body) is reused by the next request
	// on its context: its grant is over.
	if g, ok := a.grants[h]; ok {
		a.used -= g.bytes
		delete(a.grants, h)
	}
	// Every request gets an entry, for the time its headers were read:
	// fasthttp's ctx.Time() is not set yet for requests answered before
	// their body is read (the expect and error handlers).
	now := time.Now()
	n := int64(h.ContentLength())
	switch {
	case n == -1: // chunked: as much as it may send
		n = a.maxBody
	case n <= 0, n > a.maxBody: // nothing to hold, or a 413 anyway
		a.grants[h] = grant{at: now}
		return fasthttp.RequestConfig{}
	}
	if compressedRequest(h) {
		n += a.maxBody // its decoded copy, up to the body limit (see decodeBody)
	}
	if a.used > 0 && a.used+n > a.max {
		a.grants[h] = grant{refused: true, at: now}
		return fasthttp.RequestConfig{MaxRequestBodySize: 1}
	}
	a.used += n
	a.grants[h] = grant{bytes: n, at: now}
	return fasthttp.RequestConfig{}
}

// release gives a request's bytes back; it reports whether the request was
// refused and how long ago its headers were read (0 when they never were).
func (a *admission) release(h *fasthttp.RequestHeader) (refused bool, elapsed time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.grants[h]
	if !ok {
		return false, 0
	}
	a.used -= g.bytes
	delete(a.grants, h)
	return g.refused, time.Since(g.at)
}

// refused reports whether the request was refused, without releasing.
func (a *admission) refused(h *fasthttp.RequestHeader) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.grants[h].refused
}

func (a *admission) inUse() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used
}

// memoryCeiling is the most memory the service should use beyond what it
// holds when ready (model, runtime), from the flags: the engine's buffers
// for the largest batch, the admitted bodies, each decoded and tokenized
// (a few copies of the body: JSON decoding, the texts, their encodings;
// doubled for the collector's slack), the connections (fasthttp's buffers
// and a goroutine each) and the queued sequences (an encoding of up to 512
// tokens each).
func memoryCeiling(cfg *Config, maxConns int, engineBytes int64) int64 {
	const perConn = 64 << 10
	const perQueued = 32 << 10
	const copiesPerBody = 8
	return engineBytes + copiesPerBody*int64(cfg.MaxInflightBytes) + int64(maxConns)*perConn + int64(cfg.MaxQueue)*perQueued
}

// engineBytes bounds the activations of one forward pass of at most
// maxTokens padded tokens in at most maxSeqs sequences of at most maxLen
// tokens: six [tokens][dim] buffers, one [tokens][hidden] and the
// attention scores, [heads][len][len] per sequence, all float32.
func engineBytes(dim, hidden, heads, maxLen, maxTokens, maxSeqs int) int64 {
	perSeqLen := min(maxLen, maxTokens)
	seqs := min(maxSeqs, max(1, maxTokens/perSeqLen))
	return 4 * (int64(maxTokens)*int64(6*dim+hidden) + int64(seqs)*int64(heads)*int64(perSeqLen)*int64(perSeqLen))
}

// memoryLimitFromCgroup sets the Go runtime's soft memory limit to 90 % of
// the container's memory limit when GOMEMLIMIT is not set, so that the
// collector works harder before the kernel's OOM killer steps in. It
// returns the limit set (0: none).
func memoryLimitFromCgroup() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 { // "max", or v1's "no limit"
			return 0
		}
		limit := n / 10 * 9
		debug.SetMemoryLimit(limit)
		return limit
	}
	return 0
}

// returnMemory gives freed memory back to the system soon after a burst,
// instead of the runtime's gradual scavenging: every period it checks how
// much of the heap is free but still held, and frees it when that is over
// threshold bytes.
func returnMemory(stop <-chan struct{}, period time.Duration, threshold uint64) {
	t := time.NewTicker(period)
	defer t.Stop()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > threshold {
				debug.FreeOSMemory()
			}
		}
	}
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
