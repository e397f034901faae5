package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// apiError is an error answered as {"error": {"code", "message"}}.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// limits are the request limits the decoder enforces.
type limits struct {
	MaxBodyBytes  int
	MaxBatchItems int
	MaxTextChars  int
}

type predictRequest struct {
	Text *string `json:"text"`
}

type batchRequest struct {
	Texts *[]*string `json:"texts"`
}

// decodeRequest parses the body of POST /predict (batch false: {"text": s})
// or POST /predict/batch (batch true: {"texts": [s, ...]}) strictly and
// checks the limits. Errors: 400 (malformed JSON, wrong types, unknown
// fields, invalid UTF-8, trailing data), 422 (missing, null or empty
// text), 413 (body, item count or text length over the limits).
func decodeRequest(body []byte, batch bool, lim limits) ([]string, *apiError) {
	if err := checkObjectBody(body, lim); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var texts []string
	var field string
	if batch {
		var req batchRequest
		if err := dec.Decode(&req); err != nil {
			return nil, itemError(body, jsonError(err))
		}
		if err := expectEOF(dec); err != nil {
			return nil, err
		}
		field = "texts"
		if req.Texts == nil {
			return nil, errorf(422, "missing_text", `"texts" is required: {"texts": ["...", ...]}`)
		}
		if len(*req.Texts) == 0 {
			return nil, errorf(422, "empty_text", `"texts" is empty`)
		}
		if lim.MaxBatchItems > 0 && len(*req.Texts) > lim.MaxBatchItems {
			return nil, errorf(413, "too_many_items", `"texts" has %d items, the limit is %d`, len(*req.Texts), lim.MaxBatchItems)
		}
		texts = make([]string, len(*req.Texts))
		for i, t := range *req.Texts {
			if t == nil {
				return nil, errorf(422, "missing_text", `"texts"[%d] is null`, i)
			}
			texts[i] = *t
		}
	} else {
		var req predictRequest
		if err := dec.Decode(&req); err != nil {
			return nil, jsonError(err)
		}
		if err := expectEOF(dec); err != nil {
			return nil, err
		}
		field = "text"
		if req.Text == nil {
			return nil, errorf(422, "missing_text", `"text" is required: {"text": "..."}`)
		}
		texts = []string{*req.Text}
	}
	for i, t := range texts {
		name := `"text"`
		if batch {
			name = fmt.Sprintf(`%q[%d]`, field, i)
		}
		if err := checkText(t, name, lim); err != nil {
			return nil, err
		}
	}
	return texts, nil
}

// checkObjectBody does the checks every JSON request body gets before it
// is decoded: size, UTF-8, and that it is an object.
func checkObjectBody(body []byte, lim limits) *apiError {
	if lim.MaxBodyBytes > 0 && len(body) > lim.MaxBodyBytes {
		return errorf(413, "body_too_large", "request body is %d bytes, the limit is %d", len(body), lim.MaxBodyBytes)
	}
	// encoding/json silently turns invalid UTF-8 into U+FFFD: refuse it first.
	if !utf8.Valid(body) {
		return errorf(400, "invalid_utf8", "request body is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return errorf(400, "malformed_json", "request body is empty; send a JSON object")
	}
	// Editors on Windows save a byte order mark that JSON does not allow:
	// say so rather than "not a JSON object".
	if bytes.HasPrefix(trimmed, []byte("\ufeff")) {
		return errorf(400, "malformed_json", "request body starts with a byte order mark (U+FEFF); send the JSON without it")
	}
	if trimmed[0] != '{' {
		return errorf(400, "invalid_type", "request body must be a JSON object")
	}
	return nil
}

// checkText applies the per-text checks; name says which text it is.
func checkText(t, name string, lim limits) *apiError {
	if strings.TrimSpace(t) == "" {
		return errorf(422, "empty_text", "%s is empty", name)
	}
	if lim.MaxTextChars > 0 && len(t) > lim.MaxTextChars { // bytes ≥ characters: count only then
		if n := utf8.RuneCountInString(t); n > lim.MaxTextChars {
			return errorf(413, "text_too_long", "%s has %d characters, the limit is %d", name, n, lim.MaxTextChars)
		}
	}
	return nil
}

func expectEOF(dec *json.Decoder) *apiError {
	if _, err := dec.Token(); err != io.EOF {
		return errorf(400, "malformed_json", "unexpected data after the JSON object")
	}
	return nil
}

// itemError names the first item of "texts" that is not a string or null,
// when err is about one: encoding/json names the field but not the index.
func itemError(body []byte, err *apiError) *apiError {
	if err.Code != "invalid_type" || !strings.HasPrefix(err.Message, `"texts" must be a string`) {
		return err
	}
	var raw struct {
		Texts []json.RawMessage `json:"texts"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return err
	}
	for i, item := range raw.Texts {
		var s *string
		if json.Unmarshal(item, &s) != nil {
			kind := "a number"
			switch bytes.TrimSpace(item)[0] {
			case '{':
				kind = "an object"
			case '[':
				kind = "an array"
			case 't', 'f':
				kind = "a boolean"
			}
			return errorf(400, "invalid_type", `"texts"[%d] must be a string, got %s`, i, kind)
		}
	}
	return err
}

// jsonError classifies an encoding/json error as a 400.
func jsonError(err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ):
		want := typ.Type.String()
		switch want {
		case "string":
			want = "a string"
		case "[]*string":
			want = "an array of strings"
		case "server.predictRequest", "server.batchRequest":
			want = "an object"
		}
		if typ.Field != "" {
			return errorf(400, "invalid_type", "%q must be %s, got %s", typ.Field, want, typ.Value)
		}
		return errorf(400, "invalid_type", "expected %s, got %s", want, typ.Value)
	case errors.As(err, &syn):
		return errorf(400, "malformed_json", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(400, "malformed_json", "malformed JSON: unexpected end of body")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errorf(400, "unknown_field", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return errorf(400, "malformed_json", "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}
