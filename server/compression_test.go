package server_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// gzipBytes compresses with fasthttp's encoder, another than the unit
// tests' (compress/gzip), for one more pair of implementations.
func gzipBytes(b []byte) []byte { return fasthttp.AppendGzipBytes(nil, b) }

// decodedBody is a response's body decoded from the coding it names.
func decodedBody(t *testing.T, r response) []byte {
	t.Helper()
	var rd io.Reader = bytes.NewReader(r.body)
	var err error
	switch enc := r.header.Get("Content-Encoding"); enc {
	case "":
		return r.body
	case "gzip":
		rd, err = gzip.NewReader(rd)
	case "deflate":
		rd, err = zlib.NewReader(rd)
	default:
		t.Fatalf("Content-Encoding %q", enc)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Compressed requests (Content-Encoding gzip or deflate, as Triton's and
// KServe's clients send them) get the same answers as plain ones, on every
// protocol; answers are compressed for clients that accept it; a coding
// the service does not know gets 415 naming the ones it does, and a body
// that inflates past --max-body-bytes gets 413.
func TestCompressedRequestsAndResponses(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	texts := make([]string, 24)
	for i := range texts {
		texts[i] = fmt.Sprintf("review %d: a gorgeous, witty, seductive movie, though the ending drags", i)
	}
	batch, _ := json.Marshal(map[string][]string{"texts": texts})
	plain := p.do("POST", "/predict/batch", batch, "Accept-Encoding", "identity")
	if plain.status != 200 || plain.header.Get("Content-Encoding") != "" {
		t.Fatalf("plain: %d %q %s", plain.status, plain.header.Get("Content-Encoding"), plain.body)
	}
	if !strings.Contains(strings.Join(plain.header.Values("Vary"), ","), "Accept-Encoding") {
		t.Errorf("Vary %q lacks Accept-Encoding", plain.header.Values("Vary"))
	}
	packedBatch := gzipBytes(batch)
	packed := p.do("POST", "/predict/batch", packedBatch, "Content-Encoding", "gzip", "Accept-Encoding", "gzip", "X-Request-ID", "packed")
	if packed.status != 200 || packed.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip both ways: %d %q %s", packed.status, packed.header.Get("Content-Encoding"), packed.body)
	}
	if len(packed.body) >= len(plain.body)/2 {
		t.Errorf("the gzip answer is %d bytes, the plain one %d", len(packed.body), len(plain.body))
	}
	if got := decodedBody(t, packed); !bytes.Equal(got, plain.body) {
		t.Errorf("gzip request's answer differs:\n%s\nplain:\n%s", got, plain.body)
	}

	var zb bytes.Buffer
	zw := zlib.NewWriter(&zb)
	v2, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "text", "shape": []int{len(texts)}, "datatype": "BYTES", "data": texts}}})
	zw.Write(v2)
	zw.Close()
	r := p.do("POST", "/v2/models/sst2-mini/infer", zb.Bytes(), "Content-Encoding", "deflate", "Accept-Encoding", "deflate")
	if r.status != 200 || r.header.Get("Content-Encoding") != "deflate" {
		t.Fatalf("v2 infer, deflate both ways: %d %q %s", r.status, r.header.Get("Content-Encoding"), r.body)
	}
	var out struct{ Outputs []struct{ Name string } }
	if err := json.Unmarshal(decodedBody(t, r), &out); err != nil || len(out.Outputs) == 0 {
		t.Errorf("v2 infer answer: %v %+v", err, out)
	}

	// tritonclient with request_compression_algorithm="gzip" and binary
	// tensors: Inference-Header-Content-Length counts the JSON before
	// compression.
	header := []byte(`{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":` +
		fmt.Sprint(len(binaryTexts(texts[:2]))) + `}}],"parameters":{"binary_data_output":true}}`)
	r = p.do("POST", "/v2/models/sst2-mini/infer", gzipBytes(append(header, binaryTexts(texts[:2])...)),
		"Content-Encoding", "gzip", "Inference-Header-Content-Length", fmt.Sprint(len(header)))
	if r.status != 200 {
		t.Fatalf("v2 infer, gzip and binary: %d %s", r.status, r.body)
	}
	checkV2(t, decodeV2(t, r), texts[:2], []int{2})

	tei, _ := json.Marshal(map[string]string{"inputs": texts[0]})
	r = p.do("POST", "/predict", gzipBytes(tei), "Content-Encoding", "gzip")
	var teiOut []struct{ Label string }
	if r.status != 200 {
		t.Fatalf("TEI request, gzip: %d %s", r.status, r.body)
	}
	r.json(t, &teiOut)
	if len(teiOut) != 2 {
		t.Errorf("TEI request, gzip: %s, want TEI's list of labels", r.body)
	}

	r = p.do("POST", "/predict", []byte(`{"text": "good"}`), "Content-Encoding", "br")
	if r.status != 415 || r.errorCode(t) != "unsupported_encoding" || r.header.Get("Accept-Encoding") != "gzip, deflate" {
		t.Errorf("brotli request: %d %s, Accept-Encoding %q", r.status, r.body, r.header.Get("Accept-Encoding"))
	}
	bomb := gzipBytes(append([]byte(`{"text": "`), make([]byte, 2<<20)...)) // 2 MiB in about 2 KiB
	r = p.do("POST", "/predict", bomb, "Content-Encoding", "gzip")
	if r.status != 413 || r.errorCode(t) != "body_too_large" {
		t.Errorf("a body that inflates past the limit: %d %s", r.status, r.body)
	}
	r = p.do("POST", "/predict", []byte("not gzip at all"), "Content-Encoding", "gzip")
	if r.status != 400 || r.errorCode(t) != "bad_encoding" {
		t.Errorf("a body that is not gzip: %d %s", r.status, r.body)
	}

	// The access log counts the bytes on the wire both ways.
	for _, rec := range p.logLines() {
		if rec["id"] == "packed" && (rec["bytes_in"] != float64(len(packedBatch)) || rec["bytes_out"] != float64(len(packed.body))) {
			t.Errorf("access log bytes_in %v, bytes_out %v; sent %d, received %d", rec["bytes_in"], rec["bytes_out"], len(packedBatch), len(packed.body))
		}
	}

	// Prometheus asks for gzip; a small answer is not worth compressing.
	if r := p.get("/metrics", "Accept-Encoding", "gzip"); r.header.Get("Content-Encoding") != "gzip" ||
		!bytes.Contains(decodedBody(t, r), []byte("distilbert_http_requests_total")) {
		t.Errorf("/metrics with gzip accepted: %q", r.header.Get("Content-Encoding"))
	}
	if r := p.get("/healthz", "Accept-Encoding", "gzip"); r.header.Get("Content-Encoding") != "" {
		t.Errorf("/healthz compressed: %q", r.header.Get("Content-Encoding"))
	}

	off := start(t, nil, "--compress-responses=false")
	if r := off.get("/metrics", "Accept-Encoding", "gzip"); r.status != 200 || r.header.Get("Content-Encoding") != "" {
		t.Errorf("--compress-responses=false: /metrics %d, Content-Encoding %q", r.status, r.header.Get("Content-Encoding"))
	}
	if r := off.do("POST", "/predict", gzipBytes([]byte(`{"text": "good"}`)), "Content-Encoding", "gzip"); r.status != 200 {
		t.Errorf("--compress-responses=false still takes compressed requests: %d %s", r.status, r.body)
	}
}
