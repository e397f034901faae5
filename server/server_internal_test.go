package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/distilbert/tokenize"
)

var (
	embeddedOnce sync.Once
	embedded     *distilbert.Classifier
	embeddedErr  error
)

func loadEmbedded(t *testing.T) *distilbert.Classifier {
	t.Helper()
	embeddedOnce.Do(func() { embedded, embeddedErr = distilbert.LoadEmbedded() })
	if embeddedErr != nil {
		t.Fatal(embeddedErr)
	}
	return embedded
}

func newTestServer(t *testing.T, mutate func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(loadEmbedded(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newCtx(method, uri, body string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.SetBodyString(body)
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}, nil)
	return ctx
}

func errorCode(t *testing.T, ctx *fasthttp.RequestCtx) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, RequestID string }
	}
	if err := json.Unmarshal(ctx.Response.Body(), &e); err != nil {
		t.Fatalf("body %q: %v", ctx.Response.Body(), err)
	}
	return e.Error.Code
}

// A panic in a handler must answer 500 with the JSON error, be counted,
// and not take the process down.
func TestHandlerPanicRecovered(t *testing.T) {
	s := newTestServer(t, nil)
	ctx := newCtx("GET", "/info", "")
	ctx.Request.Header.Set("X-Request-ID", "panic-1")
	s.serve(ctx, func(*fasthttp.RequestCtx, int, string, time.Time, *reqInfo) {
		ctx.SetBodyString("partial")
		panic("boom")
	})
	if ctx.Response.StatusCode() != 500 || errorCode(t, ctx) != "internal" {
		t.Fatalf("status %d body %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if got := string(ctx.Response.Header.Peek("X-Request-ID")); got != "panic-1" {
		t.Fatalf("request id %q", got)
	}
	if s.m.panics.Get() != 1 {
		t.Fatalf("panics metric %d", s.m.panics.Get())
	}
}

// A panic in the engine fails the batch's requests with 500, and the
// batcher goes on serving.
func TestEnginePanicRecovered(t *testing.T) {
	s := newTestServer(t, nil)
	real := s.b.predict
	var calls int
	s.b.predict = func(ctx context.Context, m *model, encs []tokenize.Encoding) ([]distilbert.Prediction, error) {
		if calls++; calls == 1 {
			panic("engine boom")
		}
		return real(ctx, m, encs)
	}
	go s.b.run()
	defer s.b.close()
	ctx := newCtx("POST", "/predict", `{"text": "good"}`)
	s.handle(ctx)
	if ctx.Response.StatusCode() != 500 || errorCode(t, ctx) != "inference_failed" {
		t.Fatalf("status %d body %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	ctx = newCtx("POST", "/predict", `{"text": "good"}`)
	s.handle(ctx)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("after a panic: status %d body %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// The batcher always serves the oldest sequence first and groups the
// others by length within the limits.
func TestBatcherTake(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBatchSize = 3
	cfg.MaxBatchTokens = 60
	m := newServerMetrics()
	b := newBatcher(nil, &cfg, m, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	lens := []int{10, 50, 12, 11, 49, 9, 30}
	encs := make([]tokenize.Encoding, len(lens))
	for i, n := range lens {
		encs[i] = tokenize.Encoding{IDs: make([]int32, n)}
	}
	j := newJob(nil, encs, time.Now().Add(time.Hour), nil)
	if err := b.submit(j); err != nil {
		t.Fatal(err)
	}
	var got [][]int
	for {
		batch, _ := b.take()
		if len(batch) == 0 {
			break
		}
		var ns []int
		for _, it := range batch {
			ns = append(ns, it.n)
		}
		got = append(got, ns)
	}
	if s := fmt.Sprint(got); s != "[[10 11 9] [50] [12 30] [49]]" {
		t.Fatalf("batches %s, want [[10 11 9] [50] [12 30] [49]]", s)
	}
}

// After a reload the queue holds sequences of two models: a batch never
// mixes them, and the sequences of a model nobody holds any more (every
// request gave up and the reload released it) are dropped, not run on a
// closed engine.
func TestBatcherOneModelPerBatch(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBatchSize = 8
	cfg.MaxBatchTokens = 1 << 20
	b := newBatcher(nil, &cfg, newServerMetrics(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	oldM, newM, gone := &model{}, &model{}, &model{}
	oldM.refs.Store(1)
	newM.refs.Store(1)
	enc := []tokenize.Encoding{{IDs: make([]int32, 5)}, {IDs: make([]int32, 6)}}
	for _, m := range []*model{oldM, newM, gone, oldM, newM} {
		if err := b.submit(newJob(m, enc, time.Now().Add(time.Hour), nil)); err != nil {
			t.Fatal(err)
		}
	}
	var sizes []int
	for range 10 {
		batch, _ := b.take()
		if len(batch) == 0 {
			if b.depth() == 0 {
				break
			}
			continue
		}
		m := batch[0].j.m
		for _, it := range batch {
			if it.j.m != m {
				t.Fatalf("a batch mixes models")
			}
		}
		if m == gone {
			t.Fatalf("a batch of a released model was taken")
		}
		if m.refs.Load() != 2 {
			t.Fatalf("the batch holds %d references on its model, want 2 (current + engine call)", m.refs.Load()-1)
		}
		m.release()
		sizes = append(sizes, len(batch))
	}
	if fmt.Sprint(sizes) != "[4 4]" {
		t.Fatalf("batch sizes %v, want [4 4] (two per job, two jobs per live model)", sizes)
	}
}
