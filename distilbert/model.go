package distilbert

import (
	"fmt"
	"math"

	"github.com/distilbert-go/distilbert/internal/freelist"
	"github.com/distilbert-go/distilbert/kernels"
)

// Model is the CPU engine: a DistilBertForSequenceClassification with its
// weights packed for one kernel implementation (float32 panels, or int8
// for the encoder's linear layers with QuantInt8), ready for Forward.
// It is safe for concurrent use.
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

	params     *Params // the checkpoint: embeddings and some weights are read in place
	workspaces freelist.List[workspace]
}

// linear is one packed linear layer: W is float32 or int8, one driver.
type linear struct {
	w kernels.Weights
	b []float32
}

type layerNorm struct{ gamma, beta []float32 }

type layer struct {
	q, k, v, out   linear
	saNorm         layerNorm
	ffn1, ffn2     linear
	outputNorm     layerNorm
	activationKind kernels.Activation
	cls            *clsHeads // the last layer only: see Model.clsAttention
}

// clsHeads are the last layer's key and value weights split by head, for
// the attention of the [CLS] queries alone (Model.clsAttention). Each is
// a small linear layer in the encoder's precision.
type clsHeads struct {
	keyT  []linear // head h: Wk_hᵀ, [dim][headDim], no bias (softmax ignores bk's term)
	value []linear // head h: Wv_h, [headDim][dim], with bv_h
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

// OpenCPU opens the CPU engine (the "cpu" backend) on spec.Kernels: a
// backend that wraps or falls back to the CPU uses it.
func OpenCPU(spec EngineSpec) (Engine, error) {
	if spec.Kernels == nil {
		return nil, errNoKernels
	}
	return newModel(spec.Config, spec.Params, spec.Kernels, spec.Quantization)
}

// newModel packs p for impl (or quantizes the encoder's linear layers,
// with QuantInt8). On success the model owns p.
func newModel(c *Config, p *Params, impl *kernels.Impl, quant Quantization) (*Model, error) {
	act, err := activationOf(c.Activation)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: *c, kernels: impl, quant: quant, params: p}
	pk := packer{impl: impl, params: p}
	quantizeEncoder := quant == QuantInt8
	// Hugging Face scales the queries by 1/√d_head; scaling their weights
	// and bias once here spares a pass over q per layer on the caller's
	// serial path. A power-of-two scale (d_head 64, 16, …) gives
	// bit-identical queries.
	queryScale := float32(1 / math.Sqrt(float64(c.HeadDim())))
	m.wordEmb = p.WordEmbeddings.Data
	m.posEmb = p.PositionEmbeddings.Data
	m.embNorm = norm(p.EmbeddingNorm)
	for i, lp := range p.Layers {
		var cls *clsHeads
		if i == len(p.Layers)-1 {
			// Before K and V are packed: packing may release their pages.
			cls = pk.clsHeads(lp.K, lp.V, c.NHeads, quantizeEncoder)
		}
		m.layers = append(m.layers, layer{
			cls:            cls,
			activationKind: act,
			q:              pk.linear(lp.Q, quantizeEncoder, queryScale),
			k:              pk.linear(lp.K, quantizeEncoder, 1),
			v:              pk.linear(lp.V, quantizeEncoder, 1),
			out:            pk.linear(lp.Out, quantizeEncoder, 1),
			saNorm:         norm(lp.SANorm),
			ffn1:           pk.linear(lp.FFN1, quantizeEncoder, 1),
			ffn2:           pk.linear(lp.FFN2, quantizeEncoder, 1),
			outputNorm:     norm(lp.OutputNorm),
		})
	}
	m.preClassifier = pk.linear(p.PreClassifier, false, 1)
	m.classifier = pk.linear(p.Classifier, false, 1)
	if pk.err != nil {
		return nil, pk.err
	}
	return m, nil
}

func norm(p NormParams) layerNorm { return layerNorm{p.Gamma.Data, p.Beta.Data} }

