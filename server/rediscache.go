package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
)

// redisCache is the second cache level, shared by replicas: results keyed
// by the model's fingerprint (weights' SHA-256, quantization, device,
// precision) and the SHA-256 of the text, never the text itself. Redis is
// an optimisation only: every call has a small time budget, and an error
// or a timeout counts as a miss (counted, logged once per interval), so
// that no request fails or waits because of it.
type redisCache struct {
	client *redis.Client
	ttl    time.Duration
	budget time.Duration
	log    *slog.Logger

	hits, misses, errs *metrics.Counter

	writes chan map[string]any // pending SETs, written by one goroutine
	stop   chan struct{}
	done   chan struct{}

	mu         sync.Mutex
	lastErrLog time.Time
	unlogged   int
}

// cachedResult is a result as stored in Redis.
type cachedResult struct {
	Label     int       `json:"l"`
	Probs     []float32 `json:"p"`
	Tokens    int       `json:"t"`
	Truncated bool      `json:"x,omitempty"`
}

func newRedisCache(url string, ttl, budget time.Duration, set *metrics.Set, log *slog.Logger) (*redisCache, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("--cache-redis: %w", err)
	}
	// The budget bounds each call; go-redis's own retries would overrun it.
	opts.MaxRetries = -1
	opts.DialTimeout = max(budget, 100*time.Millisecond)
	opts.ReadTimeout = budget
	opts.WriteTimeout = budget
	opts.ContextTimeoutEnabled = true
	c := &redisCache{
		client: redis.NewClient(opts),
		ttl:    ttl, budget: budget, log: log,
		hits:   set.NewCounter("distilbert_cache_redis_hits_total"),
		misses: set.NewCounter("distilbert_cache_redis_misses_total"),
		errs:   set.NewCounter("distilbert_cache_redis_errors_total"),
		writes: make(chan map[string]any, 64),
		stop:   make(chan struct{}), done: make(chan struct{}),
	}
	go c.writer()
	return c, nil
}

// key is the Redis key of a text's result under a model's prefix
// (redisPrefix of its fingerprint).
func redisKey(prefix, text string) string {
	d := sha256.Sum256([]byte(text))
	return prefix + hex.EncodeToString(d[:])
}

// getMany looks texts up in one round trip, for a model of nLabels labels
// with the given key prefix; found[i] says whether results[i] was filled.
func (c *redisCache) getMany(prefix string, nLabels int, texts []string) (results []result, found []bool) {
	results, found = make([]result, len(texts)), make([]bool, len(texts))
	keys := make([]string, len(texts))
	for i, t := range texts {
		keys[i] = redisKey(prefix, t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.budget)
	defer cancel()
	vals, err := c.client.MGet(ctx, keys...).Result()
	if err != nil {
		c.failed(err)
		c.misses.Add(len(texts))
		return results, found
	}
	for i, v := range vals {
		s, ok := v.(string)
		var cr cachedResult
		if !ok || json.Unmarshal([]byte(s), &cr) != nil || len(cr.Probs) != nLabels || cr.Label < 0 || cr.Label >= nLabels {
			c.misses.Inc()
			continue
		}
		results[i] = result{label: cr.Label, probs: cr.Probs, tokens: cr.Tokens, truncated: cr.Truncated}
		found[i] = true
		c.hits.Inc()
	}
	return results, found
}

// setMany stores results in the background; when the writer is behind
// (Redis slow or down) they are dropped.
func (c *redisCache) setMany(prefix string, texts []string, results []result) {
	m := make(map[string]any, len(texts))
	for i, t := range texts {
		r := &results[i]
		b, _ := json.Marshal(cachedResult{Label: r.label, Probs: r.probs, Tokens: r.tokens, Truncated: r.truncated})
		m[redisKey(prefix, t)] = b
	}
	select {
	case c.writes <- m:
	default:
	}
}

func (c *redisCache) writer() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case m := <-c.writes:
			ctx, cancel := context.WithTimeout(context.Background(), 10*c.budget)
			_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for k, v := range m {
					p.Set(ctx, k, v, c.ttl)
				}
				return nil
			})
			cancel()
			if err != nil {
				c.failed(err)
			}
		}
	}
}

// failed counts an error and logs at most one line per 10 s.
func (c *redisCache) failed(err error) {
	c.errs.Inc()
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.lastErrLog) < 10*time.Second {
		c.unlogged++
		return
	}
	kind := "error"
	if errors.Is(err, context.DeadlineExceeded) {
		kind = "timeout"
	}
	c.log.Warn("redis cache unavailable; answering from the model", "kind", kind, "error", err.Error(), "since_last_log", c.unlogged)
	c.lastErrLog, c.unlogged = time.Now(), 0
}

func (c *redisCache) close() {
	close(c.stop)
	<-c.done
	c.client.Close()
}
