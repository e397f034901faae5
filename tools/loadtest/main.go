// Command loadtest drives a running `distilbert serve` with concurrent
// /predict (or /predict/batch) requests and reports latency percentiles,
// throughput and errors per concurrency level; it reads the service's
// /metrics before and after each level to report the batch sizes the
// service formed. With -engine it instead measures the engine alone
// (Classifier.PredictEncoded in-process, same texts, given batch size), the
// baseline the service's throughput is compared with.
//
//	loadtest -url http://127.0.0.1:8080 -c 1,8,64 -d 10s
//	loadtest -url http://127.0.0.1:8080 -rate 200 -c 64 -d 30s   # open loop
//	loadtest -engine -batch-size 32 -d 5s
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/valyala/fasthttp"
)

// defaultTexts are SST-2-style sentences of 8–30 tokens.
var defaultTexts = []string{
	"a charming and often affecting journey .",
	"unflinchingly bleak and desperate",
	"allows us to hope that nolan is poised to embark a major career as a commercial yet inventive filmmaker .",
	"the acting , costumes , music , cinematography and sound are all astounding given the production 's austere locales .",
	"it 's slow -- very , very slow .",
	"although laced with humor and a few fanciful touches , the film is a refreshingly serious look at young women .",
	"a sometimes tedious film .",
	"or doing last year 's taxes with your ex-wife .",
	"you do n't have to know about music to appreciate the film 's easygoing blend of comedy and romance .",
	"in exactly 89 minutes , most of which passed as slowly as if i 'd been sitting naked on an igloo , formula 51 sank from quirky to jerky to utter turkey .",
}

type options struct {
	url, key, textsFile, model      string
	conc                            []int
	duration, timeout, warmup, wait time.Duration
	rate                            float64
	batch, engineBatch              int
	asJSON, engine                  bool
}

