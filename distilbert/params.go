package distilbert

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distilbert-go/distilbert/weights"
)

// Params are the parameters of a DistilBertForSequenceClassification
// checkpoint, each declared once with its shape (bindParams): the same
// declaration checks a checkpoint (missing, unexpected and mismatched
// tensors, all reported at once) and binds its data. Params assume no
// format and no device: the CPU engine packs from them, another engine
// uploads them, and any checkpoint reader that yields a weights.File
// feeds them.
type Params struct {
	WordEmbeddings     Param // [vocab_size, dim]
	PositionEmbeddings Param // [max_position_embeddings, dim]
	EmbeddingNorm      NormParams
	Layers             []LayerParams
	PreClassifier      LinearParams // [dim, dim], then ReLU
	Classifier         LinearParams // [labels, dim]

	file *weights.File // the checkpoint the data comes from
}

// Param is one tensor: its checkpoint key, shape and float32 data
// (row-major; F16 and BF16 checkpoints are widened when read).
type Param struct {
	Name  string
	Shape []int
	Data  []float32

	src *weights.Tensor // nil for data made here (sinusoidal positions)
}

// LinearParams are y = x·Wᵀ + b, Weight [out, in] as PyTorch stores it.
type LinearParams struct{ Weight, Bias Param }

// NormParams are a LayerNorm's weight (gamma) and bias (beta).
type NormParams struct{ Gamma, Beta Param }

// LayerParams are one transformer block (post-LN).
type LayerParams struct {
	Q, K, V, Out LinearParams // attention.{q,k,v,out}_lin: [dim, dim]
	SANorm       NormParams   // sa_layer_norm
	FFN1         LinearParams // ffn.lin1: [hidden_dim, dim]
	FFN2         LinearParams // ffn.lin2: [dim, hidden_dim]
	OutputNorm   NormParams   // output_layer_norm
}

// Evict tells the checkpoint that p's data will not be read again (an
// engine copied or uploaded it), so that its mapped pages can be released.
func (ps *Params) Evict(p Param) {
	if p.src != nil && ps.file != nil {
		ps.file.Evict(p.src)
	}
}

// Close releases the checkpoint (unmaps the file): no Param's data may be
// read after. The engine that was opened on the Params closes them.
func (ps *Params) Close() error {
	if ps.file == nil {
		return nil
	}
	return ps.file.Close()
}

// bindParams declares every parameter of the model c describes and binds
// it to f. Encoder keys with or without the "distilbert." prefix are
// accepted (the two layouts found in the wild); the head's are top-level.
func bindParams(c *Config, f *weights.File) (*Params, error) {
	enc := encoderPrefix(f)
	b := &binder{f: f, used: map[string]bool{}}
	d, h := c.Dim, c.HiddenDim
	p := &Params{file: f}
	p.WordEmbeddings = b.tensor(enc+"embeddings.word_embeddings.weight", c.VocabSize, d)
	if c.SinusoidalPosEmbds {
		p.PositionEmbeddings = b.optional(enc+"embeddings.position_embeddings.weight", c.MaxPositionEmbeddings, d)
	} else {
		p.PositionEmbeddings = b.tensor(enc+"embeddings.position_embeddings.weight", c.MaxPositionEmbeddings, d)
	}
	p.EmbeddingNorm = b.norm(enc+"embeddings.LayerNorm", d)
	for i := range c.NLayers {
		l := enc + "transformer.layer." + strconv.Itoa(i) + "."
		p.Layers = append(p.Layers, LayerParams{
			Q:          b.linear(l+"attention.q_lin", d, d),
			K:          b.linear(l+"attention.k_lin", d, d),
			V:          b.linear(l+"attention.v_lin", d, d),
			Out:        b.linear(l+"attention.out_lin", d, d),
			SANorm:     b.norm(l+"sa_layer_norm", d),
			FFN1:       b.linear(l+"ffn.lin1", h, d),
			FFN2:       b.linear(l+"ffn.lin2", d, h),
			OutputNorm: b.norm(l+"output_layer_norm", d),
		})
	}
	p.PreClassifier = b.linear("pre_classifier", d, d)
	p.Classifier = b.linear("classifier", len(c.Labels), d)
	// Some exports keep the position_ids buffer, which inference ignores.
	b.ignore(enc + "embeddings.position_ids")
	if err := b.err(); err != nil {
		return nil, fmt.Errorf("%s does not match config.json (%d layers, dim %d, hidden %d, %d labels): %w",
			f.Name, c.NLayers, c.Dim, c.HiddenDim, len(c.Labels), err)
	}
	if p.PositionEmbeddings.Data == nil {
		p.PositionEmbeddings = Param{
			Name:  "sinusoidal position embeddings",
			Shape: []int{c.MaxPositionEmbeddings, d},
			Data:  sinusoidalEmbeddings(c.MaxPositionEmbeddings, d),
		}
	}
	return p, nil
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

// binder looks up declared tensors in a checkpoint and remembers what was
// wrong, so that one error lists every problem.
type binder struct {
	f                   *weights.File
	used                map[string]bool
	missing, mismatched []string
	problems            []error
}

func (b *binder) tensor(name string, shape ...int) Param {
	return b.bind(name, shape, false)
}

// optional is tensor for a parameter the model can do without.
func (b *binder) optional(name string, shape ...int) Param {
	return b.bind(name, shape, true)
}

func (b *binder) linear(prefix string, out, in int) LinearParams {
	return LinearParams{Weight: b.tensor(prefix+".weight", out, in), Bias: b.tensor(prefix+".bias", out)}
}

func (b *binder) norm(prefix string, n int) NormParams {
	return NormParams{Gamma: b.tensor(prefix+".weight", n), Beta: b.tensor(prefix+".bias", n)}
}

// ignore accepts a tensor that checkpoints may carry but inference does
// not read.
func (b *binder) ignore(name string) { b.used[name] = true }

func (b *binder) bind(name string, shape []int, optional bool) Param {
	b.used[name] = true
	p := Param{Name: name, Shape: shape}
	t, ok := b.f.Tensor(name)
	switch {
	case !ok:
		if !optional {
			b.missing = append(b.missing, name)
		}
	case !slices.Equal(t.Shape, shape):
		b.mismatched = append(b.mismatched, fmt.Sprintf("%s has shape %v, want %v", name, t.Shape, shape))
	case t.Data == nil:
		b.problems = append(b.problems, fmt.Errorf("%s: dtype %s is not supported (want F32, F16 or BF16)", name, t.DType))
	default:
		if i := firstNonFinite(t.Data); i >= 0 {
			b.problems = append(b.problems, fmt.Errorf("%s: element %d is %v", name, i, t.Data[i]))
			break
		}
		p.Data, p.src = t.Data, t
	}
	return p
}

// err reports every problem found, or nil.
func (b *binder) err() error {
	var unexpected []string
	for _, n := range b.f.Names() {
		if !b.used[n] {
			unexpected = append(unexpected, n)
		}
	}
	if len(b.missing)+len(b.mismatched)+len(unexpected)+len(b.problems) == 0 {
		return nil
	}
	var errs []string
	if len(b.missing) > 0 {
		errs = append(errs, "missing tensors: "+strings.Join(b.missing, ", "))
	}
	if len(b.mismatched) > 0 {
		errs = append(errs, "mismatched tensors: "+strings.Join(b.mismatched, "; "))
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		errs = append(errs, "unexpected tensors: "+strings.Join(unexpected, ", "))
	}
	for _, e := range b.problems {
		errs = append(errs, e.Error())
	}
	return errors.New(strings.Join(errs, "; "))
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