// packer packs (or quantizes) linear layers for one implementation and
// keeps the first error.
type packer struct {
	impl   *kernels.Impl
	params *Params
	err    error
	// scaleBuf holds scaled weights while they are packed: one buffer for
	// all layers, unless a packer keeps it (the generic one reads W as
	// is), so that no garbage the size of the weights outlives loading.
	scaleBuf []float32
}

// linear packs p with its weights and bias multiplied by scale (1: as
// stored), or quantizes it. When that copied the weights, their mapped
// pages are released so they do not count twice in memory.
func (pk *packer) linear(p LinearParams, quantize bool, scale float32) linear {
	out, in := p.Weight.Shape[0], p.Weight.Shape[1]
	w, b := p.Weight.Data, p.Bias.Data
	if scale != 1 {
		if len(pk.scaleBuf) < len(w) {
			pk.scaleBuf = make([]float32, len(w))
		}
		w = scaleInto(pk.scaleBuf[:len(w)], w, scale)
		b = scaleInto(make([]float32, len(b)), b, scale)
	}
	l := linear{w: pk.weights(w, out, in, quantize), b: b}
	if l.w == nil {
		return linear{}
	}
	aliases := false
	if mat, ok := l.w.(*kernels.Matrix); ok {
		if scale != 1 && mat.Aliases(w) {
			pk.scaleBuf = nil // the matrix keeps the buffer
		}
		aliases = mat.Aliases(p.Weight.Data)
	}
	if !aliases {
		pk.params.Evict(p.Weight)
	}
	return l
}

// clsHeads splits the key and value layers k and v by head into the
// per-head weights of clsAttention, copied out of the checkpoint.
func (pk *packer) clsHeads(k, v LinearParams, heads int, quantize bool) *clsHeads {
	dim := k.Weight.Shape[1]
	hd := dim / heads
	ch := &clsHeads{keyT: make([]linear, heads), value: make([]linear, heads)}
	for h := range heads {
		kt := make([]float32, dim*hd)
		for d := range hd {
			row := k.Weight.Data[(h*hd+d)*dim:][:dim]
			for j, w := range row {
				kt[j*hd+d] = w
			}
		}
		ch.keyT[h] = linear{w: pk.weights(kt, dim, hd, quantize)}
		vh := append([]float32(nil), v.Weight.Data[h*hd*dim:(h+1)*hd*dim]...)
		ch.value[h] = linear{w: pk.weights(vh, hd, dim, quantize), b: append([]float32(nil), v.Bias.Data[h*hd:(h+1)*hd]...)}
	}
	return ch
}

// weights packs (a float32 Matrix may keep w itself) or quantizes a
// [out][in] matrix; nil after an error, which the packer keeps.
func (pk *packer) weights(w []float32, out, in int, quantize bool) kernels.Weights {
	var (
		ws  kernels.Weights
		err error
	)
	if quantize {
		ws, err = kernels.QuantizeMatrix(w, out, in)
	} else {
		ws, err = pk.impl.Pack(w, out, in)
	}
	if err != nil {
		pk.fail(err)
		return nil
	}
	return ws
}

func (pk *packer) fail(err error) {
	if pk.err == nil {
		pk.err = err
	}
}

// scaleInto sets dst to x times s and returns it.
func scaleInto(dst, x []float32, s float32) []float32 {
	for i, v := range x {
		dst[i] = v * s
	}
	return dst
}

// Info describes the engine.
func (m *Model) Info() EngineInfo {
	info := EngineInfo{
		Backend: "cpu", Device: "cpu", DeviceName: kernels.CPU().Brand,
		Kernels: m.kernels.Name(), Int8Kernels: m.kernels.Int8Kernel(), Quantization: m.quant, Precision: "fp32",
	}
	if m.quant == QuantInt8 {
		info.Precision = "int8"
	}
	return info
}

// Close releases the weights (unmaps the file). The model must not be used after.
func (m *Model) Close() error { return m.params.Close() }