// Result is one level's report (one line of -json).
type Result struct {
	Mode        string         `json:"mode"` // closed, open or engine
	Concurrency int            `json:"concurrency,omitempty"`
	Rate        float64        `json:"rate,omitempty"`
	Seconds     float64        `json:"seconds"`
	Requests    int            `json:"requests"`
	Errors      int            `json:"errors"`
	ErrorKinds  map[string]int `json:"error_kinds,omitempty"`
	ReqPerS     float64        `json:"req_per_s"`
	TextsPerS   float64        `json:"texts_per_s"`
	P50ms       float64        `json:"p50_ms"`
	P90ms       float64        `json:"p90_ms"`
	P99ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	MeanBatch   float64        `json:"mean_batch,omitempty"`  // sequences per engine call, from /metrics
	MeanTokens  float64        `json:"mean_tokens,omitempty"` // padded tokens per engine call, from /metrics
	ServerCPU   float64        `json:"server_cpu_s,omitempty"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	var o options
	var conc string
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "service base URL")
	fs.StringVar(&conc, "c", "1,8,64", "concurrency levels (comma-separated); with -rate, the most requests in flight")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "duration of each level")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each level")
	fs.DurationVar(&o.wait, "wait", 0, "wait up to this long for /readyz before starting")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request client timeout")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: start this many requests per second (latency counted from the scheduled start)")
	fs.IntVar(&o.batch, "batch", 0, "texts per request via /predict/batch (0: single /predict)")
	fs.StringVar(&o.textsFile, "texts", "", "file of texts: JSONL {\"text\": ...} or one per line (default: built-in SST-2 sentences)")
	fs.StringVar(&o.key, "key", "", "API key (Authorization: Bearer)")
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object per level")
	fs.BoolVar(&o.engine, "engine", false, "measure the engine alone, in-process, instead of the service")
	fs.IntVar(&o.engineBatch, "batch-size", 32, "with -engine: sequences per PredictEncoded call")
	fs.StringVar(&o.model, "model", "", "with -engine: checkpoint directory (default: embedded sst2-mini)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("-c: %q is not a positive integer", f)
		}
		o.conc = append(o.conc, n)
	}
	texts, err := loadTexts(o.textsFile)
	if err != nil {
		return err
	}
	var results []Result
	if o.engine {
		r, err := engineRun(&o, texts)
		if err != nil {
			return err
		}
		results = append(results, r)
	} else {
		if u, err := url.Parse(o.url); err != nil || u.Host == "" {
			return fmt.Errorf("-url %q: not a URL", o.url)
		}
		for _, c := range o.conc {
			r, err := serviceRun(&o, texts, c)
			if err != nil {
				return err
			}
			results = append(results, r)
			if !o.asJSON {
				fmt.Fprintf(os.Stderr, "c=%d done\n", c)
			}
		}
	}
	return report(stdout, results, o.asJSON)
}

func loadTexts(path string) ([]string, error) {
	if path == "" {
		return defaultTexts, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "{") {
			var rec struct{ Text string }
			if err := json.Unmarshal([]byte(line), &rec); err == nil && rec.Text != "" {
				texts = append(texts, rec.Text)
				continue
			}
		}
		texts = append(texts, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("%s: no texts", path)
	}
	return texts, nil
}

// bodies pre-renders the request bodies, cycling through the texts.
func bodies(texts []string, batch int) (path string, out [][]byte) {
	if batch <= 0 {
		for _, t := range texts {
			b, _ := json.Marshal(map[string]string{"text": t})
			out = append(out, b)
		}
		return "/predict", out
	}
	for i := range texts {
		var group []string
		for k := range batch {
			group = append(group, texts[(i+k)%len(texts)])
		}
		b, _ := json.Marshal(map[string][]string{"texts": group})
		out = append(out, b)
	}
	return "/predict/batch", out
}

type sample struct {
	lat time.Duration
	err string // "" for a 200
}

func serviceRun(o *options, texts []string, c int) (Result, error) {
	path, reqs := bodies(texts, o.batch)
	client := &fasthttp.Client{
		MaxConnsPerHost: c + 4, ReadTimeout: o.timeout, WriteTimeout: o.timeout,
		TLSConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdemponentCallAttempts: 1,
	}
	target := strings.TrimRight(o.url, "/") + path
	do := func(body []byte) string {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(target)
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		if o.key != "" {
			req.Header.Set("Authorization", "Bearer "+o.key)
		}
		req.SetBodyRaw(body)
		if err := client.DoTimeout(req, resp, o.timeout); err != nil {
			if errors.Is(err, fasthttp.ErrTimeout) {
				return "client timeout"
			}
			return "transport: " + strings.SplitN(err.Error(), ":", 2)[0]
		}
		if resp.StatusCode() != 200 {
			return "HTTP " + strconv.Itoa(resp.StatusCode())
		}
		return ""
	}
	if err := checkService(o, client); err != nil {
		return Result{}, err
	}
	if o.warmup > 0 {
		drive(o, c, o.warmup, reqs, do)
	}
	before, _ := scrape(o, client)
	t0 := time.Now()
	samples := drive(o, c, o.duration, reqs, do)
	elapsed := time.Since(t0)
	after, _ := scrape(o, client)
	r := summarize(samples, elapsed)
	r.Mode, r.Concurrency = "closed", c
	if o.rate > 0 {
		r.Mode, r.Rate = "open", o.rate
	}
	perReq := float64(max(1, o.batch))
	r.TextsPerS = r.ReqPerS * perReq
	if n := after["distilbert_batch_size_count"] - before["distilbert_batch_size_count"]; n > 0 {
		r.MeanBatch = (after["distilbert_batch_size_sum"] - before["distilbert_batch_size_sum"]) / n
		r.MeanTokens = (after["distilbert_batch_tokens_sum"] - before["distilbert_batch_tokens_sum"]) / n
	}
	r.ServerCPU = after["process_cpu_seconds_total"] - before["process_cpu_seconds_total"]
	return r, nil
}

func checkService(o *options, client *fasthttp.Client) error {
	code, body, err := client.GetTimeout(nil, strings.TrimRight(o.url, "/")+"/readyz", 5*time.Second)
	for deadline := time.Now().Add(o.wait); (err != nil || code != 200) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		code, body, err = client.GetTimeout(nil, strings.TrimRight(o.url, "/")+"/readyz", 5*time.Second)
	}
	if err != nil {
		return fmt.Errorf("%s/readyz: %w", o.url, err)
	}
	if code != 200 {
		return fmt.Errorf("%s/readyz: %d %s", o.url, code, body)
	}
	return nil
}

// drive runs the load for d: closed loop (c workers back to back) or, with
// -rate, open loop (requests scheduled at the rate, at most c in flight;
// latency from the scheduled time, so queueing in the client counts).
func drive(o *options, c int, d time.Duration, reqs [][]byte, do func([]byte) string) []sample {
	var mu sync.Mutex
	var all []sample
	var next atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	var sched chan time.Time
	if o.rate > 0 {
		sched = make(chan time.Time, 1<<16)
		go func() {
			defer close(sched)
			interval := time.Duration(float64(time.Second) / o.rate)
			for t := time.Now(); t.Before(stop); t = t.Add(interval) {
				time.Sleep(time.Until(t))
				select {
				case sched <- t:
				default: // the client itself is saturated: counted below as missed
					mu.Lock()
					all = append(all, sample{err: "client saturated"})
					mu.Unlock()
				}
			}
		}()
	}
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []sample
			for {
				var t0 time.Time
				if sched != nil {
					t, ok := <-sched
					if !ok {
						break
					}
					t0 = t
				} else {
					if time.Now().After(stop) {
						break
					}
					t0 = time.Now()
				}
				i := next.Add(1)
				e := do(reqs[int(i)%len(reqs)])
				mine = append(mine, sample{lat: time.Since(t0), err: e})
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all
}

func summarize(samples []sample, elapsed time.Duration) Result {
	r := Result{Seconds: round(elapsed.Seconds(), 3), ErrorKinds: map[string]int{}}
	var lats []float64
	for _, s := range samples {
		r.Requests++
		if s.err != "" {
			r.Errors++
			r.ErrorKinds[s.err]++
			continue
		}
		lats = append(lats, s.lat.Seconds()*1000)
	}
	if len(r.ErrorKinds) == 0 {
		r.ErrorKinds = nil
	}
	slices.Sort(lats)
	r.ReqPerS = round(float64(len(lats))/elapsed.Seconds(), 1)
	r.P50ms, r.P90ms, r.P99ms = pct(lats, 50), pct(lats, 90), pct(lats, 99)
	if len(lats) > 0 {
		r.MaxMs = round(lats[len(lats)-1], 2)
	}
	return r
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return round(sorted[max(0, min(i, len(sorted)-1))], 2)
}

func round(v float64, digits int) float64 {
	s := math.Pow(10, float64(digits))
	return math.Round(v*s) / s
}

var seriesRE = regexp.MustCompile(`(?m)^(distilbert_batch_size_(?:sum|count)|distilbert_batch_tokens_(?:sum|count)|process_cpu_seconds_total) (\S+)$`)

func scrape(o *options, client *fasthttp.Client) (map[string]float64, error) {
	code, body, err := client.GetTimeout(nil, strings.TrimRight(o.url, "/")+"/metrics", 5*time.Second)
	out := map[string]float64{}
	if err != nil || code != 200 {
		return out, fmt.Errorf("/metrics: %d %v", code, err)
	}
	for _, m := range seriesRE.FindAllSubmatch(body, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		out[string(m[1])] = v
	}
	return out, nil
}

func report(w io.Writer, rs []Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, r := range rs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tconc\trequests\terrors\treq/s\ttexts/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tbatch\ttokens\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.0f\t\n", r.Mode, r.Concurrency, r.Requests, r.Errors,
			r.ReqPerS, r.TextsPerS, r.P50ms, r.P90ms, r.P99ms, r.MaxMs, r.MeanBatch, r.MeanTokens)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		if len(r.ErrorKinds) > 0 {
			fmt.Fprintf(w, "errors at c=%d: %v\n", r.Concurrency, r.ErrorKinds)
		}
	}
	return nil
}
