package server

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteWithMetadata(t *testing.T) {
	in := strings.Join([]string{
		`distilbert_batch_size_bucket{le="1"} 2`,
		`distilbert_batch_size_bucket{le="+Inf"} 3`,
		`distilbert_batch_size_sum 4`,
		`distilbert_batch_size_count 3`,
		`distilbert_http_requests_total{path="/predict",status="200"} 5`,
		`distilbert_http_requests_total{path="/readyz",status="503"} 1`,
		`go_cgo_calls_count 0`,
		`go_gc_forced_count 2`,
		`mystery_metric 1`,
		`go_gc_duration_seconds{quantile="0.5"} 0.001`,
		`go_gc_duration_seconds_sum 0.002`,
		`go_gc_duration_seconds_count 2`,
		``,
	}, "\n")
	var out bytes.Buffer
	if err := writeWithMetadata(&out, []byte(in)); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		`# HELP distilbert_batch_size ` + metricFamilies["distilbert_batch_size"].help,
		`# TYPE distilbert_batch_size histogram`,
		`distilbert_batch_size_bucket{le="1"} 2`,
		`distilbert_batch_size_bucket{le="+Inf"} 3`,
		`distilbert_batch_size_sum 4`,
		`distilbert_batch_size_count 3`,
		`# HELP distilbert_http_requests_total ` + metricFamilies["distilbert_http_requests_total"].help,
		`# TYPE distilbert_http_requests_total counter`,
		`distilbert_http_requests_total{path="/predict",status="200"} 5`,
		`distilbert_http_requests_total{path="/readyz",status="503"} 1`,
		`# HELP go_gc_forced_total ` + metricFamilies["go_gc_forced_total"].help,
		`# TYPE go_gc_forced_total counter`,
		`go_gc_forced_total 2`,
		`# TYPE mystery_metric untyped`,
		`mystery_metric 1`,
		`# HELP go_gc_duration_seconds ` + metricFamilies["go_gc_duration_seconds"].help,
		`# TYPE go_gc_duration_seconds summary`,
		`go_gc_duration_seconds{quantile="0.5"} 0.001`,
		`go_gc_duration_seconds_sum 0.002`,
		`go_gc_duration_seconds_count 2`,
		``,
	}, "\n")
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestMetricFamiliesWellFormed(t *testing.T) {
	for name, f := range metricFamilies {
		switch f.typ {
		case "counter":
			if !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
		case "gauge", "histogram", "summary":
		default:
			t.Errorf("%s: type %q", name, f.typ)
		}
		if len(f.help) < 10 || strings.ContainsAny(f.help, "\n\\") {
			t.Errorf("%s: help %q", name, f.help)
		}
	}
}
