package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/distilbert"
)

// countingEngine wraps the CPU engine and counts forward passes: a second
// backend, registered and selected the way the GPU one is.
type countingEngine struct {
	distilbert.Engine
}

var countingCalls atomic.Int64

func (e countingEngine) Forward(batch []distilbert.Sequence, logits []float32) error {
	countingCalls.Add(1)
	return e.Engine.Forward(batch, logits)
}

func (e countingEngine) Info() distilbert.EngineInfo {
	info := e.Engine.Info()
	info.Backend, info.Device = "counting", "counting:0"
	return info
}

func init() {
	distilbert.RegisterBackend(distilbert.Backend{Name: "counting", AutoPriority: -1, Open: func(spec distilbert.EngineSpec) (distilbert.Engine, error) {
		spec.Device = "cpu"
		e, err := distilbert.OpenCPU(spec)
		if err != nil {
			return nil, err
		}
		return countingEngine{e}, nil
	}})
}

// The service runs on whatever engine --device selected: it serves
// predictions through it and reports it in /info.
func TestServesThroughSecondBackend(t *testing.T) {
	clf, err := distilbert.LoadEmbedded(distilbert.WithDevice("counting"))
	if err != nil {
		t.Fatal(err)
	}
	defer clf.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := DefaultConfig()
	cfg.Addr = addr
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	s, err := New(clf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("service not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := countingCalls.Load()
	resp, err := http.Post(base+"/predict", "application/json", strings.NewReader(`{"text": "a charming film"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"label"`) {
		t.Fatalf("predict: %d %s", resp.StatusCode, body)
	}
	if countingCalls.Load() == before {
		t.Fatal("the prediction did not run on the selected engine")
	}
	resp, err = http.Get(base + "/info")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Engine distilbert.EngineInfo `json:"engine"`
	}
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.Engine.Backend != "counting" || info.Engine.Device != "counting:0" {
		t.Fatalf("info engine %+v, %v", info.Engine, err)
	}
}
