package server

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeV2Infer(t *testing.T) {
	input := func(shape, data string) string {
		return `{"inputs":[{"name":"text","shape":` + shape + `,"datatype":"BYTES","data":` + data + `}]}`
	}
	all := []int{v2OutProbabilities, v2OutLogits, v2OutLabel}
	for _, tc := range []struct {
		name    string
		body    string
		status  int
		texts   []string
		outputs []int
		rank2   bool
		id      string
	}{
		{"flat [n]", input(`[2]`, `["a","b"]`), 0, []string{"a", "b"}, all, false, ""},
		{"flat [n,1]", input(`[2,1]`, `["a","b"]`), 0, []string{"a", "b"}, all, true, ""},
		{"nested [n,1]", input(`[2,1]`, `[["a"],["b"]]`), 0, []string{"a", "b"}, all, true, ""},
		{"one [1]", input(`[1]`, `["good"]`), 0, []string{"good"}, all, false, ""},
		{"triton client", `{"id":"7","inputs":[{"name":"text","shape":[1,1],"datatype":"BYTES","data":["good"]}],"outputs":[{"name":"label","parameters":{"binary_data":false}},{"name":"logits","parameters":{"binary_data":true}}],"parameters":{"binary_data_output":true}}`,
			0, []string{"good"}, []int{v2OutLabel, v2OutLogits}, true, "7"},
		{"kserve client", `{"id":"4f1e","model_name":"m","inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["good"],"parameters":{"content_type":"str"}}]}`,
			0, []string{"good"}, all, false, "4f1e"},
		{"null id", `{"id":null,"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["x"]}]}`, 0, []string{"x"}, all, false, ""},
		{"empty body", ``, 400, nil, nil, false, ""},
		{"not an object", `[]`, 400, nil, nil, false, ""},
		{"malformed", `{"inputs":[`, 400, nil, nil, false, ""},
		{"trailing data", input(`[1]`, `["a"]`) + `{}`, 400, nil, nil, false, ""},
		{"unknown field", `{"input":[]}`, 400, nil, nil, false, ""},
		{"no inputs", `{}`, 400, nil, nil, false, ""},
		{"two inputs", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a"]},{"name":"text","shape":[1],"datatype":"BYTES","data":["a"]}]}`, 400, nil, nil, false, ""},
		{"wrong name", `{"inputs":[{"name":"input-0","shape":[1],"datatype":"BYTES","data":["a"]}]}`, 400, nil, nil, false, ""},
		{"wrong datatype", `{"inputs":[{"name":"text","shape":[1],"datatype":"FP32","data":[1]}]}`, 400, nil, nil, false, ""},
		{"binary input without binary data", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":8}}]}`, 400, nil, nil, false, ""},
		{"no data", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES"}]}`, 400, nil, nil, false, ""},
		{"null data", input(`[1]`, `null`), 400, nil, nil, false, ""},
		{"shape mismatch", input(`[3]`, `["a","b"]`), 400, nil, nil, false, ""},
		{"shape [1,2]", input(`[1,2]`, `["a","b"]`), 400, nil, nil, false, ""},
		{"shape rank 3", input(`[1,1,1]`, `["a"]`), 400, nil, nil, false, ""},
		{"shape empty", input(`[]`, `["a"]`), 400, nil, nil, false, ""},
		{"shape negative", input(`[-1]`, `["a"]`), 400, nil, nil, false, ""},
		{"shape zero", input(`[0]`, `[]`), 400, nil, nil, false, ""},
		{"shape float", input(`[1.5]`, `["a"]`), 400, nil, nil, false, ""},
		{"number data", input(`[1]`, `[1]`), 400, nil, nil, false, ""},
		{"null element", input(`[2]`, `["a",null]`), 400, nil, nil, false, ""},
		{"deep nesting", input(`[1,1]`, `[[["a"]]]`), 400, nil, nil, false, ""},
		{"empty text", input(`[2]`, `["a"," "]`), 400, nil, nil, false, ""},
		{"too many", input(`[5]`, `["a","b","c","d","e"]`), 413, nil, nil, false, ""},
		{"huge shape", input(`[9223372036854775807]`, `["a"]`), 413, nil, nil, false, ""},
		{"too long", input(`[1]`, `["`+strings.Repeat("é", 21)+`"]`), 413, nil, nil, false, ""},
		{"unknown output", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a"]}],"outputs":[{"name":"scores"}]}`, 400, nil, nil, false, ""},
		{"output twice", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a"]}],"outputs":[{"name":"label"},{"name":"label"}]}`, 400, nil, nil, false, ""},
		{"classification", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a"]}],"outputs":[{"name":"label","parameters":{"classification":2}}]}`, 400, nil, nil, false, ""},
		{"id not a string", `{"id":5,"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a"]}]}`, 400, nil, nil, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeV2Infer([]byte(tc.body), -1, testLimits)
			if tc.status != 0 {
				if err == nil || err.Status != tc.status {
					t.Fatalf("got %+v, %v; want status %d", got, err, tc.status)
				}
				if err.Message == "" {
					t.Fatal("error without a message")
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if fmt.Sprint(got.texts) != fmt.Sprint(tc.texts) || fmt.Sprint(got.outputs) != fmt.Sprint(tc.outputs) || got.rank2 != tc.rank2 {
				t.Fatalf("got texts %q outputs %v rank2 %v", got.texts, got.outputs, got.rank2)
			}
			if id := ""; got.id != nil && *got.id != tc.id || got.id == nil && tc.id != id {
				t.Fatalf("id %v, want %q", got.id, tc.id)
			}
		})
	}
}

// binaryBytes lays texts out as the binary tensor data extension's BYTES
// elements: a 4-byte little-endian length, then the bytes.
func binaryBytes(texts ...string) []byte {
	var b []byte
	for _, t := range texts {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t)))
		b = append(b, t...)
	}
	return b
}

// Requests of the binary tensor data extension, as tritonclient.http
// sends them by default: the JSON header, then the input's bytes.
func TestDecodeV2InferBinary(t *testing.T) {
	header := func(shape string, size int, extra string) string {
		return `{"inputs":[{"name":"text","shape":` + shape + `,"datatype":"BYTES","parameters":{"binary_data_size":` + fmt.Sprint(size) + `}}]` + extra + `}`
	}
	two := binaryBytes("a fine film", "dull, é")
	outputs := `,"outputs":[{"name":"label","parameters":{"binary_data":true}},{"name":"logits"}]`
	for _, tc := range []struct {
		name    string
		json    string
		bin     []byte
		status  int
		texts   []string
		binary  []bool
		jsonLen int // -2: len(json)
	}{
		{"binary input", header(`[2]`, len(two), ""), two, 0, []string{"a fine film", "dull, é"}, []bool{false, false, false}, -2},
		{"binary [n,1]", header(`[2,1]`, len(two), ""), two, 0, []string{"a fine film", "dull, é"}, []bool{false, false, false}, -2},
		{"binary outputs", header(`[2]`, len(two), `,"parameters":{"binary_data_output":true}`), two, 0, []string{"a fine film", "dull, é"}, []bool{true, true, true}, -2},
		{"output overrides", header(`[2]`, len(two), outputs+`,"parameters":{"binary_data_output":true}`), two, 0, []string{"a fine film", "dull, é"}, []bool{true, true}, -2},
		{"json input, header given", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["ok"]}]}`, nil, 0, []string{"ok"}, []bool{false, false, false}, -2},
		{"size too small", header(`[2]`, len(two)-1, ""), two, 400, nil, nil, -2},
		{"size too large", header(`[2]`, len(two)+1, ""), two, 400, nil, nil, -2},
		{"negative size", header(`[2]`, -4, ""), two, 400, nil, nil, -2},
		{"more elements than the shape", header(`[1]`, len(two), ""), two, 400, nil, nil, -2},
		{"fewer elements than the shape", header(`[3]`, len(two), ""), two, 400, nil, nil, -2},
		{"length past the end", header(`[1]`, 6, ""), []byte{9, 0, 0, 0, 'a', 'b'}, 400, nil, nil, -2},
		{"length cut short", header(`[1]`, 2, ""), []byte{1, 0}, 400, nil, nil, -2},
		{"huge length", header(`[1]`, 5, ""), []byte{0xff, 0xff, 0xff, 0xff, 'a'}, 400, nil, nil, -2},
		{"not UTF-8", header(`[1]`, 5, ""), binaryBytes("\xff"), 400, nil, nil, -2},
		{"empty text", header(`[1]`, 5, ""), binaryBytes(" "), 400, nil, nil, -2},
		{"text too long", header(`[1]`, 25, ""), binaryBytes(strings.Repeat("x", 21)), 413, nil, nil, -2},
		{"data and size", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a"],"parameters":{"binary_data_size":5}}]}`, binaryBytes("a"), 400, nil, nil, -2},
		{"binary data nobody declares", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a"]}]}`, binaryBytes("a"), 400, nil, nil, -2},
		{"header past the body", header(`[2]`, len(two), ""), two, 400, nil, nil, 1 << 20},
		{"header cuts the JSON", header(`[2]`, len(two), ""), two, 400, nil, nil, 10},
		{"binary_data not a bool", header(`[2]`, len(two), `,"outputs":[{"name":"label","parameters":{"binary_data":"yes"}}]`), two, 400, nil, nil, -2},
		{"binary_data_output not a bool", header(`[2]`, len(two), `,"parameters":{"binary_data_output":1}`), two, 400, nil, nil, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := append([]byte(tc.json), tc.bin...)
			jsonLen := tc.jsonLen
			if jsonLen == -2 {
				jsonLen = len(tc.json)
			}
			got, err := decodeV2Infer(body, jsonLen, testLimits)
			if tc.status != 0 {
				if err == nil || err.Status != tc.status || err.Message == "" {
					t.Fatalf("got %+v, %v; want status %d", got, err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if fmt.Sprint(got.texts) != fmt.Sprint(tc.texts) || fmt.Sprint(got.binary) != fmt.Sprint(tc.binary) {
				t.Fatalf("got texts %q, binary outputs %v; want %q, %v", got.texts, got.binary, tc.texts, tc.binary)
			}
		})
	}
}

func TestV2Paths(t *testing.T) {
	for _, tc := range []struct {
		path              string
		route             int
		name, version, op string
	}{
		{"/v2", routeV2Server, "", "", ""},
		{"/v2/", routeV2Server, "", "", ""},
		{"/v2/health/live", routeV2Live, "", "", ""},
		{"/v2/health/ready", routeV2Ready, "", "", ""},
		{"/v2/models/m", routeV2Model, "m", "", ""},
		{"/v2/models/m/ready", routeV2ModelReady, "m", "", "ready"},
		{"/v2/models/m/infer", routeV2Infer, "m", "", "infer"},
		{"/v2/models/m/versions/1", routeV2Model, "m", "1", ""},
		{"/v2/models/m/versions/1/ready", routeV2ModelReady, "m", "1", "ready"},
		{"/v2/models/m/versions/7/infer", routeV2Infer, "m", "7", "infer"},
		{"/v2/models/m/config", routeV2ModelConfig, "m", "", "config"},
		{"/v2/models/m/versions/1/config", routeV2ModelConfig, "m", "1", "config"},
		{"/v2/models/m/config/x", routeOther, "", "", ""},
		{"/v2/models/", routeOther, "", "", ""},
		{"/v2/models", routeOther, "", "", ""},
		{"/v2/models/m/", routeOther, "", "", ""},
		{"/v2/models/m/stats", routeOther, "", "", ""},
		{"/v2/models/m/versions/", routeOther, "", "", ""},
		{"/v2/models/m/versions//infer", routeOther, "", "", ""},
		{"/v2/models/m/infer/x", routeOther, "", "", ""},
		{"/v2/repository/index", routeOther, "", "", ""},
		{"/predict", routePredict, "", "", ""},
		{"/nope", routeOther, "", "", ""},
	} {
		if r := routeOf([]byte(tc.path)); r != tc.route {
			t.Errorf("%s: route %s, want %s", tc.path, routeNames[r], routeNames[tc.route])
		}
		if !strings.HasPrefix(tc.path, "/v2/models/") {
			continue
		}
		name, version, op, ok := parseV2ModelPath(tc.path)
		if ok != (tc.route != routeOther) || name != tc.name || version != tc.version || op != tc.op {
			t.Errorf("%s: parsed %q %q %q %v", tc.path, name, version, op, ok)
		}
	}
}

func TestServedModelName(t *testing.T) {
	for _, s := range []string{"sst2-mini", "a", "Model_1.2", strings.Repeat("x", 128)} {
		if !validServedName(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "-a", ".a", "a/b", "a b", "a%2F", "é", strings.Repeat("x", 129), "a?b"} {
		if validServedName(s) {
			t.Errorf("%q accepted", s)
		}
	}
	for in, want := range map[string]string{
		"sst2-mini": "sst2-mini", "my model": "my-model", ".hidden": "mhidden", "naïve": "na--ve",
	} {
		if got := servedNameOf(in); got != want || !validServedName(got) {
			t.Errorf("servedNameOf(%q) = %q, want %q", in, got, want)
		}
	}
	cfg := DefaultConfig()
	cfg.ServedModelName = "bad/name"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--served-model-name") {
		t.Errorf("Validate: %v", err)
	}
}

// /v2/health/ready and the model's ready route follow /readyz: 503 while
// warming up and while draining.
func TestV2ReadyFollowsReadyz(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.ServedModelName = "sentiment" })
	get := func(path string) (int, string) {
		ctx := newCtx("GET", path, "")
		s.handle(ctx)
		return ctx.Response.StatusCode(), string(ctx.Response.Body())
	}
	check := func(state string, want int, wantReady bool) {
		t.Helper()
		for _, path := range []string{"/readyz", "/v2/health/ready", "/v2/models/sentiment/ready", "/v2/models/sentiment/versions/1/ready"} {
			status, body := get(path)
			var r struct{ Ready *bool }
			if status != want || path != "/readyz" && (json.Unmarshal([]byte(body), &r) != nil || r.Ready == nil || *r.Ready != wantReady) {
				t.Errorf("%s %s: %d %s, want %d", state, path, status, body, want)
			}
		}
		if status, body := get("/v2/health/live"); status != 200 || body != `{"live":true}` {
			t.Errorf("%s live: %d %s", state, status, body)
		}
	}
	check("warming up", 503, false)
	s.ready.Store(true)
	check("ready", 200, true)
	s.draining.Store(true)
	check("draining", 503, false)
	if status, body := get("/v2/models/sst2-mini/ready"); status != 404 || !strings.Contains(body, `"error":"unknown model`) {
		t.Errorf("the model's own name when served as another: %d %s", status, body)
	}
}

func FuzzV2Decode(f *testing.F) {
	f.Add([]byte(`{"id":"1","inputs":[{"name":"text","shape":[2,1],"datatype":"BYTES","data":[["a"],["b"]]}],"outputs":[{"name":"label"}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["good"],"parameters":{"x":1}}],"parameters":{"binary_data_output":true}}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"text","shape":[-1],"datatype":"BYTES","data":null}]}`), -1)
	f.Add([]byte(`{"inputs":[]}`), -1)
	bin := `{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":12}}],"outputs":[{"name":"label","parameters":{"binary_data":true}}]}`
	f.Add(append([]byte(bin), binaryBytes("good", "bad")...), len(bin))
	f.Fuzz(func(t *testing.T, body []byte, jsonLen int) {
		req, err := decodeV2Infer(body, max(jsonLen, -1), testLimits)
		if err != nil {
			if err.Status != 400 && err.Status != 413 || err.Message == "" {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if len(req.texts) == 0 || len(req.texts) > testLimits.MaxBatchItems || len(req.outputs) == 0 || len(req.outputs) > len(v2Outputs) || len(req.binary) != len(req.outputs) {
			t.Fatalf("accepted %d texts, outputs %v", len(req.texts), req.outputs)
		}
		for _, text := range req.texts {
			if !utf8.ValidString(text) {
				t.Fatalf("accepted a text that is not UTF-8: %q", text)
			}
			if strings.TrimSpace(text) == "" {
				t.Fatalf("accepted an empty text")
			}
		}
	})
}
