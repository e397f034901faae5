package server_test

import (
	wire "encoding/binary" // binary is the path of the built server
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// v2Tensor is one output of an Open Inference Protocol response.
type v2Tensor struct {
	Name       string          `json:"name"`
	Datatype   string          `json:"datatype"`
	Shape      []int           `json:"shape"`
	Data       json.RawMessage `json:"data"`
	Parameters struct {
		BinaryDataSize *int `json:"binary_data_size"`
	} `json:"parameters"`
}

type v2Response struct {
	ModelName    string     `json:"model_name"`
	ModelVersion string     `json:"model_version"`
	ID           string     `json:"id"`
	Outputs      []v2Tensor `json:"outputs"`
}

// v2Error checks the protocol's error shape, {"error": "message"}, and
// returns the message.
func v2Error(t *testing.T, r response) string {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(r.body, &e); err != nil || len(e) != 1 {
		t.Fatalf("status %d: not the protocol's error shape: %s", r.status, r.body)
	}
	msg, ok := e["error"].(string)
	if !ok || msg == "" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d: error %s, Content-Type %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	return msg
}

// decodeV2 reads an inference answer as tritonclient.http does: the JSON
// header (all of the body, unless Inference-Header-Content-Length says
// less), then each binary output's bytes in order, turned here into the
// JSON data they stand for so that checkV2 reads both forms alike.
func decodeV2(t *testing.T, r response) v2Response {
	t.Helper()
	body := r.body
	var bin []byte
	if h := r.header.Get("Inference-Header-Content-Length"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n > len(body) {
			t.Fatalf("Inference-Header-Content-Length %q for %d bytes", h, len(body))
		}
		body, bin = body[:n], body[n:]
		if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("binary answer's Content-Type %q", ct)
		}
	}
	var resp v2Response
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("status %d: %v: %q", r.status, err, body)
	}
	for i := range resp.Outputs {
		o := &resp.Outputs[i]
		if o.Parameters.BinaryDataSize == nil {
			continue
		}
		size := *o.Parameters.BinaryDataSize
		if o.Data != nil || size > len(bin) {
			t.Fatalf("output %s: binary_data_size %d with %d bytes left, data %s", o.Name, size, len(bin), o.Data)
		}
		var v any
		switch raw := bin[:size]; o.Datatype {
		case "FP32":
			floats := make([]float32, size/4)
			for j := range floats {
				floats[j] = math.Float32frombits(wire.LittleEndian.Uint32(raw[4*j:]))
			}
			v = floats
		case "BYTES":
			var elems []string
			for len(raw) > 0 {
				n := int(wire.LittleEndian.Uint32(raw))
				elems, raw = append(elems, string(raw[4:4+n])), raw[4+n:]
			}
			v = elems
		}
		o.Data, _ = json.Marshal(v)
		bin = bin[size:]
	}
	if len(bin) != 0 {
		t.Fatalf("%d bytes after the binary outputs", len(bin))
	}
	return resp
}

// checkV2 compares an inference response for texts with each text
// classified alone: probabilities, logits and labels.
func checkV2(t *testing.T, r v2Response, texts []string, labelShape []int) {
	t.Helper()
	n := len(texts)
	var probs, logits []float64
	var labels []string
	for _, o := range r.Outputs {
		var dst any
		wantType, wantShape := "FP32", []int{n, 2}
		switch o.Name {
		case "probabilities":
			dst = &probs
		case "logits":
			dst = &logits
		case "label":
			dst, wantType, wantShape = &labels, "BYTES", labelShape
		}
		if dst != nil {
			if err := json.Unmarshal(o.Data, dst); err != nil {
				t.Fatalf("output %s: %v", o.Name, err)
			}
		}
		if o.Datatype != wantType || !sameInts(o.Shape, wantShape) {
			t.Errorf("output %s: %s %v, want %s %v", o.Name, o.Datatype, o.Shape, wantType, wantShape)
		}
	}
	if probs != nil && len(probs) != 2*n || logits != nil && len(logits) != 2*n || labels != nil && len(labels) != n {
		t.Fatalf("%d probabilities, %d logits and %d labels for %d texts", len(probs), len(logits), len(labels), n)
	}
	for i, text := range texts {
		want := alone(t, text)
		if labels != nil && labels[i] != want.Label {
			t.Errorf("%.40q: label %s, alone %s", text, labels[i], want.Label)
		}
		for j, l := range []string{"NEGATIVE", "POSITIVE"} {
			if probs != nil && math.Abs(probs[i*2+j]-float64(want.Scores[l])) > 1e-5 {
				t.Errorf("%.40q: probability %s %g, alone %g", text, l, probs[i*2+j], want.Scores[l])
			}
			if logits != nil && math.Abs(logits[i*2+j]-float64(want.Logits[j])) > 1e-4 {
				t.Errorf("%.40q: logit %s %g, alone %g", text, l, logits[i*2+j], want.Logits[j])
			}
		}
	}
}

