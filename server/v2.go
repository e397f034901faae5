package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// The Open Inference Protocol (KServe v2, also Triton's) over HTTP: health,
// server and model metadata, Triton's model configuration, and inference
// with one BYTES input of texts
// and FP32 outputs, in JSON or in Triton's binary tensor data extension
// (what tritonclient.http sends by default: the JSON header, then each
// binary tensor's bytes, a BYTES element being a 4-byte little-endian
// length and its bytes).

const (
	v2ModelVersion = "1" // the one version of the one model
	v2InputName    = "text"
	v2Platform     = "distilbert-go"
)

// v2Outputs are the model's outputs, in the order answered when a request
// names none.
var v2Outputs = []string{"probabilities", "logits", "label"}

const (
	v2OutProbabilities = iota
	v2OutLogits
	v2OutLabel
)

// v2Model is the model as the protocol describes it.
type v2Model struct {
	name     string
	nameJSON []byte
	metadata []byte // GET /v2/models/{name}
	config   []byte // GET /v2/models/{name}/config
}

func newV2Model(served, modelName string, labels []string, maxBatchItems int, maxWait time.Duration) v2Model {
	name := served
	if name == "" {
		name = servedNameOf(modelName)
	}
	type tensor struct {
		Name     string `json:"name"`
		Datatype string `json:"datatype"`
		Shape    []int  `json:"shape"`
	}
	n := len(labels)
	meta := struct {
		Name     string   `json:"name"`
		Versions []string `json:"versions"`
		Platform string   `json:"platform"`
		Inputs   []tensor `json:"inputs"`
		Outputs  []tensor `json:"outputs"`
	}{
		Name: name, Versions: []string{v2ModelVersion}, Platform: v2Platform,
		Inputs: []tensor{{v2InputName, "BYTES", []int{-1}}},
		Outputs: []tensor{
			{v2Outputs[v2OutProbabilities], "FP32", []int{-1, n}},
			{v2Outputs[v2OutLogits], "FP32", []int{-1, n}},
			{v2Outputs[v2OutLabel], "BYTES", []int{-1}},
		},
	}
	b, err := json.Marshal(meta)
	if err != nil {
		panic(err) // plain strings and ints
	}
	nameJSON, _ := json.Marshal(name)
	return v2Model{name: name, nameJSON: nameJSON, metadata: b, config: v2Config(name, n, maxBatchItems, maxWait)}
}

// v2Config is the model's configuration in Triton's model configuration
// extension (model_config.proto as JSON), which tritonclient's
// get_model_config returns and client scripts read max_batch_size and the
// tensors' dims from. The batch dimension is implicit there: dims [1] for
// the text is a [n, 1] input, as the model metadata's [-1] is [n].
func v2Config(name string, labels, maxBatchItems int, maxWait time.Duration) []byte {
	type tensor struct {
		Name     string `json:"name"`
		DataType string `json:"data_type"`
		Dims     []int  `json:"dims"`
	}
	cfg := struct {
		Name            string         `json:"name"`
		Platform        string         `json:"platform"`
		Backend         string         `json:"backend"`
		VersionPolicy   map[string]any `json:"version_policy"`
		MaxBatchSize    int            `json:"max_batch_size"`
		Input           []tensor       `json:"input"`
		Output          []tensor       `json:"output"`
		DynamicBatching map[string]any `json:"dynamic_batching"`
	}{
		Name: name, Platform: v2Platform, Backend: v2Platform,
		VersionPolicy: map[string]any{"latest": map[string]any{"num_versions": 1}},
		MaxBatchSize:  maxBatchItems,
		Input:         []tensor{{v2InputName, "TYPE_STRING", []int{1}}},
		Output: []tensor{
			{v2Outputs[v2OutProbabilities], "TYPE_FP32", []int{labels}},
			{v2Outputs[v2OutLogits], "TYPE_FP32", []int{labels}},
			{v2Outputs[v2OutLabel], "TYPE_STRING", []int{1}},
		},
		DynamicBatching: map[string]any{"max_queue_delay_microseconds": maxWait.Microseconds()},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // plain strings and ints
	}
	return b
}

// validServedName: a name that is one URL path segment as it is.
func validServedName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// servedNameOf makes a model's name (a checkpoint directory's) a valid
// served name, replacing what a URL segment would need escaped.
func servedNameOf(modelName string) string {
	if validServedName(modelName) {
		return modelName
	}
	b := []byte(modelName)
	if len(b) > 128 {
		b = b[:128]
	}
	for i, c := range b {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			b[i] = '-'
		}
	}
	if b[0] == '-' {
		b[0] = 'm'
	}
	return string(b)
}

