package distilbert

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distilbert-go/distilbert/kernels"
	"github.com/distilbert-go/distilbert/weights"

	"github.com/distilbert-go/distilbert/internal/freelist"
)

// Model is a loaded DistilBertForSequenceClassification: weights packed for
// one kernel implementation, ready for Forward. It is safe for concurrent use.
type Model struct {
	Config  Config
	kernels *kernels.Impl
	quant   Quantization

	wordEmb []float32 // [vocab][dim]
	posEmb  []float32 // [positions][dim]
	embNorm layerNorm
	layers  []layer

	preClassifier linear // dim → dim, ReLU
	classifier    linear // dim → labels

	file       *weights.File
	workspaces freelist.List[workspace]
}

type linear struct {
	w *kernels.Matrix  // float32 weights, or
	q *kernels.QMatrix // int8 ones (QuantInt8)
	b []float32
}

type layerNorm struct{ gamma, beta []float32 }

type layer struct {
	q, k, v, out   linear
	saNorm         layerNorm
	ffn1, ffn2     linear
	outputNorm     layerNorm
	activationKind kernels.Activation
}

func activationOf(name string) (kernels.Activation, error) {
	switch name {
	case "gelu":
		return kernels.ActGELU, nil
	case "relu":
		return kernels.ActReLU, nil
	}
	return 0, fmt.Errorf("activation %q is not supported (want \"gelu\" or \"relu\")", name)
}

// tensorSpec is one tensor the model expects, by its name without the
// "distilbert." prefix of the encoder.
type tensorSpec struct {
	name     string
	shape    []int
	optional bool // may be absent (sinusoidal position embeddings)
}

func expectedTensors(c *Config) []tensorSpec {
	d, h := c.Dim, c.HiddenDim
	specs := []tensorSpec{
		{name: "embeddings.word_embeddings.weight", shape: []int{c.VocabSize, d}},
		{name: "embeddings.position_embeddings.weight", shape: []int{c.MaxPositionEmbeddings, d}, optional: c.SinusoidalPosEmbds},
		{name: "embeddings.LayerNorm.weight", shape: []int{d}},
		{name: "embeddings.LayerNorm.bias", shape: []int{d}},
	}
	for i := 0; i < c.NLayers; i++ {
		p := "transformer.layer." + strconv.Itoa(i) + "."
		for _, lin := range []string{"attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin"} {
			specs = append(specs, tensorSpec{name: p + lin + ".weight", shape: []int{d, d}}, tensorSpec{name: p + lin + ".bias", shape: []int{d}})
		}
		specs = append(specs,
			tensorSpec{name: p + "sa_layer_norm.weight", shape: []int{d}},
			tensorSpec{name: p + "sa_layer_norm.bias", shape: []int{d}},
			tensorSpec{name: p + "ffn.lin1.weight", shape: []int{h, d}},
			tensorSpec{name: p + "ffn.lin1.bias", shape: []int{h}},
			tensorSpec{name: p + "ffn.lin2.weight", shape: []int{d, h}},
			tensorSpec{name: p + "ffn.lin2.bias", shape: []int{d}},
			tensorSpec{name: p + "output_layer_norm.weight", shape: []int{d}},
			tensorSpec{name: p + "output_layer_norm.bias", shape: []int{d}},
		)
	}
	return specs
}

// headTensors are always top-level, whatever the encoder's key layout.
func headTensors(c *Config) []tensorSpec {
	d, nl := c.Dim, len(c.Labels)
	return []tensorSpec{
		{name: "pre_classifier.weight", shape: []int{d, d}},
		{name: "pre_classifier.bias", shape: []int{d}},
		{name: "classifier.weight", shape: []int{nl, d}},
		{name: "classifier.bias", shape: []int{nl}},
	}
}

// encoderPrefix tells the two key layouts found in the wild apart:
// "distilbert.embeddings…" as saved by DistilBertForSequenceClassification,
// and bare "embeddings…" from checkpoints saved off the base model.
func encoderPrefix(f *weights.File) string {
	for _, n := range f.Names() {
		if strings.HasPrefix(n, "distilbert.") {
			return "distilbert."
		}
	}
	return ""
}

