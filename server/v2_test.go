package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
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
		{"binary input", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":8}}]}`, 400, nil, nil, false, ""},
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
			got, err := decodeV2Infer([]byte(tc.body), testLimits)
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
	f.Add([]byte(`{"id":"1","inputs":[{"name":"text","shape":[2,1],"datatype":"BYTES","data":[["a"],["b"]]}],"outputs":[{"name":"label"}]}`))
	f.Add([]byte(`{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["good"],"parameters":{"x":1}}],"parameters":{"binary_data_output":true}}`))
	f.Add([]byte(`{"inputs":[{"name":"text","shape":[-1],"datatype":"BYTES","data":null}]}`))
	f.Add([]byte(`{"inputs":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeV2Infer(body, testLimits)
		if err != nil {
			if err.Status != 400 && err.Status != 413 || err.Message == "" {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if len(req.texts) == 0 || len(req.texts) > testLimits.MaxBatchItems || len(req.outputs) == 0 || len(req.outputs) > len(v2Outputs) {
			t.Fatalf("accepted %d texts, outputs %v", len(req.texts), req.outputs)
		}
		for _, text := range req.texts {
			if strings.TrimSpace(text) == "" {
				t.Fatalf("accepted an empty text")
			}
		}
	})
}
