package server

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

	reloads        *metrics.Counter
	reloadFailures *metrics.Counter

	requests sync.Map                                                    // reqKey → *metrics.Counter
	latency  [routeOther + 1]atomic.Pointer[metrics.PrometheusHistogram] // by route, made on first use

	modelMu   sync.Mutex
	buildInfo string // the distilbert_build_info series of the model serving
	loadedAt  atomic.Int64
	// deviceMemory is the accelerator memory of the model serving (0: CPU).
	deviceMemory atomic.Int64
}

type reqKey struct {
	route  int
	status int
}

var latencyBuckets = metrics.ExponentialBuckets(0.0005, 2, 16) // 0.5 ms … 16 s

func newServerMetrics() *serverMetrics {
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

		reloads:        s.NewCounter(`distilbert_model_reloads_total{result="success"}`),
		reloadFailures: s.NewCounter(`distilbert_model_reloads_total{result="failure"}`),
	}
	s.NewGauge("distilbert_model_loaded_timestamp_seconds", func() float64 { return float64(m.loadedAt.Load()) / 1e3 })
	s.NewGauge("distilbert_device_memory_bytes", func() float64 { return float64(m.deviceMemory.Load()) })
	registerLimitGauges(s, cgroupFS{}, runtime.NumCPU())
	return m
}

// setModel names the model serving in distilbert_build_info (one series at
// a time) and records when it was loaded.
func (m *serverMetrics) setModel(clf *distilbert.Classifier, version string, loadedAt time.Time) {
	engine := clf.Engine().Info()
	name := fmt.Sprintf(`distilbert_build_info{model=%s,device=%s,kernels=%s,precision=%s,version=%s}`,
		quoteLabel(clf.Name()), quoteLabel(engine.Device), quoteLabel(engine.Kernels), quoteLabel(engine.Precision), quoteLabel(version))
	m.modelMu.Lock()
	defer m.modelMu.Unlock()
	m.loadedAt.Store(loadedAt.UnixMilli())
	m.deviceMemory.Store(engine.DeviceMemory)
	if name == m.buildInfo {
		return
	}
	if m.buildInfo != "" {
		m.set.UnregisterMetric(m.buildInfo)
	}
	m.set.NewGauge(name, func() float64 { return 1 })
	m.buildInfo = name
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