// newModel binds the tensors of f to c, checking every name and shape and
// reporting all problems at once. On success the model owns f.
func newModel(c *Config, f *weights.File, impl *kernels.Impl, quant Quantization) (*Model, error) {
	prefix := encoderPrefix(f)
	found := map[string]*weights.Tensor{}
	var missing, mismatched []string
	var problems []error
	check := func(full string, s tensorSpec) {
		t, ok := f.Tensor(full)
		if !ok {
			if !s.optional {
				missing = append(missing, full)
			}
			return
		}
		if !slices.Equal(t.Shape, s.shape) {
			mismatched = append(mismatched, fmt.Sprintf("%s has shape %v, want %v", full, t.Shape, s.shape))
			return
		}
		if t.Data == nil {
			problems = append(problems, fmt.Errorf("%s: dtype %s is not supported (want F32, F16 or BF16)", full, t.DType))
			return
		}
		if i := firstNonFinite(t.Data); i >= 0 {
			problems = append(problems, fmt.Errorf("%s: element %d is %v", full, i, t.Data[i]))
			return
		}
		found[full] = t
	}
	for _, s := range expectedTensors(c) {
		check(prefix+s.name, s)
	}
	for _, s := range headTensors(c) {
		check(s.name, s)
	}
	var unexpected []string
	for _, n := range f.Names() {
		if _, ok := found[n]; !ok && !isKnownName(n, prefix) {
			unexpected = append(unexpected, n)
		}
	}
	if len(missing)+len(mismatched)+len(unexpected)+len(problems) > 0 {
		var errs []error
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("missing tensors: %s", strings.Join(missing, ", ")))
		}
		if len(mismatched) > 0 {
			errs = append(errs, fmt.Errorf("mismatched tensors: %s", strings.Join(mismatched, "; ")))
		}
		if len(unexpected) > 0 {
			sort.Strings(unexpected)
			errs = append(errs, fmt.Errorf("unexpected tensors: %s", strings.Join(unexpected, ", ")))
		}
		errs = append(errs, problems...)
		return nil, fmt.Errorf("%s does not match config.json (%d layers, dim %d, hidden %d, %d labels): %w",
			f.Name, c.NLayers, c.Dim, c.HiddenDim, len(c.Labels), indentJoin(errs))
	}

	act, _ := activationOf(c.Activation)
	m := &Model{Config: *c, kernels: impl, quant: quant, file: f}
	get := func(name string) []float32 { return found[prefix+name].Data }
	var packErr error
	// scaleBuf holds scaled weights while they are packed: one buffer for
	// all layers, unless a packer keeps it (the generic kernel reads W as
	// is), so that no garbage the size of the weights outlives loading.
	var scaleBuf []float32
	// scaledLin packs a linear layer whose weights and bias are multiplied
	// by scale (1: as stored), or quantizes it (the encoder's, with
	// QuantInt8); when that copied the weights, their mapped pages are
	// released so they do not count twice in memory.
	scaledLin := func(wName, bName string, out, in int, quantize bool, scale float32) linear {
		t := found[wName]
		w, b := t.Data, found[bName].Data
		if scale != 1 {
			if len(scaleBuf) < len(w) {
				scaleBuf = make([]float32, len(w))
			}
			w = scaleInto(scaleBuf[:len(w)], w, scale)
			b = scaleInto(make([]float32, len(b)), b, scale)
		}
		l := linear{b: b}
		var err error
		if quantize {
			l.q, err = kernels.QuantizeMatrix(w, out, in)
		} else {
			l.w, err = impl.Pack(w, out, in)
			if err == nil && scale != 1 && l.w.Aliases(w) {
				scaleBuf = nil
			}
		}
		if err != nil {
			if packErr == nil {
				packErr = err
			}
			return linear{}
		}
		if quantize || !l.w.Aliases(t.Data) {
			f.Evict(t)
		}
		return l
	}
	lin := func(wName, bName string, out, in int, quantize bool) linear {
		return scaledLin(wName, bName, out, in, quantize, 1)
	}
	quantizeEncoder := quant == QuantInt8
	d, h := c.Dim, c.HiddenDim
	queryScale := float32(1 / math.Sqrt(float64(c.HeadDim())))
	m.wordEmb = get("embeddings.word_embeddings.weight")
	if t, ok := found[prefix+"embeddings.position_embeddings.weight"]; ok {
		m.posEmb = t.Data
	} else {
		m.posEmb = sinusoidalEmbeddings(c.MaxPositionEmbeddings, d)
	}
	m.embNorm = layerNorm{get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias")}
	for i := 0; i < c.NLayers; i++ {
		p := "transformer.layer." + strconv.Itoa(i) + "."
		l := layer{activationKind: act}
		// Hugging Face scales the queries by 1/√d_head; scaling their
		// weights and bias once here spares a pass over q per layer on the
		// caller's serial path (at 128 tokens ~190 µs on Zen 3, long
		// enough for idle workers to park). A power-of-two scale (d_head
		// 64, 16, …) gives bit-identical queries.
		l.q = scaledLin(prefix+p+"attention.q_lin.weight", prefix+p+"attention.q_lin.bias", d, d, quantizeEncoder, queryScale)
		l.k = lin(prefix+p+"attention.k_lin.weight", prefix+p+"attention.k_lin.bias", d, d, quantizeEncoder)
		l.v = lin(prefix+p+"attention.v_lin.weight", prefix+p+"attention.v_lin.bias", d, d, quantizeEncoder)
		l.out = lin(prefix+p+"attention.out_lin.weight", prefix+p+"attention.out_lin.bias", d, d, quantizeEncoder)
		l.saNorm = layerNorm{get(p + "sa_layer_norm.weight"), get(p + "sa_layer_norm.bias")}
		l.ffn1 = lin(prefix+p+"ffn.lin1.weight", prefix+p+"ffn.lin1.bias", h, d, quantizeEncoder)
		l.ffn2 = lin(prefix+p+"ffn.lin2.weight", prefix+p+"ffn.lin2.bias", d, h, quantizeEncoder)
		l.outputNorm = layerNorm{get(p + "output_layer_norm.weight"), get(p + "output_layer_norm.bias")}
		m.layers = append(m.layers, l)
	}
	m.preClassifier = lin("pre_classifier.weight", "pre_classifier.bias", d, d, false)
	m.classifier = lin("classifier.weight", "classifier.bias", len(c.Labels), d, false)
	if packErr != nil {
		return nil, packErr
	}
	return m, nil
}

