package server

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"

	"github.com/valyala/fasthttp"
)

// HTTP content codings, both ways. Triton's and KServe's HTTP clients
// compress requests and accept compressed answers when asked to
// (request_compression_algorithm, response_compression_algorithm), as
// Prometheus does for /metrics; browsers and most HTTP libraries accept
// gzip by default.

// acceptedEncodings is what a 415 names in its Accept-Encoding header.
const acceptedEncodings = "gzip, deflate"

// compressedRequest reports whether the request's body is in a content
// coding other than identity.
func compressedRequest(h *fasthttp.RequestHeader) bool {
	enc := h.ContentEncoding()
	return len(enc) > 0 && !strings.EqualFold(strings.TrimSpace(string(enc)), "identity")
}

// decodeBody replaces a gzip or deflate request body with what it
// decodes to. The decoded size is bounded by maxBody however small the
// upload, since a compressed body can expand a thousandfold; the
// admission budget holds maxBody for every compressed request for the same
// reason (see admission.headerReceived).
func decodeBody(req *fasthttp.Request, maxBody int) *apiError {
	if !compressedRequest(&req.Header) {
		return nil
	}
	enc := strings.ToLower(strings.TrimSpace(string(req.Header.ContentEncoding())))
	body, aerr := decompress(enc, req.Body(), maxBody)
	if aerr != nil {
		return aerr
	}
	req.SetBodyRaw(body)
	req.Header.Del(fasthttp.HeaderContentEncoding)
	return nil
}

// decompress decodes body in content coding enc ("gzip", "x-gzip" or
// "deflate"), reading at most maxBody bytes of output.
func decompress(enc string, body []byte, maxBody int) ([]byte, *apiError) {
	var r io.Reader
	var err error
	switch enc {
	case "gzip", "x-gzip":
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
			zr.Multistream(true)
			r = zr
		}
	case "deflate":
		// HTTP's deflate is the zlib format (RFC 9110 §8.4.1.2), but some
		// clients send the raw deflate stream: a zlib header is two bytes
		// whose big-endian value is a multiple of 31, method 8.
		if len(body) >= 2 && body[0]&0x0f == 8 && (uint(body[0])<<8|uint(body[1]))%31 == 0 {
			r, err = zlib.NewReader(bytes.NewReader(body))
		} else {
			r = flate.NewReader(bytes.NewReader(body))
		}
	default:
		return nil, errorf(415, "unsupported_encoding", "request body Content-Encoding %q is not supported; use gzip, deflate or none", truncate(enc, 40))
	}
	if err != nil {
		return nil, errorf(400, "bad_encoding", "request body is not valid %s: %v", enc, err)
	}
	var out bytes.Buffer
	out.Grow(min(maxBody, 4*len(body)+512))
	n, err := io.Copy(&out, io.LimitReader(r, int64(maxBody)+1))
	switch {
	case n > int64(maxBody):
		return nil, errorf(413, "body_too_large", "decompressed request body is larger than the limit of %d bytes", maxBody)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errorf(400, "bad_encoding", "request body is not valid %s: it ends early", enc)
	case err != nil:
		return nil, errorf(400, "bad_encoding", "request body is not valid %s: %v", enc, err)
	}
	return out.Bytes(), nil
}

// minCompressBytes is the smallest response worth compressing: a single
// prediction (about 200 bytes) would save a few dozen bytes for the
// cost of a compressor.
const minCompressBytes = 1024

// compressResponse compresses the response body in the coding the client
// accepts (gzip, else deflate) when it is large enough and not compressed
// already, and says so in Vary either way for caches between.
func compressResponse(ctx *fasthttp.RequestCtx) {
	resp := &ctx.Response
	if resp.IsBodyStream() || len(resp.Header.ContentEncoding()) > 0 {
		return
	}
	body := resp.Body()
	if len(body) == 0 {
		return
	}
	resp.Header.Add(fasthttp.HeaderVary, fasthttp.HeaderAcceptEncoding)
	if len(body) < minCompressBytes {
		return
	}
	var enc string
	var out []byte
	switch {
	case ctx.Request.Header.HasAcceptEncoding("gzip"):
		enc, out = "gzip", fasthttp.AppendGzipBytesLevel(nil, body, fasthttp.CompressBestSpeed)
	case ctx.Request.Header.HasAcceptEncoding("deflate"):
		enc, out = "deflate", fasthttp.AppendDeflateBytesLevel(nil, body, fasthttp.CompressBestSpeed)
	default:
		return
	}
	resp.SetBodyRaw(out)
	resp.Header.SetContentEncoding(enc)
}
