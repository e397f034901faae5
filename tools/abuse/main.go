// Command abuse measures how a running `distilbert serve` holds up under
// the abuse of issue 19, and reports the timings the tests do not assert.
// First, unloaded /predict latency (p50, p99). Then a flood of N
// concurrent batch requests of about 1 MB each: the median time to their
// 503 and /healthz latency throughout. Last, idle and slowloris
// connections (headers sent a byte a second) held from another loopback
// address, and /predict latency meanwhile against the unloaded p99.
//
//	abuse -url http://127.0.0.1:8080 -flood 1000 -idle 2000 -slowloris 200
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "service base URL")
	flood := flag.Int("flood", 1000, "concurrent batch requests in the flood (0: skip)")
	bodyBytes := flag.Int("body-bytes", 1_000_000, "approximate size of each flood request")
	idle := flag.Int("idle", 2000, "idle connections held in phase 3 (0 with -slowloris 0: skip)")
	slow := flag.Int("slowloris", 200, "slowloris connections held in phase 3")
	from := flag.String("from", "127.0.0.2", "local address the flood's held connections come from")
	samples := flag.Int("samples", 200, "/predict requests per latency measurement")
	flag.Parse()
	u, err := url.Parse(*base)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	unloaded := predictLatencies(client, *base, *samples)
	fmt.Printf("unloaded /predict: p50 %v p99 %v\n", pct(unloaded, 50), pct(unloaded, 99))

	// Held connections before the flood: the flood's admitted batches
	// would keep the engine busy for a while after it.
	if *idle > 0 || *slow > 0 {
		conns := hold(u.Host, *from, *idle, *slow)
		held := predictLatencies(client, *base, *samples)
		p99, p99u := pct(held, 99), pct(unloaded, 99)
		fmt.Printf("with %d idle + %d slowloris connections held: /predict p50 %v p99 %v (%.2fx the unloaded p99)\n",
			*idle, *slow, pct(held, 50), p99, float64(p99)/float64(max(p99u, 1)))
		for _, c := range conns {
			c.Close()
		}
	}
	if *flood > 0 {
		runFlood(*base, *flood, *bodyBytes)
	}
}

func predictLatencies(client *http.Client, base string, n int) []time.Duration {
	var mu sync.Mutex
	var out []time.Duration
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				body := fmt.Sprintf(`{"text":"a charming and often affecting journey, take %d"}`, i)
				t0 := time.Now()
				resp, err := client.Post(base+"/predict", "application/json", strings.NewReader(body))
				d := time.Since(t0)
				if err != nil {
					fmt.Fprintln(os.Stderr, "predict:", err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					out = append(out, d)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func runFlood(base string, n, size int) {
	per := size / 256
	texts := make([]string, 256)
	for i := range texts {
		texts[i] = strings.Repeat("an overlong and repetitive review ", per/34+1)[:per-4]
	}
	body, _ := json.Marshal(map[string][]string{"texts": texts})
	client := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	before := serverBuckets(base)
	stop := make(chan struct{})
	var health []time.Duration
	var healthFail int
	var hwg sync.WaitGroup
	hwg.Add(1)
	go func() {
		defer hwg.Done()
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			t0 := time.Now()
			resp, err := hc.Get(base + "/healthz")
			if err != nil {
				healthFail++
				continue
			}
			resp.Body.Close()
			health = append(health, time.Since(t0))
		}
	}()

	var mu sync.Mutex
	var to503 []time.Duration
	statuses := map[int]int{}
	var wg sync.WaitGroup
	t0 := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Time to 503 is to the first byte of the answer, which the
			// service sends at the headers, while the client may still be
			// uploading the body it had no chance to hold back.
			start := time.Now()
			var first time.Duration
			trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Since(start) }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
				"POST", base+"/predict/batch", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			status := -1
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			mu.Lock()
			statuses[status]++
			if status == 503 {
				to503 = append(to503, first)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(stop)
	hwg.Wait()
	fmt.Printf("flood of %d x %d-byte batches in %v: statuses %v (-1: transport error)\n", n, len(body), time.Since(t0).Round(time.Millisecond), statuses)
	fmt.Printf("  time to 503: p50 %v p99 %v (client: dial, upload and scheduling included)\n", pct(to503, 50), pct(to503, 99))
	if after := serverBuckets(base); len(after) > 0 {
		// The service's own view: from the headers read to the answer.
		fmt.Printf("  server time from headers to answer: p50 <= %s, p90 <= %s, p99 <= %s\n",
			bucketQuantile(before, after, 0.50), bucketQuantile(before, after, 0.90), bucketQuantile(before, after, 0.99))
	}
	fmt.Printf("  /healthz during the flood: %d answered, %d failed, p50 %v p99 %v max %v\n",
		len(health), healthFail, pct(health, 50), pct(health, 99), pct(health, 100))
}

// hold opens idle connections and slowloris ones (a request's headers a
// byte a second) from the local address from.
func hold(addr, from string, idle, slow int) []net.Conn {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	var conns []net.Conn
	for range idle {
		if c, err := d.Dial("tcp", addr); err == nil {
			conns = append(conns, c)
		}
	}
	req := []byte("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n")
	for range slow {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			continue
		}
		conns = append(conns, c)
		go func() {
			for _, b := range req {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(time.Second)
			}
		}()
	}
	fmt.Printf("held %d connections from %s\n", len(conns), from)
	time.Sleep(time.Second)
	return conns
}

// bucket is one cumulative histogram bucket: requests at most le seconds.
type bucket struct {
	le    string
	count float64
}

// serverBuckets reads the /predict/batch latency histogram from /metrics
// (nil when it cannot).
func serverBuckets(base string) []bucket {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	const prefix = `distilbert_http_request_duration_seconds_bucket{path="/predict/batch",le="`
	var out []bucket
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		le, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		var v float64
		fmt.Sscan(val, &v)
		out = append(out, bucket{le, v})
	}
	return out
}

// bucketQuantile is the upper bound of the bucket holding quantile q of
// the requests counted between two reads of the histogram.
func bucketQuantile(before, after []bucket, q float64) string {
	prev := map[string]float64{}
	for _, b := range before {
		prev[b.le] = b.count
	}
	total := after[len(after)-1].count - prev[after[len(after)-1].le]
	for _, b := range after {
		if b.count-prev[b.le] >= q*total {
			return b.le + "s"
		}
	}
	return "+Inf"
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p)/100)
	return s[i].Round(10 * time.Microsecond)
}
