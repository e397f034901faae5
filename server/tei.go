package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Hugging Face Text Embeddings Inference's POST /predict shape, so that TEI
// clients can switch: {"inputs": "t" | ["t"] | [["t1"], ["t2"], ...],
// "truncate": bool, "truncation_direction": "right", "raw_scores": bool},
// answered with [{"score", "label"}, ...] sorted by score, highest first
// (a list of such lists for a batch), and errors as {"error",
// "error_type"}. As in TEI, a two-string list ["a", "b"] is one sentence
// pair, which this single-text classifier refuses rather than mistaking
// for a batch.

// isTEIRequest tells a TEI-shaped body from a native one by its top-level
// keys: one with "inputs" and no "text" is TEI's. The native body's only
// key is "text", so most are decided by their first key without reading
// the rest. Anything else is left to the native decoder to refuse.
func isTEIRequest(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil {
		return false
	}
	inputs := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return inputs
		}
		switch key {
		case "text":
			return false
		case "inputs":
			inputs = true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return inputs
		}
	}
	return inputs
}

type teiRequest struct {
	Inputs              json.RawMessage `json:"inputs"`
	Truncate            *bool           `json:"truncate"`
	TruncationDirection *string         `json:"truncation_direction"`
	RawScores           bool            `json:"raw_scores"`
}

// teiPredict is a decoded TEI request.
type teiPredict struct {
	texts     []string
	batch     bool // inputs was a list of lists: answer a list of lists
	noTrunc   bool // truncate: false: refuse texts over the model's tokens
	rawScores bool // answer logits, not probabilities
}

// decodeTEIRequest parses a TEI /predict body. Its errors are apiErrors
// with TEI's statuses: 422 for what TEI calls validation errors (and what
// its JSON extractor refuses), 400 for an empty text, 413 for the body
// limit.
func decodeTEIRequest(body []byte, lim limits) (*teiPredict, *apiError) {
	if err := checkObjectBody(body, lim); err != nil {
		return nil, err
	}
	// Unknown fields are ignored, as TEI does: its clients may send more
	// (huggingface_hub's "parameters", say) and TEI answers them anyway.
	dec := json.NewDecoder(bytes.NewReader(body))
	var req teiRequest
	if err := dec.Decode(&req); err != nil {
		e := jsonError(err)
		if e.Code != "malformed_json" {
			e.Status = 422
		}
		return nil, e
	}
	if err := expectEOF(dec); err != nil {
		return nil, err
	}
	invalid := func(format string, args ...any) (*teiPredict, *apiError) {
		return nil, errorf(422, "invalid_input", format, args...)
	}
	if d := req.TruncationDirection; d != nil && *d != "right" && *d != "Right" {
		if *d == "left" || *d == "Left" {
			return invalid("truncation_direction %q is not supported; texts are truncated on the right", *d)
		}
		return invalid("truncation_direction must be \"right\", got %q", truncate(*d, 20))
	}
	out := &teiPredict{noTrunc: req.Truncate != nil && !*req.Truncate, rawScores: req.RawScores}
	const shapes = `"inputs" must be a string, ["text"] or a batch [["text"], ["text"], ...]`
	var one string
	var list []string
	var batch [][]string
	switch {
	case len(req.Inputs) == 0 || string(req.Inputs) == "null":
		return nil, errorf(422, "missing_text", "%s", shapes)
	case json.Unmarshal(req.Inputs, &one) == nil:
		out.texts = []string{one}
	case json.Unmarshal(req.Inputs, &list) == nil:
		switch len(list) {
		case 1:
			out.texts = list
		case 2:
			return invalid("[\"a\", \"b\"] is a sentence pair, which this model does not classify; send a batch as [[\"a\"], [\"b\"]]")
		default:
			return invalid("%s; got a list of %d strings", shapes, len(list))
		}
	case json.Unmarshal(req.Inputs, &batch) == nil:
		if len(batch) == 0 {
			return invalid(`"inputs" is an empty batch`)
		}
		if lim.MaxBatchItems > 0 && len(batch) > lim.MaxBatchItems {
			return invalid("batch size %d > maximum allowed batch size %d", len(batch), lim.MaxBatchItems)
		}
		out.batch = true
		out.texts = make([]string, len(batch))
		for i, seq := range batch {
			switch len(seq) {
			case 1:
				out.texts[i] = seq[0]
			case 2:
				return invalid("batch item %d is a sentence pair, which this model does not classify", i)
			default:
				return invalid("batch item %d has %d strings; each must be [\"text\"]", i, len(seq))
			}
		}
	default:
		return invalid("%s", shapes)
	}
	for i, t := range out.texts {
		name := "`inputs`"
		if out.batch {
			name = fmt.Sprintf("batch item %d", i)
		}
		if strings.TrimSpace(t) == "" {
			return nil, errorf(400, "empty_text", "%s cannot be empty", name)
		}
		if err := checkText(t, name, lim); err != nil {
			err.Status = 422
			return nil, err
		}
	}
	return out, nil
}

// writeTEIError answers TEI's error shape. TEI's error types are named by
// what went wrong; the status stays the service's own except where TEI
// has one for the same case (a full queue is TEI's 429 overloaded).
func writeTEIError(ctx *fasthttp.RequestCtx, _ string, e *apiError) {
	status, kind := e.Status, "Validation"
	switch {
	case e.Code == "empty_text":
		kind = "Empty"
	case e.Code == "queue_full":
		status, kind = 429, "Overloaded"
	case status == 429:
		kind = "Overloaded"
	case status == 503:
		kind = "Unhealthy"
	case status >= 500:
		kind = "Backend"
	}
	b := append([]byte(`{"error":`), appendJSONString(nil, e.Message)...)
	b = append(b, `,"error_type":"`...)
	b = append(b, kind...)
	writeJSON(ctx, status, append(b, `"}`...))
}

// predictTEI serves a TEI-shaped POST /predict (admitted already).
func (s *Server) predictTEI(ctx *fasthttp.RequestCtx, id string, start time.Time, info *reqInfo) {
	req, aerr := decodeTEIRequest(ctx.PostBody(), s.limits)
	if aerr != nil {
		writeTEIError(ctx, id, aerr)
		return
	}
	results, aerr := s.classify(ctx, req.texts, classifyOptions{refuseTruncated: req.noTrunc}, id, start, info)
	if aerr != nil {
		writeClassifyError(ctx, id, aerr, writeTEIError)
		return
	}
	m := info.model
	nl := len(m.labels)
	b := make([]byte, 0, 4+len(results)*(4+nl*48))
	if req.batch {
		b = append(b, '[')
	}
	order := make([]int, nl)
	for i := range results {
		if i > 0 {
			b = append(b, ',')
		}
		scores := results[i].probs
		if req.rawScores {
			scores = results[i].logits
		}
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(x, y int) bool { return scores[order[x]] > scores[order[y]] })
		b = append(b, '[')
		for k, j := range order {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"score":`...)
			b = appendFloat(b, scores[j])
			b = append(b, `,"label":`...)
			b = append(b, m.labelJSON[j]...)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if req.batch {
		b = append(b, ']')
	}
	writeJSON(ctx, 200, b)
}
