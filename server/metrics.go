package server

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/distilbert-go/distilbert/distilbert"
)

// serverMetrics are the service's Prometheus metrics, in their own set (so
// that several servers in one process, as in tests, do not collide).
type serverMetrics struct {
	set *metrics.Set

	inference   *metrics.PrometheusHistogram // seconds per engine call
	queueWait   *metrics.PrometheusHistogram // seconds from enqueue to the batch start, per sequence
	batchSize   *metrics.PrometheusHistogram // sequences per engine call
	batchTokens *metrics.PrometheusHistogram // padded tokens per engine call
	batches     *metrics.Counter
	skipped     *metrics.Counter // queued sequences dropped: deadline passed, client gone
	clientGone  *metrics.Counter
	queueFull   *metrics.Counter
	timeouts    *metrics.Counter
	panics      *metrics.Counter
	cacheHits   *metrics.Counter
	cacheMisses *metrics.Counter
	texts       *metrics.Counter

	requests sync.Map                                                    // reqKey → *metrics.Counter
	latency  [routeOther + 1]atomic.Pointer[metrics.PrometheusHistogram] // by route, made on first use
	labels   []*metrics.Counter                                          // predictions by label index
}

type reqKey struct {
	route  int
	status int
}

var latencyBuckets = metrics.ExponentialBuckets(0.0005, 2, 16) // 0.5 ms … 16 s

func newServerMetrics(labels []string, model string, engine distilbert.EngineInfo, version string) *serverMetrics {
	s := metrics.NewSet()
	m := &serverMetrics{
		set:         s,
		inference:   s.NewPrometheusHistogramExt("distilbert_inference_duration_seconds", latencyBuckets),
		queueWait:   s.NewPrometheusHistogramExt("distilbert_queue_wait_seconds", latencyBuckets),
		batchSize:   s.NewPrometheusHistogramExt("distilbert_batch_size", metrics.ExponentialBuckets(1, 2, 10)),
		batchTokens: s.NewPrometheusHistogramExt("distilbert_batch_tokens", metrics.ExponentialBuckets(16, 2, 12)),
		batches:     s.NewCounter("distilbert_batches_total"),
		skipped:     s.NewCounter("distilbert_skipped_sequences_total"),
		clientGone:  s.NewCounter("distilbert_client_gone_total"),
		queueFull:   s.NewCounter("distilbert_queue_full_total"),
		timeouts:    s.NewCounter("distilbert_timeouts_total"),
		panics:      s.NewCounter("distilbert_panics_total"),
		cacheHits:   s.NewCounter("distilbert_cache_hits_total"),
		cacheMisses: s.NewCounter("distilbert_cache_misses_total"),
		texts:       s.NewCounter("distilbert_texts_total"),
	}
	for _, l := range labels {
		m.labels = append(m.labels, s.GetOrCreateCounter(fmt.Sprintf(`distilbert_predictions_total{label=%s}`, quoteLabel(l))))
	}
	s.NewGauge(fmt.Sprintf(`distilbert_build_info{model=%s,device=%s,kernels=%s,precision=%s,version=%s}`,
		quoteLabel(model), quoteLabel(engine.Device), quoteLabel(engine.Kernels), quoteLabel(engine.Precision), quoteLabel(version)),
		func() float64 { return 1 })
	registerLimitGauges(s, cgroupFS{}, runtime.NumCPU())
	return m
}

// request counts one answered request.
func (m *serverMetrics) request(route, status int, seconds float64) {
	k := reqKey{route, status}
	c, ok := m.requests.Load(k)
	if !ok {
		c, _ = m.requests.LoadOrStore(k, m.set.GetOrCreateCounter(fmt.Sprintf(
			`distilbert_http_requests_total{path=%s,status="%d"}`, quoteLabel(routeNames[route]), status)))
	}
	c.(*metrics.Counter).Inc()
	h := m.latency[route].Load()
	if h == nil {
		h = m.set.GetOrCreatePrometheusHistogramExt(fmt.Sprintf(
			`distilbert_http_request_duration_seconds{path=%s}`, quoteLabel(routeNames[route])), latencyBuckets)
		m.latency[route].Store(h)
	}
	h.Update(seconds)
}

// write writes the service's metrics, then the Go runtime and process ones,
// each family with its HELP and TYPE (metrics_help.go).
func (m *serverMetrics) write(w io.Writer) error {
	var b bytes.Buffer
	m.set.WritePrometheus(&b)
	metrics.WriteProcessMetrics(&b)
	return writeWithMetadata(w, b.Bytes())
}

// quoteLabel quotes a Prometheus label value.
func quoteLabel(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
