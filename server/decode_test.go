package server

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var testLimits = limits{MaxBodyBytes: 4096, MaxBatchItems: 4, MaxTextChars: 20}

func TestDecodeRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		batch  bool
		body   string
		status int
		code   string
		texts  []string
	}{
		{"ok", false, `{"text": "good"}`, 0, "", []string{"good"}},
		{"ok spaces", false, " \n{\"text\":\"good\"}\n ", 0, "", []string{"good"}},
		{"ok unicode", false, `{"text": "caf\u00e9 \ud83d\ude00"}`, 0, "", []string{"café 😀"}},
		{"ok batch", true, `{"texts": ["a", "b"]}`, 0, "", []string{"a", "b"}},
		{"empty body", false, ``, 400, "malformed_json", nil},
		{"truncated", false, `{"text": "go`, 400, "malformed_json", nil},
		{"syntax", false, `{"text" "good"}`, 400, "malformed_json", nil},
		{"trailing", false, `{"text": "good"} {}`, 400, "malformed_json", nil},
		{"trailing garbage", false, `{"text": "good"}x`, 400, "malformed_json", nil},
		{"byte order mark", false, "\ufeff{\"text\": \"good\"}", 400, "malformed_json", nil},
		{"array body", false, `["good"]`, 400, "invalid_type", nil},
		{"string body", false, `"good"`, 400, "invalid_type", nil},
		{"null body", false, `null`, 400, "invalid_type", nil},
		{"number text", false, `{"text": 5}`, 400, "invalid_type", nil},
		{"object text", false, `{"text": {}}`, 400, "invalid_type", nil},
		{"string texts", true, `{"texts": "a"}`, 400, "invalid_type", nil},
		{"number in texts", true, `{"texts": ["a", 1]}`, 400, "invalid_type", nil},
		{"unknown field", false, `{"text": "a", "lang": "en"}`, 400, "unknown_field", nil},
		{"texts on /predict", false, `{"texts": ["a"]}`, 400, "unknown_field", nil},
		{"text on batch", true, `{"text": "a"}`, 400, "unknown_field", nil},
		{"invalid utf8", false, "{\"text\": \"\xff\xfe\"}", 400, "invalid_utf8", nil},
		{"invalid utf8 in key", false, "{\"te\xc3xt\": \"a\"}", 400, "invalid_utf8", nil},
		{"missing", false, `{}`, 422, "missing_text", nil},
		{"null text", false, `{"text": null}`, 422, "missing_text", nil},
		{"empty text", false, `{"text": ""}`, 422, "empty_text", nil},
		{"blank text", false, `{"text": " \t\n"}`, 422, "empty_text", nil},
		{"missing texts", true, `{}`, 422, "missing_text", nil},
		{"empty texts", true, `{"texts": []}`, 422, "empty_text", nil},
		{"empty in texts", true, `{"texts": ["a", ""]}`, 422, "empty_text", nil},
		{"null in texts", true, `{"texts": ["a", null]}`, 422, "missing_text", nil},
		{"too many", true, `{"texts": ["a","b","c","d","e"]}`, 413, "too_many_items", nil},
		{"too long", false, `{"text": "` + strings.Repeat("é", 21) + `"}`, 413, "text_too_long", nil},
		{"long but ok", false, `{"text": "` + strings.Repeat("é", 20) + `"}`, 0, "", []string{strings.Repeat("é", 20)}},
		{"body too large", false, `{"text": "` + strings.Repeat("a", 5000) + `"}`, 413, "body_too_large", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			texts, err := decodeRequest([]byte(tc.body), tc.batch, testLimits)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if strings.Join(texts, "|") != strings.Join(tc.texts, "|") {
					t.Fatalf("texts %q, want %q", texts, tc.texts)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, texts %q; want %d %s", texts, tc.status, tc.code)
			}
			if err.Status != tc.status || err.Code != tc.code || err.Message == "" {
				t.Fatalf("got %d %s %q, want %d %s", err.Status, err.Code, err.Message, tc.status, tc.code)
			}
		})
	}
}

// FuzzDecode checks that the request decoder never panics, only answers
// 400, 413 or 422, and that what it accepts is what the limits allow.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"text": "good"}`, `{"texts": ["a", "b"]}`, `{"text": ""}`, `{"texts": []}`, `{}`, `null`, `[]`,
		`{"text": "a", "x": 1}`, "{\"text\": \"\xff\"}", `{"text": "\u0000\ud800"}`, `{"texts": [null, 1, "a"]}`,
		`{"text": "a"} trailing`, `{"text":"` + strings.Repeat("x", 30) + `"}`, `{"texts":["a","b","c","d","e"]}`,
		`{"TEXT": "case"}`, `{"text": "a", "text": "b"}`, `{"text": [1, {"a": [[[]]]}]}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		texts, err := decodeRequest(body, batch, testLimits)
		if err != nil {
			switch err.Status {
			case 400, 413, 422:
			default:
				t.Fatalf("status %d for %q", err.Status, body)
			}
			if err.Code == "" || err.Message == "" {
				t.Fatalf("empty code or message for %q", body)
			}
			if err.Status == 400 && utf8.Valid(body) && json.Valid(body) && err.Code == "malformed_json" {
				t.Fatalf("valid JSON %q called malformed: %s", body, err.Message)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted invalid body %q", body)
		}
		if len(texts) == 0 || (!batch && len(texts) != 1) || len(texts) > testLimits.MaxBatchItems {
			t.Fatalf("accepted %d texts from %q", len(texts), body)
		}
		for _, s := range texts {
			if strings.TrimSpace(s) == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > testLimits.MaxTextChars {
				t.Fatalf("accepted text %q from %q", s, body)
			}
		}
		// Accepted bodies round-trip: the texts are exactly what the JSON says.
		var generic map[string]any
		if e := json.Unmarshal(body, &generic); e != nil {
			t.Fatalf("accepted %q but encoding/json says %v", body, e)
		}
	})
}
