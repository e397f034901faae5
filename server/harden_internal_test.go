package server

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/distilbert/tokenize"
)

// The batcher drops the jobs of clients that went away (checked outside
// the queue lock) and keeps the others.
func TestBatcherDropsGoneClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pair := func() (client, server net.Conn) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c, s
	}
	goneClient, goneServer := pair()
	liveClient, liveServer := pair()
	defer liveClient.Close()
	defer goneServer.Close()
	defer liveServer.Close()
	goneClient.Close()

	cfg := DefaultConfig()
	m := newServerMetrics()
	b := newBatcher(nil, &cfg, m, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	enc := []tokenize.Encoding{{IDs: make([]int32, 5)}}
	gone := newJob(nil, enc, time.Now().Add(time.Hour), goneServer)
	live := newJob(nil, enc, time.Now().Add(time.Hour), liveServer)
	for _, j := range []*job{gone, live} {
		if err := b.submit(j); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond) // the FIN reaches the server side
	batch, _ := b.take()
	if len(batch) != 1 || batch[0].j != live {
		t.Fatalf("batch %v, want only the live job", batch)
	}
	select {
	case <-gone.done:
		if gone.err != errClientGone {
			t.Errorf("gone job: %v", gone.err)
		}
	default:
		t.Errorf("the gone client's job is still waiting")
	}
	if m.clientGone.Get() != 1 {
		t.Errorf("client_gone %d, want 1", m.clientGone.Get())
	}
}

// abort answers queued jobs and the batch in progress at once.
func TestBatcherAbort(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBatchSize = 1
	m := newServerMetrics()
	b := newBatcher(nil, &cfg, m, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	enc := []tokenize.Encoding{{IDs: make([]int32, 5)}}
	j1 := newJob(nil, enc, time.Now().Add(time.Hour), nil)
	j2 := newJob(nil, enc, time.Now().Add(time.Hour), nil)
	b.submit(j1)
	b.submit(j2)
	if batch, _ := b.take(); len(batch) != 1 || batch[0].j != j1 {
		t.Fatalf("first batch %v", batch)
	}
	b.abort(errStopped) // j1 is "running", j2 queued
	for i, j := range []*job{j1, j2} {
		select {
		case <-j.done:
			if j.err != errStopped {
				t.Errorf("job %d: %v", i, j.err)
			}
		default:
			t.Errorf("job %d still waiting after abort", i)
		}
	}
	if err := b.submit(newJob(nil, enc, time.Now().Add(time.Hour), nil)); err != errStopped {
		t.Errorf("submit after abort: %v", err)
	}
}

func TestClientAddr(t *testing.T) {
	trusted, err := parseProxies([]string{"10.0.0.0/8", "192.168.1.1"})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9"},             // untrusted peer: header ignored
		{"10.1.2.3", []string{"1.2.3.4"}, "1.2.3.4"},                    // trusted proxy
		{"10.1.2.3", []string{"6.6.6.6, 1.2.3.4, 10.9.9.9"}, "1.2.3.4"}, // right-most untrusted
		{"192.168.1.1", []string{"6.6.6.6", "1.2.3.4"}, "1.2.3.4"},      // several headers: the last counts
		{"10.1.2.3", nil, "10.1.2.3"},                                   // no header
		{"10.1.2.3", []string{"garbage, 10.0.0.7"}, "10.0.0.7"},         // stops at what it cannot parse
		{"10.1.2.3", []string{"::ffff:1.2.3.4"}, "1.2.3.4"},             // mapped IPv4
		{"192.168.1.2", []string{"1.2.3.4"}, "192.168.1.2"},             // a single address is a /32
	} {
		var xff [][]byte
		for _, h := range tc.xff {
			xff = append(xff, []byte(h))
		}
		if got := clientAddr(a(tc.peer), xff, trusted); got != a(tc.want) {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
	if _, err := parseProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Errorf("bad CIDR accepted")
	}
}

func TestConnCaps(t *testing.T) {
	var c Config
	for _, tc := range []struct{ fds, total, per int }{
		{1024, 960, 240}, {0, 10000, 2500}, {1 << 20, 10000, 2500}, {40, 16, 8},
	} {
		if total, per := c.connCaps(tc.fds); total != tc.total || per != tc.per {
			t.Errorf("fd limit %d: caps %d/%d, want %d/%d", tc.fds, total, per, tc.total, tc.per)
		}
	}
	c.MaxConns, c.MaxConnsPerClient = 100, 7
	if total, per := c.connCaps(1024); total != 100 || per != 7 {
		t.Errorf("flags: %d/%d", total, per)
	}
}

func TestLogSampler(t *testing.T) {
	var buf strings.Builder
	l := newLogSampler(slog.New(slog.NewJSONHandler(&buf, nil)), 3, time.Second)
	t0 := time.Unix(1000, 0)
	var allowed int
	for i := range 10 {
		if l.allow(t0.Add(time.Duration(i) * time.Millisecond)) {
			allowed++
		}
	}
	if allowed != 3 || buf.Len() != 0 {
		t.Fatalf("allowed %d, logged %q", allowed, buf.String())
	}
	if !l.allow(t0.Add(1500 * time.Millisecond)) {
		t.Fatal("not allowed in the next window")
	}
	if !strings.Contains(buf.String(), `"count":7`) {
		t.Errorf("summary line %q, want count 7", buf.String())
	}
}