func isV2Route(route int) bool { return route >= routeV2Server && route <= routeV2ModelConfig }

// v2ModelRoute is the route of a /v2/models/... path (routeOther if it is
// not one the protocol has).
func v2ModelRoute(path []byte) int {
	if string(path) == "/v2/" {
		return routeV2Server
	}
	if !bytes.HasPrefix(path, []byte("/v2/models/")) {
		return routeOther
	}
	_, _, op, ok := parseV2ModelPath(string(path))
	switch {
	case !ok:
		return routeOther
	case op == "ready":
		return routeV2ModelReady
	case op == "infer":
		return routeV2Infer
	case op == "config":
		return routeV2ModelConfig
	}
	return routeV2Model
}

// parseV2ModelPath splits /v2/models/{name}[/versions/{version}][/{op}],
// op being "", "ready", "infer" or "config".
func parseV2ModelPath(p string) (name, version, op string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/models/")
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	name, parts = parts[0], parts[1:]
	if name == "" {
		return "", "", "", false
	}
	if len(parts) >= 2 && parts[0] == "versions" {
		version, parts = parts[1], parts[2:]
		if version == "" {
			return "", "", "", false
		}
	}
	switch {
	case len(parts) == 0:
		return name, version, "", true
	case len(parts) == 1 && (parts[0] == "ready" || parts[0] == "infer" || parts[0] == "config"):
		return name, version, parts[0], true
	}
	return "", "", "", false
}

// writeV2Error answers the protocol's error shape, {"error": "message"}.
func writeV2Error(ctx *fasthttp.RequestCtx, _ string, e *apiError) {
	b := append([]byte(`{"error":`), appendJSONString(nil, e.Message)...)
	writeJSON(ctx, e.Status, append(b, '}'))
}

// serveV2 answers every Open Inference Protocol route.
func (s *Server) serveV2(ctx *fasthttp.RequestCtx, route int, id string, start time.Time, info *reqInfo) {
	allow := "GET, HEAD, OPTIONS"
	if route == routeV2Infer {
		allow = "POST, OPTIONS"
	}
	switch {
	case ctx.IsOptions():
		ctx.Response.Header.Set("Allow", allow)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	case route == routeV2Infer && !ctx.IsPost(), route != routeV2Infer && !ctx.IsGet() && !ctx.IsHead():
		ctx.Response.Header.Set("Allow", allow)
		writeV2Error(ctx, id, errorf(405, "method_not_allowed", "%s is not allowed here; use %s", truncate(string(ctx.Method()), 20), strings.Split(allow, ",")[0]))
		return
	}
	ready := s.ready.Load() && !s.draining.Load()
	readyBody := func(b []byte) {
		status := 200
		if !ready {
			status = 503
		}
		writeJSON(ctx, status, b)
	}
	switch route {
	case routeV2Server:
		b, _ := json.Marshal(map[string]any{"name": "distilbert", "version": s.cfg.Version, "extensions": []string{"binary_tensor_data", "model_configuration"}})
		writeJSON(ctx, 200, b)
		return
	case routeV2Live:
		writeJSON(ctx, 200, []byte(`{"live":true}`))
		return
	case routeV2Ready:
		readyBody([]byte(`{"ready":` + strconv.FormatBool(ready) + `}`))
		return
	}
	name, version, _, _ := parseV2ModelPath(string(ctx.Path()))
	m := s.requestModel(info)
	if name != m.v2.name {
		writeV2Error(ctx, id, errorf(404, "not_found", "unknown model %q; this server serves %q", truncate(name, 100), m.v2.name))
		return
	}
	if version != "" && version != v2ModelVersion {
		writeV2Error(ctx, id, errorf(404, "not_found", "model %q has no version %q; its version is %q", m.v2.name, truncate(version, 50), v2ModelVersion))
		return
	}
	switch route {
	case routeV2Model:
		writeJSON(ctx, 200, m.v2.metadata)
	case routeV2ModelConfig:
		writeJSON(ctx, 200, m.v2.config)
	case routeV2ModelReady:
		readyBody([]byte(`{"name":` + string(m.v2.nameJSON) + `,"ready":` + strconv.FormatBool(ready) + `}`))
	case routeV2Infer:
		s.inferV2(ctx, id, start, info)
	}
}

