package nginx

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/deploy/internal/live"
)

// TestForwardedClient runs two replicas that trust nginx's address
// (--trusted-proxies, as compose.yaml sets it) behind the shipped
// nginx.conf, with a per-client rate limit of one request per replica
// (for minutes). Requests come from 127.0.0.1, itself trusted, so its
// X-Forwarded-For stands for an upstream balancer naming the client; and
// from 127.0.0.2, an untrusted client that writes X-Forwarded-For itself.
//
//   - Two forwarded clients are limited separately: once 203.0.113.1 is
//     refused on both replicas, 203.0.113.2 still gets 200, and the access
//     log's client key is the forwarded address.
//   - The untrusted client's own X-Forwarded-For is ignored: with a new
//     made-up address on every request it is still limited as 127.0.0.2.
//
// The same run without --trusted-proxies shows the first point failing
// (every client is nginx), so the check is not vacuous.
func TestForwardedClient(t *testing.T) {
	nginxBin := live.NeedTool(t, "nginx", "nginx")
	untrusted := dialFrom(t, "127.0.0.2")
	for _, trusted := range []bool{true, false} {
		t.Run(fmt.Sprintf("trusted=%v", trusted), func(t *testing.T) {
			args := []string{"--access-log=true", "--rate-limit", "0.01", "--rate-burst", "1"}
			if trusted {
				args = append(args, "--trusted-proxies", "127.0.0.1")
			}
			a := live.Start(t, live.FreePort(t), args...)
			b := live.Start(t, live.FreePort(t), args...)
			front := "http://" + startNginx(t, nginxBin, a.Addr, b.Addr) + "/predict"
			direct := &http.Client{Timeout: 30 * time.Second}

			// Client 1: at most one 200 per replica, then 429s.
			var codes1 []int
			for range 4 {
				codes1 = append(codes1, predict(t, direct, front, "203.0.113.1"))
			}
			if count(codes1, 200) > 2 || count(codes1, 429) < 2 {
				t.Fatalf("client 203.0.113.1: %v, want at most one 200 per replica and then 429", codes1)
			}
			code2 := predict(t, direct, front, "203.0.113.2")
			if !trusted {
				// Without trust both are nginx's 127.0.0.1: one client.
				if code2 != 429 {
					t.Errorf("without --trusted-proxies, 203.0.113.2 got %d after 203.0.113.1 was limited: want 429 (both are nginx)", code2)
				}
				return
			}
			if code2 != 200 {
				t.Errorf("client 203.0.113.2 got %d after 203.0.113.1 was limited: want 200, limited separately", code2)
			}

			// The untrusted client makes up a new address every time.
			var codes3 []int
			for i := range 4 {
				codes3 = append(codes3, predict(t, untrusted, front, fmt.Sprintf("198.51.100.%d", i+1)))
			}
			if count(codes3, 429) < 2 {
				t.Errorf("untrusted 127.0.0.2 with spoofed X-Forwarded-For: %v, want limited as one client (at least two 429)", codes3)
			}

			logs := strings.Join(append(a.Logs(), b.Logs()...), "\n")
			for _, want := range []string{`"client":"ip:203.0.113.1"`, `"client":"ip:203.0.113.2"`, `"client":"ip:127.0.0.2"`} {
				if !strings.Contains(logs, want) {
					t.Errorf("no access log line with %s", want)
				}
			}
			if strings.Contains(logs, `"client":"ip:198.51.100.`) || strings.Contains(logs, `"client":"ip:127.0.0.1"`) {
				t.Errorf("a spoofed address or nginx's own is a client key:\n%s", logs)
			}
		})
	}
}

// predict POSTs one text through nginx with X-Forwarded-For xff and
// returns the status.
func predict(t *testing.T, c *http.Client, url, xff string) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(`{"text":"a fine and moving film"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// dialFrom is a client whose connections leave from the loopback address
// src (Linux routes all of 127.0.0.0/8 to lo), so nginx sees another
// peer than 127.0.0.1.
func dialFrom(t *testing.T, src string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.DialContext(context.Background(), "tcp", fmt.Sprintf("127.0.0.1:%d", live.FreePort(t)))
	if err == nil {
		c.Close()
	} else if !strings.Contains(err.Error(), "refused") {
		t.Skipf("cannot dial from %s: %v", src, err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func count(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}