// isKnownName accepts tensors that checkpoints carry but inference ignores.
func isKnownName(n, prefix string) bool {
	// Some exports keep the position_ids buffer.
	return n == prefix+"embeddings.position_ids"
}

// scaleInto sets dst to x times s and returns it.
func scaleInto(dst, x []float32, s float32) []float32 {
	for i, v := range x {
		dst[i] = v * s
	}
	return dst
}

func firstNonFinite(x []float32) int {
	for i, v := range x {
		// v-v is NaN for ±Inf and NaN and 0 otherwise: one compare per element.
		if v-v != 0 {
			return i
		}
	}
	return -1
}

// sinusoidalEmbeddings reproduces Hugging Face create_sinusoidal_embeddings,
// used when sinusoidal_pos_embds is set and the checkpoint omits the table.
func sinusoidalEmbeddings(positions, dim int) []float32 {
	out := make([]float32, positions*dim)
	for pos := 0; pos < positions; pos++ {
		for j := 0; j < dim; j++ {
			angle := float64(pos) / math.Pow(10000, float64(2*(j/2))/float64(dim))
			if j%2 == 0 {
				out[pos*dim+j] = float32(math.Sin(angle))
			} else {
				out[pos*dim+j] = float32(math.Cos(angle))
			}
		}
	}
	return out
}

func indentJoin(errs []error) error {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return errors.New(strings.Join(parts, "; "))
}

// Quantization reports how the encoder's weights are kept.
func (m *Model) Quantization() Quantization { return m.quant }

// Kernels returns the kernel implementation the model runs on.
func (m *Model) Kernels() *kernels.Impl { return m.kernels }

// Close releases the weights (unmaps the file). The model must not be used after.
func (m *Model) Close() error {
	if m.file == nil {
		return nil
	}
	return m.file.Close()
}

// TensorInfo describes one tensor of the checkpoint, for inspect.
type TensorInfo struct {
	Name     string `json:"name"`
	DType    string `json:"dtype"`
	Shape    []int  `json:"shape"`
	Elements int    `json:"elements"`
	Bytes    int64  `json:"bytes"`
}

// Tensors lists the checkpoint's tensors in name order.
func (m *Model) Tensors() []TensorInfo {
	var out []TensorInfo
	for _, n := range m.file.Names() {
		t, _ := m.file.Tensor(n)
		out = append(out, TensorInfo{Name: n, DType: t.DType, Shape: t.Shape, Elements: t.NumElements(), Bytes: t.Bytes})
	}
	return out
}