// inferV2 serves POST /v2/models/{name}[/versions/{version}]/infer.
func (s *Server) inferV2(ctx *fasthttp.RequestCtx, id string, start time.Time, info *reqInfo) {
	if aerr := s.admit(ctx, start, info); aerr != nil {
		writeV2Error(ctx, id, aerr)
		return
	}
	jsonLen := -1
	if h := ctx.Request.Header.Peek(v2HeaderLength); len(h) > 0 {
		n, err := strconv.Atoi(string(h))
		if err != nil || n < 0 {
			writeV2Error(ctx, id, errorf(400, "invalid_input", "%s %q is not a length in bytes", v2HeaderLength, truncate(string(h), 20)))
			return
		}
		jsonLen = n // decodeV2Infer checks it against the body
	}
	req, aerr := decodeV2Infer(ctx.PostBody(), jsonLen, s.limits)
	if aerr != nil {
		writeV2Error(ctx, id, aerr)
		return
	}
	results, aerr := s.classify(ctx, req.texts, classifyOptions{}, id, start, info)
	if aerr != nil {
		writeClassifyError(ctx, id, aerr, writeV2Error)
		return
	}
	respID := id
	if req.id != nil {
		respID = *req.id
	}
	m := info.model
	n, nl := len(results), len(m.labels)
	b := make([]byte, 0, 160+len(m.v2.nameJSON)+len(respID)+n*(2*nl*14+24))
	var bin []byte // the binary outputs' data, after the JSON
	b = append(b, `{"model_name":`...)
	b = append(b, m.v2.nameJSON...)
	b = append(b, `,"model_version":"`+v2ModelVersion+`","id":`...)
	b = appendJSONString(b, respID)
	b = append(b, `,"outputs":[`...)
	for k, out := range req.outputs {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":"`...)
		b = append(b, v2Outputs[out]...)
		if out == v2OutLabel {
			b = append(b, `","datatype":"BYTES","shape":[`...)
			b = strconv.AppendInt(b, int64(n), 10)
			if req.rank2 {
				b = append(b, ",1"...)
			}
		} else {
			b = append(b, `","datatype":"FP32","shape":[`...)
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(nl), 10)
		}
		if req.binary[k] {
			before := len(bin)
			bin = appendV2Binary(bin, out, results, m.labels)
			b = append(b, `],"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(len(bin)-before), 10)
			b = append(b, "}}"...)
			continue
		}
		b = append(b, `],"data":[`...)
		for i := range results {
			if out == v2OutLabel {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, m.labelJSON[results[i].label]...)
				continue
			}
			for j, v := range v2Values(&results[i], out) {
				if i > 0 || j > 0 {
					b = append(b, ',')
				}
				b = appendFloat(b, v)
			}
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	if !slices.Contains(req.binary, true) {
		writeJSON(ctx, 200, b)
		return
	}
	ctx.Response.Header.Set(v2HeaderLength, strconv.Itoa(len(b)))
	ctx.SetStatusCode(200)
	ctx.SetContentType("application/octet-stream")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(append(b, bin...))
}

// v2Values are a result's values for an FP32 output.
func v2Values(r *result, out int) []float32 {
	if out == v2OutLogits {
		return r.logits
	}
	return r.probs
}

// appendV2Binary appends output out of every result in the binary tensor
// data extension's layout: FP32 values little-endian, row-major; a BYTES
// element as its 4-byte little-endian length and its bytes.
func appendV2Binary(b []byte, out int, results []result, labels []string) []byte {
	for i := range results {
		if out == v2OutLabel {
			label := labels[results[i].label]
			b = binary.LittleEndian.AppendUint32(b, uint32(len(label)))
			b = append(b, label...)
			continue
		}
		for _, v := range v2Values(&results[i], out) {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

// v2HeaderLength is the binary tensor data extension's header: the length
// of the JSON that starts the body, the binary data following it.
const v2HeaderLength = "Inference-Header-Content-Length"

// v2InferRequest is the protocol's inference request, JSON form. ModelName
// and ModelVersion are not the protocol's but KServe's Python client sends
// them; they are accepted and the path decides.
type v2InferRequest struct {
	ID           *string                    `json:"id"`
	Parameters   map[string]json.RawMessage `json:"parameters"`
	Inputs       []v2Input                  `json:"inputs"`
	Outputs      []v2Output                 `json:"outputs"`
	ModelName    *string                    `json:"model_name"`
	ModelVersion *string                    `json:"model_version"`
}

type v2Input struct {
	Name       string                     `json:"name"`
	Shape      []int64                    `json:"shape"`
	Datatype   string                     `json:"datatype"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Data       json.RawMessage            `json:"data"`
}

type v2Output struct {
	Name       string                     `json:"name"`
	Parameters map[string]json.RawMessage `json:"parameters"`
}

// v2Infer is a decoded inference request.
type v2Infer struct {
	id      *string
	texts   []string
	outputs []int  // indices into v2Outputs, in answer order
	binary  []bool // per output: answered as binary data
	rank2   bool   // the input's shape was [n, 1]: the label output's is too
}

// decodeV2Infer parses an inference request strictly: one BYTES input
// named "text" of shape [n] or [n, 1] whose data, flat or nested JSON or
// binary, holds n strings; outputs among v2Outputs, each JSON or binary.
// jsonLen is the Inference-Header-Content-Length (-1: none, all JSON).
// Errors are 400, or 413 over the limits.
func decodeV2Infer(body []byte, jsonLen int, lim limits) (*v2Infer, *apiError) {
	if lim.MaxBodyBytes > 0 && len(body) > lim.MaxBodyBytes {
		return nil, errorf(413, "body_too_large", "request body is %d bytes, the limit is %d", len(body), lim.MaxBodyBytes)
	}
	var bin []byte
	if jsonLen > len(body) {
		return nil, errorf(400, "invalid_input", "%s %d is past the end of the body of %d bytes", v2HeaderLength, jsonLen, len(body))
	}
	if jsonLen >= 0 {
		body, bin = body[:jsonLen], body[jsonLen:]
	}
	if err := checkObjectBody(body, lim); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req v2InferRequest
	if err := dec.Decode(&req); err != nil {
		return nil, v2JSONError(err)
	}
	if err := expectEOF(dec); err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) (*v2Infer, *apiError) {
		return nil, errorf(400, "invalid_input", format, args...)
	}
	switch {
	case len(req.Inputs) == 0:
		return bad(`"inputs" is required: one BYTES input named %q`, v2InputName)
	case len(req.Inputs) > 1:
		return bad("the model has one input, %q; got %d inputs", v2InputName, len(req.Inputs))
	}
	in := &req.Inputs[0]
	switch {
	case in.Name != v2InputName:
		return bad("unknown input %q; the model's input is %q", truncate(in.Name, 100), v2InputName)
	case in.Datatype != "BYTES":
		return bad("input %q has datatype %q; it must be BYTES", v2InputName, truncate(in.Datatype, 20))
	case len(in.Shape) == 0 || len(in.Shape) > 2 || len(in.Shape) == 2 && in.Shape[1] != 1:
		return bad("input %q has shape %v; it must be [n] or [n, 1]", v2InputName, in.Shape)
	case in.Shape[0] < 0:
		return bad("input %q has shape %v; dimensions must not be negative", v2InputName, in.Shape)
	case in.Shape[0] == 0:
		return bad("input %q has no texts", v2InputName)
	case lim.MaxBatchItems > 0 && in.Shape[0] > int64(lim.MaxBatchItems):
		return nil, errorf(413, "too_many_items", "input %q has %d texts, the limit is %d", v2InputName, in.Shape[0], lim.MaxBatchItems)
	}
	var texts []string
	var aerr *apiError
	if size := in.Parameters["binary_data_size"]; size != nil {
		var n int64
		switch {
		case json.Unmarshal(size, &n) != nil || n < 0:
			return bad("input %q: binary_data_size must be a byte count, got %s", v2InputName, truncate(string(size), 30))
		case len(in.Data) > 0 && string(in.Data) != "null":
			return bad("input %q has both data and binary_data_size", v2InputName)
		case n != int64(len(bin)):
			return bad("input %q declares %d bytes of binary data; the body has %d after its JSON", v2InputName, n, len(bin))
		}
		texts, aerr = v2BinaryStrings(bin, in.Shape[0])
	} else {
		if len(bin) > 0 {
			return bad("the body has %d bytes after its JSON but no input declares binary_data_size", len(bin))
		}
		texts, aerr = v2Strings(in.Data)
	}
	if aerr != nil {
		return nil, aerr
	}
	if int64(len(texts)) != in.Shape[0] {
		return bad("input %q has shape %v but %d data elements", v2InputName, in.Shape, len(texts))
	}
	for i, t := range texts {
		if err := checkText(t, fmt.Sprintf("input %q element %d", v2InputName, i), lim); err != nil {
			if err.Status == 422 {
				err.Status = 400 // the protocol's invalid input
			}
			return nil, err
		}
	}
	out := &v2Infer{id: req.ID, texts: texts, rank2: len(in.Shape) == 2}
	allBinary, aerr := v2Bool(req.Parameters, "binary_data_output", "the request", false)
	if aerr != nil {
		return nil, aerr
	}
	if len(req.Outputs) == 0 {
		out.outputs = []int{v2OutProbabilities, v2OutLogits, v2OutLabel}
		out.binary = []bool{allBinary, allBinary, allBinary}
		return out, nil
	}
	seen := map[int]bool{}
	for _, o := range req.Outputs {
		k := -1
		for i, name := range v2Outputs {
			if o.Name == name {
				k = i
			}
		}
		switch {
		case k < 0:
			return bad("unknown output %q; the model's outputs are %s", truncate(o.Name, 100), strings.Join(v2Outputs, ", "))
		case seen[k]:
			return bad("output %q is requested twice", o.Name)
		case o.Parameters["classification"] != nil:
			return bad("output %q: the classification extension is not supported; request the label output", o.Name)
		}
		seen[k] = true
		bin, aerr := v2Bool(o.Parameters, "binary_data", fmt.Sprintf("output %q", o.Name), allBinary)
		if aerr != nil {
			return nil, aerr
		}
		out.outputs = append(out.outputs, k)
		out.binary = append(out.binary, bin)
	}
	return out, nil
}