// binaryTexts lays texts out as the binary tensor data extension's BYTES
// elements: a 4-byte little-endian length, then the bytes.
func binaryTexts(texts []string) []byte {
	var b []byte
	for _, t := range texts {
		b = wire.LittleEndian.AppendUint32(b, uint32(len(t)))
		b = append(b, t...)
	}
	return b
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The Open Inference Protocol as the Triton (tritonclient.http) and KServe
// (kserve.InferenceRESTClient) Python clients speak it: the exact JSON
// bodies they send for a BYTES input set from a numpy array with
// binary_data=False, and the checks they make of the answers.
func TestOpenInferenceProtocol(t *testing.T) {
	t.Parallel()
	p := start(t, []string{"DISTILBERT_SERVED_MODEL_NAME=sentiment", "DISTILBERT_API_KEYS=v2-key"}, limitArgs...)
	key := []string{"Authorization", "Bearer v2-key"}
	texts := devTexts(t, 3) // incl. a truncated text and unicode

	// Health and metadata: open without a key, like /healthz and /info.
	if r := p.get("/v2/health/live"); r.status != 200 || string(r.body) != `{"live":true}` {
		t.Errorf("live: %d %s", r.status, r.body)
	}
	if r := p.get("/v2/health/ready"); r.status != 200 || string(r.body) != `{"ready":true}` {
		t.Errorf("ready: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/v2/models/sentiment/ready", "/v2/models/sentiment/versions/1/ready"} {
		if r := p.get(path); r.status != 200 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	var server struct {
		Name       string
		Version    string
		Extensions []string
	}
	r := p.get("/v2")
	r.json(t, &server)
	if r.status != 200 || server.Name != "distilbert" || server.Version == "" || !slices.Contains(server.Extensions, "binary_tensor_data") || !slices.Contains(server.Extensions, "model_configuration") {
		t.Errorf("server metadata: %d %s", r.status, r.body)
	}
	var meta struct {
		Name     string
		Versions []string
		Platform string
		Inputs   []v2Tensor
		Outputs  []v2Tensor
	}
	r = p.get("/v2/models/sentiment")
	r.json(t, &meta)
	if r.status != 200 || meta.Name != "sentiment" || len(meta.Versions) != 1 || meta.Platform == "" ||
		len(meta.Inputs) != 1 || meta.Inputs[0].Name != "text" || meta.Inputs[0].Datatype != "BYTES" || !sameInts(meta.Inputs[0].Shape, []int{-1}) {
		t.Fatalf("model metadata: %d %s", r.status, r.body)
	}
	outs := map[string]string{}
	for _, o := range meta.Outputs {
		outs[o.Name] = o.Datatype + jsonString(o.Shape)
	}
	if outs["probabilities"] != "FP32[-1,2]" || outs["logits"] != "FP32[-1,2]" || outs["label"] != "BYTES[-1]" {
		t.Errorf("model outputs %v", outs)
	}

	// Triton's model configuration, as tritonclient's get_model_config
	// reads it: the batch dimension implicit, up to --max-batch-items.
	var config struct {
		Name         string
		MaxBatchSize int `json:"max_batch_size"`
		Input        []struct {
			Name     string
			DataType string `json:"data_type"`
			Dims     []int
		}
		Output []struct {
			Name     string
			DataType string `json:"data_type"`
			Dims     []int
		}
	}
	for _, path := range []string{"/v2/models/sentiment/config", "/v2/models/sentiment/versions/1/config"} {
		r = p.get(path)
		r.json(t, &config)
		if r.status != 200 || config.Name != "sentiment" || config.MaxBatchSize != 8 || len(config.Input) != 1 || config.Input[0].DataType != "TYPE_STRING" ||
			!sameInts(config.Input[0].Dims, []int{1}) || len(config.Output) != 3 || config.Output[0].Name != "probabilities" || !sameInts(config.Output[0].Dims, []int{2}) {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}

	// The OpenAPI document and /docs describe the routes.
	var spec struct{ Paths map[string]any }
	p.get("/openapi.json").json(t, &spec)
	for _, path := range []string{"/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/ready", "/v2/models/{name}/infer", "/v2/models/{name}/config"} {
		if spec.Paths[path] == nil {
			t.Errorf("openapi.json lacks %s", path)
		}
	}
	if r := p.get("/docs"); !strings.Contains(string(r.body), "/v2/models/{name}/infer") || !strings.Contains(string(r.body), `id="schema-V2InferRequest"`) ||
		!strings.Contains(string(r.body), `id="schema-TEIPredictRequest"`) || !strings.Contains(string(r.body), `href="#schema-PredictRequest"`) {
		t.Errorf("/docs lacks the v2 route, the TEI and v2 schemas, or the /predict request's link")
	}

	// tritonclient: InferInput("text", [n, 1], "BYTES").set_data_from_numpy(
	// np.array([[t] for t in texts], dtype=object), binary_data=False), no
	// outputs requested: the client then asks for every output in binary.
	triton := map[string]any{
		"id":         "triton-1",
		"inputs":     []any{map[string]any{"name": "text", "shape": []int{len(texts), 1}, "datatype": "BYTES", "data": texts}},
		"parameters": map[string]any{"binary_data_output": true},
	}
	r = p.post("/v2/models/sentiment/infer", triton, key...)
	if r.status != 200 || r.header.Get("Inference-Header-Content-Length") == "" {
		t.Fatalf("triton request: %d %s, Inference-Header-Content-Length %q", r.status, r.body, r.header.Get("Inference-Header-Content-Length"))
	}
	resp := decodeV2(t, r)
	if resp.ModelName != "sentiment" || resp.ModelVersion != "1" || resp.ID != "triton-1" || len(resp.Outputs) != 3 {
		t.Fatalf("triton request: %+v", resp)
	}
	checkV2(t, resp, texts, []int{len(texts), 1})

	// tritonclient's defaults: set_data_from_numpy(np.array(texts,
	// dtype=object)) sends the texts as binary BYTES after the JSON, and
	// InferRequestedOutput("probabilities") asks for binary, while "label"
	// is asked for as JSON.
	header := []byte(`{"inputs":[{"name":"text","shape":[` + strconv.Itoa(len(texts)) + `],"datatype":"BYTES","parameters":{"binary_data_size":` +
		strconv.Itoa(len(binaryTexts(texts))) + `}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}},{"name":"label","parameters":{"binary_data":false}}]}`)
	r = p.do("POST", "/v2/models/sentiment/infer", append(header, binaryTexts(texts)...),
		append([]string{"Inference-Header-Content-Length", strconv.Itoa(len(header)), "Content-Type", "application/octet-stream"}, key...)...)
	if r.status != 200 {
		t.Fatalf("binary triton request: %d %s", r.status, r.body)
	}
	resp = decodeV2(t, r)
	if len(resp.Outputs) != 2 || resp.Outputs[0].Parameters.BinaryDataSize == nil || resp.Outputs[1].Parameters.BinaryDataSize != nil {
		t.Fatalf("binary triton request: %s", r.body)
	}
	checkV2(t, resp, texts, []int{len(texts)})

	// tritonclient with InferRequestedOutput(name, binary_data=False), one
	// text of shape [1], through the versioned path.
	triton = map[string]any{
		"inputs":  []any{map[string]any{"name": "text", "shape": []int{1}, "datatype": "BYTES", "data": []string{texts[0]}}},
		"outputs": []any{map[string]any{"name": "label", "parameters": map[string]any{"binary_data": false}}, map[string]any{"name": "logits", "parameters": map[string]any{"binary_data": false}}},
	}
	r = p.post("/v2/models/sentiment/versions/1/infer", triton, key...)
	resp = decodeV2(t, r)
	if r.status != 200 || len(resp.Outputs) != 2 || resp.Outputs[0].Name != "label" || resp.Outputs[1].Name != "logits" || resp.ID == "" {
		t.Fatalf("triton request with outputs: %d %s", r.status, r.body)
	}
	checkV2(t, resp, texts[:1], []int{1})

	// kserve: InferRequest.to_rest() with InferInput("text", [n], "BYTES",
	// data=[...]): a uuid id, the model name in the body, and data as a
	// flat list; then a nested [[t], [t]] list for shape [n, 1].
	kserve := map[string]any{
		"id":         "4d2f7a9e-0c1b-4c55-9d0e-2a7f3b1c8e11",
		"model_name": "sentiment",
		"inputs":     []any{map[string]any{"name": "text", "shape": []int{len(texts)}, "datatype": "BYTES", "data": texts}},
	}
	r = p.post("/v2/models/sentiment/infer", kserve, key...)
	resp = decodeV2(t, r)
	if r.status != 200 || resp.ID != "4d2f7a9e-0c1b-4c55-9d0e-2a7f3b1c8e11" {
		t.Fatalf("kserve request: %d %s", r.status, r.body)
	}
	checkV2(t, resp, texts, []int{len(texts)})
	nested := make([][]string, 2)
	for i := range nested {
		nested[i] = []string{texts[i]}
	}
	kserve["inputs"] = []any{map[string]any{"name": "text", "shape": []int{2, 1}, "datatype": "BYTES", "data": nested}}
	r = p.post("/v2/models/sentiment/infer", kserve, key...)
	resp = decodeV2(t, r)
	if r.status != 200 {
		t.Fatalf("kserve nested request: %d %s", r.status, r.body)
	}
	checkV2(t, resp, texts[:2], []int{2, 1})

	// Errors: the protocol's shape, with the service's statuses.
	one := func(shape []int, data any) map[string]any {
		return map[string]any{"inputs": []any{map[string]any{"name": "text", "shape": shape, "datatype": "BYTES", "data": data}}}
	}
	for _, tc := range []struct {
		method, path string
		body         any
		headers      []string
		status       int
		want         string
	}{
		{"POST", "/v2/models/sentiment/infer", one([]int{1}, []string{"good"}), nil, 401, "API key"},
		{"POST", "/v2/models/sentiment/infer", one([]int{1}, []string{"good"}), []string{"Authorization", "Bearer nope"}, 401, "invalid API key"},
		{"POST", "/v2/models/other/infer", one([]int{1}, []string{"good"}), key, 404, `unknown model "other"`},
		{"POST", "/v2/models/sst2-mini/infer", one([]int{1}, []string{"good"}), key, 404, "unknown model"},
		{"POST", "/v2/models/sentiment/versions/2/infer", one([]int{1}, []string{"good"}), key, 404, "no version"},
		{"GET", "/v2/models/other", nil, nil, 404, "unknown model"},
		{"GET", "/v2/models/other/ready", nil, nil, 404, "unknown model"},
		{"GET", "/v2/models/other/config", nil, nil, 404, "unknown model"},
		{"POST", "/v2/models/sentiment/config", []byte(`{}`), key, 405, "use GET"},
		{"GET", "/v2/models/sentiment/infer", nil, key, 405, "use POST"},
		{"POST", "/v2/models/sentiment", []byte(`{}`), key, 405, "use GET"},
		{"POST", "/v2/models/sentiment/infer", one([]int{3}, []string{"a", "b"}), key, 400, "shape"},
		{"POST", "/v2/models/sentiment/infer", one([]int{1}, []int{1}), key, 400, "array of strings"},
		{"POST", "/v2/models/sentiment/infer", []byte(`{"inputs": [{"name": "input-0", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}`), key, 400, `unknown input "input-0"`},
		{"POST", "/v2/models/sentiment/infer", []byte(`{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 8}}]}`), key, 400, "8 bytes of binary data"},
		{"POST", "/v2/models/sentiment/infer", []byte(`{"inputs": [`), key, 400, "malformed JSON"},
		{"POST", "/v2/models/sentiment/infer", one([]int{1}, []string{""}), key, 400, "empty"},
		{"POST", "/v2/models/sentiment/infer", one([]int{9}, []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}), key, 413, "limit is 8"},
		{"POST", "/v2/models/sentiment/infer", one([]int{1}, []string{strings.Repeat("é", 5001)}), key, 413, "limit is 5000"},
		{"POST", "/v2/models/sentiment/infer", one([]int{1}, []string{strings.Repeat("a", 20000)}), key, 413, "16384"},
	} {
		var body []byte
		switch b := tc.body.(type) {
		case nil:
		case []byte:
			body = b
		default:
			body, _ = json.Marshal(b)
		}
		r := p.do(tc.method, tc.path, body, tc.headers...)
		if r.status != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.body)
			continue
		}
		if msg := v2Error(t, r); !strings.Contains(msg, tc.want) {
			t.Errorf("%s %s: error %q, want it to say %q", tc.method, tc.path, msg, tc.want)
		}
	}
	// A binary element whose length runs past the body, and a header
	// length past it: clear errors, nothing misread.
	bin := append([]byte(`{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":8}}]}`), 9, 0, 0, 0, 'g', 'o', 'o', 'd')
	for _, h := range []string{strconv.Itoa(len(bin) - 8), "9999"} {
		r = p.do("POST", "/v2/models/sentiment/infer", bin, append([]string{"Inference-Header-Content-Length", h, "Content-Type", "application/octet-stream"}, key...)...)
		if msg := v2Error(t, r); r.status != 400 || !strings.Contains(msg, "bytes") {
			t.Errorf("bad binary request (header length %s): %d %s", h, r.status, msg)
		}
	}

	// The routes have their own request metrics (bounded: the template,
	// not the name), and the texts are counted with the others.
	if got := p.metric(`distilbert_http_requests_total{path="/v2/models/{name}/infer",status="200"}`); got != 5 {
		t.Errorf("infer 200s counted %g, want 5", got)
	}
	if got := p.metric(`distilbert_http_requests_total{path="/v2/models/{name}/infer",status="404"}`); got != 3 {
		t.Errorf("infer 404s counted %g, want 3", got)
	}
	if got := p.metric(`distilbert_texts_total`); got != float64(3*len(texts)+3) {
		t.Errorf("texts counted %g, want %d", got, 3*len(texts)+3)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// teiPrediction is one element of a TEI /predict answer.
type teiPrediction struct {
	Score float64 `json:"score"`
	Label string  `json:"label"`
}

// checkTEI compares a TEI answer for text with the text classified alone:
// every label once, sorted by score, highest first.
func checkTEI(t *testing.T, text string, got []teiPrediction, raw bool) {
	t.Helper()
	want := alone(t, text)
	if len(got) != 2 || got[0].Label != want.Label || !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].Score > got[j].Score }) {
		t.Errorf("%.40q: TEI answer %+v, alone %s", text, got, want.Label)
		return
	}
	for _, g := range got {
		w := float64(want.Scores[g.Label])
		if raw {
			w = float64(want.Logits[map[string]int{"NEGATIVE": 0, "POSITIVE": 1}[g.Label]])
		}
		if math.Abs(g.Score-w) > 1e-4 {
			t.Errorf("%.40q: %s score %g, want %g (raw %v)", text, g.Label, g.Score, w, raw)
		}
	}
}

