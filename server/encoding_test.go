package server

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// compressWith encodes b with the writer newWriter makes.
func compressWith(t testing.TB, b []byte, newWriter func(io.Writer) io.WriteCloser) []byte {
	var out bytes.Buffer
	w := newWriter(&out)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	return compressWith(t, b, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
}

func zlibbed(t testing.TB, b []byte) []byte {
	return compressWith(t, b, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
}

// deflated is the raw deflate stream, without zlib's header.
func deflated(t testing.TB, b []byte) []byte {
	return compressWith(t, b, func(w io.Writer) io.WriteCloser {
		fw, _ := flate.NewWriter(w, flate.BestSpeed)
		return fw
	})
}

func TestDecompress(t *testing.T) {
	const limit = 4096
	body := []byte(`{"texts": ["` + strings.Repeat("a fine film ", 100) + `"]}`)
	atLimit := bytes.Repeat([]byte{'x'}, limit)
	overLimit := bytes.Repeat([]byte{'x'}, limit+1)
	bomb := gzipped(t, make([]byte, 64<<20)) // 64 MiB of zeros in about 64 KiB
	twoMembers := append(gzipped(t, body[:10]), gzipped(t, body[10:])...)
	for _, tc := range []struct {
		name, enc string
		in, want  []byte
		status    int
	}{
		{"gzip", "gzip", gzipped(t, body), body, 0},
		{"x-gzip", "x-gzip", gzipped(t, body), body, 0},
		{"gzip members", "gzip", twoMembers, body, 0},
		{"deflate (zlib)", "deflate", zlibbed(t, body), body, 0},
		{"deflate (raw)", "deflate", deflated(t, body), body, 0},
		{"at the limit", "gzip", gzipped(t, atLimit), atLimit, 0},
		{"over the limit", "gzip", gzipped(t, overLimit), nil, 413},
		{"bomb", "gzip", bomb, nil, 413},
		{"deflate bomb", "deflate", zlibbed(t, make([]byte, 1<<20)), nil, 413},
		{"truncated", "gzip", gzipped(t, body)[:40], nil, 400},
		{"not gzip", "gzip", body, nil, 400},
		{"empty gzip", "gzip", nil, nil, 400},
		{"not deflate", "deflate", []byte{0xff, 0xff, 0xff}, nil, 400},
		{"corrupt zlib checksum", "deflate", append(zlibbed(t, body)[:len(zlibbed(t, body))-1], 0), nil, 400},
		{"brotli", "br", body, nil, 415},
		{"two codings", "gzip, gzip", gzipped(t, gzipped(t, body)), nil, 415},
	} {
		got, aerr := decompress(tc.enc, tc.in, limit)
		switch {
		case tc.status == 0 && aerr != nil:
			t.Errorf("%s: %d %s", tc.name, aerr.Status, aerr.Message)
		case tc.status == 0 && !bytes.Equal(got, tc.want):
			t.Errorf("%s: decoded %d bytes, want %d", tc.name, len(got), len(tc.want))
		case tc.status != 0 && (aerr == nil || aerr.Status != tc.status):
			t.Errorf("%s: %v, want status %d", tc.name, aerr, tc.status)
		}
	}
}

// decodeBody leaves identity bodies alone and swaps a compressed one for
// its content, dropping the Content-Encoding that no longer holds.
func TestDecodeBody(t *testing.T) {
	body := []byte(`{"text": "a gorgeous, witty, seductive movie"}`)
	for _, enc := range []string{"", "identity", " Identity "} {
		var req fasthttp.Request
		req.SetBody(body)
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		if aerr := decodeBody(&req, 4096); aerr != nil || !bytes.Equal(req.Body(), body) {
			t.Errorf("Content-Encoding %q: %v, body %q", enc, aerr, req.Body())
		}
	}
	var req fasthttp.Request
	req.SetBody(gzipped(t, body))
	req.Header.Set("Content-Encoding", "GZIP")
	if aerr := decodeBody(&req, 4096); aerr != nil || !bytes.Equal(req.Body(), body) {
		t.Fatalf("gzip: %v, body %q", aerr, req.Body())
	}
	if enc := req.Header.ContentEncoding(); len(enc) != 0 {
		t.Errorf("Content-Encoding %q left after decoding", enc)
	}
}

// A compressed request holds the body limit in the admission budget beside
// its own length: what it decodes to is only bounded by that limit.
func TestAdmissionCountsDecodedBodies(t *testing.T) {
	a := newAdmission(3000, 1000)
	var plain, packed, third fasthttp.RequestHeader
	plain.SetContentLength(500)
	packed.SetContentLength(100)
	packed.Set("Content-Encoding", "gzip")
	third.SetContentLength(500)
	third.Set("Content-Encoding", "deflate")
	a.headerReceived(&plain)
	a.headerReceived(&packed)
	if got := a.inUse(); got != 500+100+1000 {
		t.Errorf("in use %d, want 1600", got)
	}
	if a.headerReceived(&third); !a.refused(&third) {
		t.Errorf("a third request over the budget (1600 + 1500 > 3000) was admitted")
	}
	a.release(&packed)
	if got := a.inUse(); got != 500 {
		t.Errorf("in use %d after release, want 500", got)
	}
}

func TestCompressResponse(t *testing.T) {
	big := bytes.Repeat([]byte(`{"label":"POSITIVE","score":0.99},`), 100)
	for _, tc := range []struct {
		accept, want string
		body         []byte
	}{
		{"gzip, deflate, br", "gzip", big},
		{"deflate", "deflate", big},
		{"br, zstd", "", big},
		{"gzip;q=0, deflate", "deflate", big},
		{"", "", big},
		{"gzip", "", []byte(`{"status":"ok"}`)},
	} {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.Set("Accept-Encoding", tc.accept)
		ctx.SetContentType("application/json")
		ctx.SetBody(tc.body)
		compressResponse(&ctx)
		enc := string(ctx.Response.Header.ContentEncoding())
		if enc != tc.want {
			t.Errorf("Accept-Encoding %q, %d bytes: Content-Encoding %q, want %q", tc.accept, len(tc.body), enc, tc.want)
			continue
		}
		if vary := string(ctx.Response.Header.Peek("Vary")); vary != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q", tc.accept, vary)
		}
		var r io.Reader = bytes.NewReader(ctx.Response.Body())
		switch enc {
		case "gzip":
			r, _ = gzip.NewReader(r)
		case "deflate":
			r, _ = zlib.NewReader(r)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, tc.body) {
			t.Errorf("Accept-Encoding %q: the body does not decode back (%v)", tc.accept, err)
		}
	}
}

// FuzzDecompress: any body in any coding decodes or gets 400, 413 or 415,
// never more than the limit, never a panic.
func FuzzDecompress(f *testing.F) {
	f.Add("gzip", gzipped(f, []byte(`{"text":"good"}`)))
	f.Add("deflate", zlibbed(f, []byte(`{"text":"good"}`)))
	f.Add("deflate", deflated(f, bytes.Repeat([]byte("ab"), 3000)))
	f.Add("x-gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add("br", []byte("x"))
	const limit = 4096
	f.Fuzz(func(t *testing.T, enc string, body []byte) {
		got, aerr := decompress(enc, body, limit)
		if aerr != nil {
			switch aerr.Status {
			case 400, 413, 415:
			default:
				t.Fatalf("status %d for %q", aerr.Status, enc)
			}
			return
		}
		if len(got) > limit {
			t.Fatalf("decoded %d bytes past the limit %d", len(got), limit)
		}
	})
}

// BenchmarkCompressResponse: the cost of gzipping a /predict/batch answer
// of 32 predictions, against which the threshold and level were chosen.
func BenchmarkCompressResponse(b *testing.B) {
	var body []byte
	for i := range 32 {
		body = append(body, fmt.Sprintf(`{"label":"POSITIVE","score":0.99%05d,"scores":{"NEGATIVE":0.00%05d,"POSITIVE":0.99%05d},"tokens":%d,"truncated":false,"model":"sst2-mini"},`, i*37, i*91, i*53, 10+i)...)
	}
	b.SetBytes(int64(len(body)))
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.Set("Accept-Encoding", "gzip")
	for b.Loop() {
		ctx.Response.Reset()
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
		compressResponse(&ctx)
	}
	b.ReportMetric(float64(len(ctx.Response.Body())), "bytes-out")
}