// v2Bool reads the boolean parameter key of what (def when absent).
func v2Bool(params map[string]json.RawMessage, key, what string, def bool) (bool, *apiError) {
	raw, ok := params[key]
	if !ok {
		return def, nil
	}
	var v bool
	if json.Unmarshal(raw, &v) != nil {
		return false, errorf(400, "invalid_input", "%s: parameter %q must be true or false, got %s", what, key, truncate(string(raw), 30))
	}
	return v, nil
}

// v2BinaryStrings reads n BYTES elements in the binary tensor data
// extension's layout, each a 4-byte little-endian length and that many
// bytes, filling b exactly; texts must be UTF-8, as in JSON.
func v2BinaryStrings(b []byte, n int64) ([]string, *apiError) {
	texts := make([]string, 0, min(n, int64(len(b)/4)))
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errorf(400, "invalid_input", "input %q: binary data ends inside the length of element %d", v2InputName, len(texts))
		}
		size := binary.LittleEndian.Uint32(b)
		if uint64(size) > uint64(len(b)-4) {
			return nil, errorf(400, "invalid_input", "input %q: element %d claims %d bytes, %d are left", v2InputName, len(texts), size, len(b)-4)
		}
		text := b[4 : 4+size]
		if !utf8.Valid(text) {
			return nil, errorf(400, "invalid_input", "input %q element %d is not valid UTF-8", v2InputName, len(texts))
		}
		if int64(len(texts)) == n {
			return nil, errorf(400, "invalid_input", "input %q has shape [%d] but more binary elements", v2InputName, n)
		}
		texts = append(texts, string(text))
		b = b[4+size:]
	}
	return texts, nil
}

