package server

import (
	"fmt"
	"strings"
	"testing"
)

func TestIsTEIRequest(t *testing.T) {
	for body, want := range map[string]bool{
		`{"inputs": "good"}`:                               true,
		` {"truncate": true, "inputs": ["good"]}`:          true,
		`{"raw_scores": {"x": [1, 2]}, "inputs": [["a"]]}`: true,
		`{"text": "good"}`:                                 false,
		`{"text": "good", "inputs": "x"}`:                  false, // native, refused there as an unknown field
		`{"texts": ["a"], "inputs": "x"}`:                  true,
		`{}`:                                               false,
		`["inputs"]`:                                       false,
		`"inputs"`:                                         false,
		`{"inputs"`:                                        true,  // then refused as malformed JSON, in TEI's shape
		`{"a": [1, {"inputs": 1}]}`:                        false, // nested keys do not count
		`{"a": 1 "inputs": 2}`:                             false,
		``:                                                 false,
		"{\"inputs\": \"caf\xc3\xa9\"}":                    true,
		`{"Inputs": "a"}`:                                  false,
		`{"a": "b", "c": "d", "inputs": 1}`:                true,
	} {
		if got := isTEIRequest([]byte(body)); got != want {
			t.Errorf("isTEIRequest(%s) = %v, want %v", body, got, want)
		}
	}
}

func TestDecodeTEIRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		status  int
		texts   []string
		batch   bool
		noTrunc bool
		raw     bool
	}{
		{"string", `{"inputs": "good"}`, 0, []string{"good"}, false, false, false},
		{"one-item list", `{"inputs": ["good"]}`, 0, []string{"good"}, false, false, false},
		{"batch", `{"inputs": [["good"], ["bad"]]}`, 0, []string{"good", "bad"}, true, false, false},
		{"batch of one", `{"inputs": [["good"]]}`, 0, []string{"good"}, true, false, false},
		{"options", `{"inputs": "a", "truncate": false, "raw_scores": true, "truncation_direction": "right"}`, 0, []string{"a"}, false, true, true},
		{"truncate true", `{"inputs": "a", "truncate": true, "truncation_direction": "Right"}`, 0, []string{"a"}, false, false, false},
		{"truncate null", `{"inputs": "a", "truncate": null}`, 0, []string{"a"}, false, false, false},
		{"pair", `{"inputs": ["a", "b"]}`, 422, nil, false, false, false},
		{"pair in batch", `{"inputs": [["a"], ["b", "c"]]}`, 422, nil, false, false, false},
		{"three strings", `{"inputs": ["a", "b", "c"]}`, 422, nil, false, false, false},
		{"three in an item", `{"inputs": [["a", "b", "c"]]}`, 422, nil, false, false, false},
		{"empty list", `{"inputs": []}`, 422, nil, false, false, false},
		{"empty item", `{"inputs": [[]]}`, 422, nil, false, false, false},
		{"number", `{"inputs": 5}`, 422, nil, false, false, false},
		{"mixed batch", `{"inputs": [["a"], "b"]}`, 422, nil, false, false, false},
		{"null", `{"inputs": null}`, 422, nil, false, false, false},
		{"left", `{"inputs": "a", "truncation_direction": "left"}`, 422, nil, false, false, false},
		{"sideways", `{"inputs": "a", "truncation_direction": "up"}`, 422, nil, false, false, false},
		{"unknown field ignored", `{"inputs": "a", "normalize": true, "parameters": {"top_k": 1}}`, 0, []string{"a"}, false, false, false},
		{"wrong type", `{"inputs": "a", "raw_scores": "yes"}`, 422, nil, false, false, false},
		{"malformed", `{"inputs": "a"`, 400, nil, false, false, false},
		{"trailing", `{"inputs": "a"} x`, 400, nil, false, false, false},
		{"invalid utf8", "{\"inputs\": \"\xff\"}", 400, nil, false, false, false},
		{"empty text", `{"inputs": ""}`, 400, nil, false, false, false},
		{"blank in batch", `{"inputs": [["a"], [" "]]}`, 400, nil, false, false, false},
		{"too many", `{"inputs": [["a"],["b"],["c"],["d"],["e"]]}`, 422, nil, false, false, false},
		{"too long", `{"inputs": "` + strings.Repeat("é", 21) + `"}`, 422, nil, false, false, false},
		{"body too large", `{"inputs": "` + strings.Repeat("a", 5000) + `"}`, 413, nil, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeTEIRequest([]byte(tc.body), testLimits)
			if tc.status != 0 {
				if err == nil || err.Status != tc.status || err.Message == "" {
					t.Fatalf("got %+v, %v; want status %d", got, err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if fmt.Sprint(got.texts) != fmt.Sprint(tc.texts) || got.batch != tc.batch || got.noTrunc != tc.noTrunc || got.rawScores != tc.raw {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func FuzzTEIDecode(f *testing.F) {
	f.Add([]byte(`{"inputs": "good", "truncate": false}`))
	f.Add([]byte(`{"inputs": [["a"], ["b"]], "raw_scores": true}`))
	f.Add([]byte(`{"inputs": ["a", "b"], "truncation_direction": "left"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		isTEIRequest(body) // must not panic, whatever the body
		req, err := decodeTEIRequest(body, testLimits)
		if err != nil {
			if err.Status < 400 || err.Status > 422 || err.Message == "" {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if len(req.texts) == 0 || len(req.texts) > testLimits.MaxBatchItems || !req.batch && len(req.texts) != 1 {
			t.Fatalf("accepted %+v", req)
		}
		for _, text := range req.texts {
			if strings.TrimSpace(text) == "" {
				t.Fatalf("accepted an empty text")
			}
		}
	})
}
