package server_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis runs Debian's redis-server on a free loopback port for the
// test, without persistence; it returns the URL and the process.
func startRedis(t *testing.T) (string, *exec.Cmd) {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed: scripts/install-test-deps.sh redis (make test runs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(path, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return url, cmd
}

// Two replicas share results through Redis: the second answers from the
// cache what the first classified; keys hold no text; an int8 replica
// does not take float32 results.
func TestRedisSharedCache(t *testing.T) {
	t.Parallel()
	url, _ := startRedis(t)
	args := []string{"--cache-redis", url, "--cache-redis-timeout", "500ms"}
	a := start(t, nil, args...)
	b := start(t, nil, append(args, "--cache-size", "100")...)
	text := "a gorgeous, witty, seductive movie about shared caches"
	body := map[string]string{"text": text}

	r := a.post("/predict", body)
	if r.status != 200 || r.header.Get("X-Cache") != "MISS" {
		t.Fatalf("first: %d X-Cache %q %s", r.status, r.header.Get("X-Cache"), r.body)
	}
	var first, second prediction
	r.json(t, &first)
	// a writes to Redis in the background: wait for the key, so that b's
	// first request (which would fill b's LRU on a miss) finds it there.
	rc := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")})
	defer rc.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if keys, _ := rc.Keys(context.Background(), "*").Result(); len(keys) > 0 || time.Now().After(deadline) {
			break
		}
	}
	r = b.post("/predict", body)
	if r.status != 200 || r.header.Get("X-Cache") != "HIT" {
		t.Fatalf("second replica: %d X-Cache %q", r.status, r.header.Get("X-Cache"))
	}
	r.json(t, &second)
	if !sameScores(first, second) || first.Tokens != second.Tokens || first.Label != second.Label {
		t.Errorf("cached %+v, computed %+v", second, first)
	}
	checkPrediction(t, text, second)
	if got := b.metric("distilbert_cache_redis_hits_total"); got < 1 {
		t.Errorf("redis hits %g", got)
	}
	// The LRU is the first level: the next hit comes from it.
	before := b.metric("distilbert_cache_redis_hits_total")
	if r := b.post("/predict", body); r.header.Get("X-Cache") != "HIT" || b.metric("distilbert_cache_redis_hits_total") != before {
		t.Errorf("second hit on b did not come from the LRU")
	}
	// Batches: partly cached.
	r = b.post("/predict/batch", map[string][]string{"texts": {text, "something else entirely"}})
	if r.status != 200 || r.header.Get("X-Cache") != "PARTIAL" {
		t.Errorf("batch: %d X-Cache %q", r.status, r.header.Get("X-Cache"))
	}

	c := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")})
	defer c.Close()
	keys, err := c.Keys(context.Background(), "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %v: %v", keys, err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "distilbert:") || strings.Contains(k, "movie") || strings.Contains(k, "gorgeous") {
			t.Errorf("key %q", k)
		}
		if ttl := c.TTL(context.Background(), k).Val(); ttl <= 0 {
			t.Errorf("key %q has no TTL", k)
		}
	}

	q := start(t, nil, append(args, "--quantize", "int8")...)
	if r := q.post("/predict", body); r.status != 200 || r.header.Get("X-Cache") != "MISS" {
		t.Errorf("int8 replica: %d X-Cache %q: took a float32 result", r.status, r.header.Get("X-Cache"))
	}
}

// Redis going away mid-load fails no request: the model answers.
func TestRedisDownNoFailures(t *testing.T) {
	t.Parallel()
	url, redisCmd := startRedis(t)
	p := start(t, nil, "--cache-redis", url, "--cache-redis-timeout", "50ms", "--access-log=false")
	var ok, failed atomic.Int64
	var firstFail atomic.Value
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				r := p.post("/predict", map[string]string{"text": longText(10+i%7, w+i%3)})
				if r.status == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
					firstFail.CompareAndSwap(nil, fmt.Sprintf("%d %s", r.status, r.body))
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	redisCmd.Process.Kill()
	time.Sleep(1500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed with Redis killed, first: %v", failed.Load(), ok.Load()+failed.Load(), firstFail.Load())
	}
	if p.metric("distilbert_cache_redis_errors_total") == 0 {
		t.Errorf("no Redis error counted after it was killed")
	}
	var logged int
	for _, rec := range p.logLines() {
		if rec["msg"] == "redis cache unavailable; answering from the model" {
			logged++
		}
	}
	if logged != 1 {
		t.Errorf("%d Redis error lines in 1.5 s, want 1 (one per interval)", logged)
	}
	t.Logf("%d requests, %d failed", ok.Load()+failed.Load(), failed.Load())
}