// v2Strings reads BYTES tensor data: strings, flat or nested one level
// ([[s], [s]] for shape [n, 1]), in row-major order.
func v2Strings(data json.RawMessage) ([]string, *apiError) {
	if len(data) == 0 || string(data) == "null" {
		return nil, errorf(400, "invalid_input", "input %q has no data (neither JSON data nor binary_data_size)", v2InputName)
	}
	var flat []*string
	if err := json.Unmarshal(data, &flat); err == nil {
		return derefStrings(flat)
	}
	var nested [][]*string
	if err := json.Unmarshal(data, &nested); err != nil {
		return nil, errorf(400, "invalid_input", "input %q: data must be an array of strings, flat or nested", v2InputName)
	}
	var all []*string
	for _, row := range nested {
		all = append(all, row...)
	}
	return derefStrings(all)
}

func derefStrings(ps []*string) ([]string, *apiError) {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p == nil {
			return nil, errorf(400, "invalid_input", "input %q element %d is null", v2InputName, i)
		}
		out[i] = *p
	}
	return out, nil
}

// v2JSONError describes an encoding/json error of an inference request.
func v2JSONError(err error) *apiError {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if typ.Field != "" {
			return errorf(400, "invalid_type", "%q has the wrong type: got %s", typ.Field, typ.Value)
		}
		return errorf(400, "invalid_type", "the request must be a JSON object, got %s", typ.Value)
	}
	if errors.Is(err, io.EOF) {
		return errorf(400, "malformed_json", "malformed JSON: unexpected end of body")
	}
	return jsonError(err)
}
