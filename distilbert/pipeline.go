package distilbert

import (
	"context"
	"math"
	"sort"

	"github.com/distilbert-go/distilbert/distilbert/tokenize"
)

// Prediction is the classification of one text.
type Prediction struct {
	Label     string             `json:"label"`
	Score     float32            `json:"score"`  // score of Label, the highest
	Scores    map[string]float32 `json:"scores"` // score of every label (see ProblemType)
	Logits    []float32          `json:"logits"` // in id2label order
	Tokens    int                `json:"tokens"` // input ids incl. [CLS] and [SEP]
	Truncated bool               `json:"truncated"`
	InputIDs  []int32            `json:"input_ids,omitempty"`

	// ProblemType is how the scores are made: a softmax (SingleLabel, left
	// out of JSON), a sigmoid per label or the raw logits.
	ProblemType ProblemType `json:"problem_type,omitempty"`
}

// Classifier is the text-in, label-out pipeline: tokenizer + engine.
// It is safe for concurrent use.
type Classifier struct {
	name     string
	config   *Config
	engine   Engine
	tok      *tokenize.Tokenizer
	tensors  []TensorInfo
	format   string // checkpoint format: safetensors, pytorch-zip, pytorch-legacy
	fellBack string
	prov     provenance
}

// The CPU engine's batch limits: large enough to amortise weight loads
// over many rows, small enough to keep activations in cache-sized buffers.
const (
	maxBatchSequences = 32
	maxBatchTokens    = 8192
)

// MaxBatchSequences and MaxBatchTokens are the most sequences and tokens
// PredictEncoded runs in one call of the CPU engine (an engine may set
// others, EngineInfo.BatchLimits); larger inputs are split. The service
// rejects batch limits above the engine's, so that each batch it forms is
// exactly one engine call.
const (
	MaxBatchSequences = maxBatchSequences
	MaxBatchTokens    = maxBatchTokens
)

// Name is the model's name: WithName's, else the checkpoint directory's or "sst2-mini".
func (c *Classifier) Name() string { return c.name }

// Engine returns the engine that runs the forward passes.
func (c *Classifier) Engine() Engine { return c.engine }

// Config returns the model's configuration.
func (c *Classifier) Config() *Config { return c.config }

// Tensors lists the checkpoint's tensors in name order, as loaded.
func (c *Classifier) Tensors() []TensorInfo { return c.tensors }

// DeviceFallback says, for --device auto, why better devices were passed
// over ("" when none was).
func (c *Classifier) DeviceFallback() string { return c.fellBack }

// Tokenizer returns the model's tokenizer.
func (c *Classifier) Tokenizer() *tokenize.Tokenizer { return c.tok }

// Labels returns the class names in logit order.
func (c *Classifier) Labels() []string { return c.config.Labels }

// Close releases the engine and the model's weights.
func (c *Classifier) Close() error { return c.engine.Close() }

// Encode tokenizes one text as the model will see it.
func (c *Classifier) Encode(text string) tokenize.Encoding { return c.tok.Encode(text) }

// Predict classifies texts and returns one Prediction per text, in order.
// Texts longer than the model's positions are truncated (Truncated is set).
// Similar lengths are batched together to cut padding work; the context is
// checked between batches.
func (c *Classifier) Predict(ctx context.Context, texts []string) ([]Prediction, error) {
	encs := make([]tokenize.Encoding, len(texts))
	for i, t := range texts {
		encs[i] = c.tok.Encode(t)
	}
	return c.PredictEncoded(ctx, encs)
}

// PredictEncoded is Predict for texts already tokenized with Encode.
func (c *Classifier) PredictEncoded(ctx context.Context, encs []tokenize.Encoding) ([]Prediction, error) {
	labels := c.config.Labels
	nl := len(labels)
	order := make([]int, len(encs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(encs[order[a]].IDs) < len(encs[order[b]].IDs) })

	maxSeqs, maxTokens := c.engine.Info().BatchLimits()
	logits := make([]float32, len(encs)*nl)
	batch := make([]Sequence, 0, min(maxSeqs, len(encs)))
	out := make([]float32, min(maxSeqs, len(encs))*nl)
	for start := 0; start < len(order); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch = batch[:0]
		tokens := 0
		end := start
		for end < len(order) && len(batch) < maxSeqs {
			n := len(encs[order[end]].IDs)
			if len(batch) > 0 && tokens+n > maxTokens {
				break
			}
			batch = append(batch, Sequence{IDs: encs[order[end]].IDs})
			tokens += n
			end++
		}
		if err := c.engine.Forward(batch, out); err != nil {
			return nil, err
		}
		for i := start; i < end; i++ {
			copy(logits[order[i]*nl:order[i]*nl+nl], out[(i-start)*nl:(i-start)*nl+nl])
		}
		start = end
	}

	preds := make([]Prediction, len(encs))
	for i, e := range encs {
		l := logits[i*nl : i*nl+nl : i*nl+nl]
		probs := c.config.ProblemType.scores(l)
		best := 0
		for j := range probs {
			if probs[j] > probs[best] {
				best = j
			}
		}
		scores := make(map[string]float32, nl)
		for j, p := range probs {
			scores[labels[j]] = float32(p)
		}
		preds[i] = Prediction{
			Label: labels[best], Score: float32(probs[best]), Scores: scores,
			Logits: l, Tokens: len(e.IDs), Truncated: e.Truncated, InputIDs: e.IDs,
			ProblemType: c.config.ProblemType,
		}
	}
	return preds, nil
}

// softmax64 turns logits into probabilities in float64, so scores of
// confident predictions do not round to exactly 1 and 0 early.
func softmax64(logits []float32) []float64 {
	p := make([]float64, len(logits))
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// TensorInfo describes one tensor of the checkpoint, for inspect.
type TensorInfo struct {
	Name     string `json:"name"`
	DType    string `json:"dtype"`
	Shape    []int  `json:"shape"`
	Elements int    `json:"elements"`
	Bytes    int64  `json:"bytes"`
}