// POST /predict takes Hugging Face TEI's request shape and answers in
// TEI's, while the native {"text": ...} contract is unchanged.
func TestTEIPredictShape(t *testing.T) {
	t.Parallel()
	// The flag sets the served name (the environment's twin is tested above).
	p := start(t, nil, append([]string{"--served-model-name", "tei-side"}, limitArgs...)...)
	if r := p.get("/v2/models/tei-side"); r.status != 200 {
		t.Errorf("--served-model-name: %d %s", r.status, r.body)
	}
	texts := devTexts(t, 2)
	long := texts[len(texts)-3] // over 512 tokens

	// Side by side: the native answer, then TEI's for the same text.
	var native prediction
	r := p.post("/predict", map[string]string{"text": texts[0]})
	r.json(t, &native)
	if r.status != 200 {
		t.Fatalf("native: %d %s", r.status, r.body)
	}
	checkPrediction(t, texts[0], native)
	var single []teiPrediction
	r = p.post("/predict", map[string]any{"inputs": texts[0]})
	r.json(t, &single)
	if r.status != 200 || r.body[0] != '[' {
		t.Fatalf("TEI single: %d %s", r.status, r.body)
	}
	checkTEI(t, texts[0], single, false)
	single = nil
	p.post("/predict", map[string]any{"inputs": []string{texts[1]}, "raw_scores": true}).json(t, &single)
	checkTEI(t, texts[1], single, true)
	// huggingface_hub's InferenceClient.text_classification body: TEI
	// ignores its "parameters", and so does the service.
	single = nil
	p.post("/predict", map[string]any{"inputs": texts[2], "parameters": map[string]any{"top_k": 1}}).json(t, &single)
	checkTEI(t, texts[2], single, false)

	// A batch is a list of one-string lists; truncate (absent or true)
	// truncates like the native API.
	batch := make([][]string, len(texts))
	for i, text := range texts {
		batch[i] = []string{text}
	}
	var many [][]teiPrediction
	r = p.post("/predict", map[string]any{"inputs": batch, "truncate": true, "truncation_direction": "right"})
	r.json(t, &many)
	if r.status != 200 || len(many) != len(texts) {
		t.Fatalf("TEI batch: %d %s", r.status, r.body)
	}
	for i, text := range texts {
		checkTEI(t, text, many[i], false)
	}

	// TEI's errors and statuses.
	teiErr := func(r response) (string, string) {
		t.Helper()
		var e struct {
			Error     string `json:"error"`
			ErrorType string `json:"error_type"`
		}
		if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" || e.ErrorType == "" {
			t.Fatalf("status %d: not TEI's error shape: %s", r.status, r.body)
		}
		return e.Error, e.ErrorType
	}
	nine := make([][]string, 9)
	for i := range nine {
		nine[i] = []string{"good"}
	}
	for _, tc := range []struct {
		body   any
		status int
		kind   string
		want   string
	}{
		{map[string]any{"inputs": long, "truncate": false}, 422, "Validation", "512 tokens"},
		{map[string]any{"inputs": []any{[]string{"fine"}, []string{long}}, "truncate": false}, 422, "Validation", "text 1"},
		{map[string]any{"inputs": []string{"a question", "an answer"}}, 422, "Validation", "sentence pair"},
		{map[string]any{"inputs": ""}, 400, "Empty", "cannot be empty"},
		{map[string]any{"inputs": nine}, 422, "Validation", "batch size 9"},
		{map[string]any{"inputs": "a", "truncation_direction": "left"}, 422, "Validation", "not supported"},
		{map[string]any{"inputs": "a", "raw_scores": "yes"}, 422, "Validation", "raw_scores"},
		{[]byte(`{"inputs": "a"`), 400, "Validation", "malformed JSON"},
	} {
		r := p.post("/predict", tc.body)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", jsonString(tc.body), r.status, tc.status, r.body)
			continue
		}
		if msg, kind := teiErr(r); kind != tc.kind || !strings.Contains(msg, tc.want) {
			t.Errorf("%.80s: %s %q, want %s saying %q", jsonString(tc.body), kind, msg, tc.kind, tc.want)
		}
	}
	// truncate=false refuses before inference: no batch ran for those.
	batches := p.metric("distilbert_batches_total")
	p.post("/predict", map[string]any{"inputs": long, "truncate": false})
	if got := p.metric("distilbert_batches_total"); got != batches {
		t.Errorf("a refused over-long text still ran: %g batches, then %g", batches, got)
	}

	// The native contract is untouched: its errors keep their shape.
	r = p.post("/predict", map[string]any{"text": "good", "inputs": "good"})
	if r.status != 400 || r.errorCode(t) != "unknown_field" {
		t.Errorf("native with an inputs field: %d %s", r.status, r.body)
	}
	if r := p.post("/predict/batch", map[string]any{"inputs": "good"}); r.status != 400 || r.errorCode(t) != "unknown_field" {
		t.Errorf("TEI shape on /predict/batch: %d %s", r.status, r.body)
	}
	native = prediction{}
	p.post("/predict", map[string]string{"text": long}).json(t, &native)
	if !native.Truncated || native.Tokens != 512 {
		t.Errorf("native long text: %+v", native)
	}
}
