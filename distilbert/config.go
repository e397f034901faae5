package distilbert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// Config is the subset of a Hugging Face DistilBertConfig (config.json)
// that inference needs. Missing keys take the Hugging Face defaults.
type Config struct {
	Dim                   int     `json:"dim"`
	NHeads                int     `json:"n_heads"`
	NLayers               int     `json:"n_layers"`
	HiddenDim             int     `json:"hidden_dim"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	VocabSize             int     `json:"vocab_size"`
	Activation            string  `json:"activation"`
	SinusoidalPosEmbds    bool    `json:"sinusoidal_pos_embds"`
	LayerNormEps          float32 `json:"layer_norm_eps"`
	PadTokenID            int     `json:"pad_token_id"`
	ModelType             string  `json:"model_type"`
	// Labels are the class names in logit order, from id2label.
	Labels []string `json:"labels"`
	// ProblemType is problem_type, resolved by ParseConfig when absent.
	ProblemType ProblemType `json:"problem_type,omitempty"`
}

// layerNormEps is what DistilBERT hard-codes (nn.LayerNorm(dim, eps=1e-12));
// config.json has no key for it, so one is honoured only if present.
const layerNormEps = 1e-12

// rawConfig mirrors config.json; pointers tell a missing key from a zero.
type rawConfig struct {
	Dim                   *int              `json:"dim"`
	NHeads                *int              `json:"n_heads"`
	NLayers               *int              `json:"n_layers"`
	HiddenDim             *int              `json:"hidden_dim"`
	MaxPositionEmbeddings *int              `json:"max_position_embeddings"`
	VocabSize             *int              `json:"vocab_size"`
	Activation            *string           `json:"activation"`
	SinusoidalPosEmbds    *bool             `json:"sinusoidal_pos_embds"`
	LayerNormEps          *float32          `json:"layer_norm_eps"`
	PadTokenID            *int              `json:"pad_token_id"`
	ModelType             *string           `json:"model_type"`
	ID2Label              map[string]string `json:"id2label"`
	Label2ID              map[string]int    `json:"label2id"`
	NumLabels             *int              `json:"num_labels"`
	Architectures         []string          `json:"architectures"`
	ProblemType           *string           `json:"problem_type"`
}

// ParseConfig decodes and validates config.json. name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	var raw rawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data after the JSON object", name)
	}
	c := &Config{
		Dim: 768, NHeads: 12, NLayers: 6, HiddenDim: 4 * 768,
		MaxPositionEmbeddings: 512, VocabSize: 30522, Activation: "gelu",
		LayerNormEps: layerNormEps, ModelType: "distilbert",
	}
	setInt := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setInt(&c.Dim, raw.Dim)
	setInt(&c.NHeads, raw.NHeads)
	setInt(&c.NLayers, raw.NLayers)
	setInt(&c.HiddenDim, raw.HiddenDim)
	setInt(&c.MaxPositionEmbeddings, raw.MaxPositionEmbeddings)
	setInt(&c.VocabSize, raw.VocabSize)
	setInt(&c.PadTokenID, raw.PadTokenID)
	if raw.Activation != nil {
		c.Activation = *raw.Activation
	}
	if raw.SinusoidalPosEmbds != nil {
		c.SinusoidalPosEmbds = *raw.SinusoidalPosEmbds
	}
	if raw.LayerNormEps != nil {
		c.LayerNormEps = *raw.LayerNormEps
	}
	if raw.ModelType != nil {
		c.ModelType = *raw.ModelType
	}
	labels, err := parseLabels(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.Labels = labels
	if c.ProblemType, err = parseProblemType(raw.ProblemType, len(labels)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// parseLabels turns id2label (string keys "0".."n-1") into an ordered list.
// Without id2label, Hugging Face names num_labels (default 2) classes LABEL_i.
func parseLabels(raw rawConfig) ([]string, error) {
	if len(raw.ID2Label) == 0 {
		n := 2
		if raw.NumLabels != nil {
			n = *raw.NumLabels
		}
		if n <= 0 || n > 1<<16 {
			return nil, fmt.Errorf("num_labels %d out of range", n)
		}
		labels := make([]string, n)
		for i := range labels {
			labels[i] = "LABEL_" + strconv.Itoa(i)
		}
		return labels, nil
	}
	labels := make([]string, len(raw.ID2Label))
	keys := make([]string, 0, len(raw.ID2Label))
	for k := range raw.ID2Label {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	for _, k := range keys {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= len(labels) {
			return nil, fmt.Errorf("id2label: key %q is not an id in 0..%d", k, len(labels)-1)
		}
		v := raw.ID2Label[k]
		if v == "" {
			return nil, fmt.Errorf("id2label: empty label for id %d", id)
		}
		if seen[v] {
			return nil, fmt.Errorf("id2label: label %q used twice", v)
		}
		seen[v] = true
		labels[id] = v
	}
	if raw.NumLabels != nil && *raw.NumLabels != len(labels) {
		return nil, fmt.Errorf("num_labels %d but id2label has %d entries", *raw.NumLabels, len(labels))
	}
	for name, id := range raw.Label2ID {
		if id < 0 || id >= len(labels) || labels[id] != name {
			return nil, fmt.Errorf("label2id[%q] = %d disagrees with id2label", name, id)
		}
	}
	return labels, nil
}

// Validate reports every inconsistent or unsupported setting at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ModelType != "distilbert" {
		bad("model_type %q is not supported (want \"distilbert\")", c.ModelType)
	}
	const maxDim = 1 << 16
	for _, f := range []struct {
		name string
		v    int
		max  int
	}{
		{"dim", c.Dim, maxDim}, {"n_heads", c.NHeads, maxDim}, {"n_layers", c.NLayers, 1024},
		{"hidden_dim", c.HiddenDim, 1 << 18}, {"max_position_embeddings", c.MaxPositionEmbeddings, 1 << 20},
		{"vocab_size", c.VocabSize, 1 << 24},
	} {
		if f.v <= 0 || f.v > f.max {
			bad("%s = %d is out of range (1..%d)", f.name, f.v, f.max)
		}
	}
	if c.NHeads > 0 && c.Dim%c.NHeads != 0 {
		bad("dim %d is not divisible by n_heads %d", c.Dim, c.NHeads)
	}
	if _, err := activationOf(c.Activation); err != nil {
		errs = append(errs, err)
	}
	if !(c.LayerNormEps > 0 && c.LayerNormEps < 1) {
		bad("layer_norm_eps %g out of range", c.LayerNormEps)
	}
	if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
		bad("pad_token_id %d out of vocabulary", c.PadTokenID)
	}
	if len(c.Labels) == 0 {
		bad("no labels")
	}
	if p := c.ProblemType; p != SingleLabel && p != MultiLabel && p != Regression {
		bad("problem_type %q is not supported", string(p))
	}
	return errors.Join(errs...)
}

// HeadDim is the size of one attention head.
func (c *Config) HeadDim() int { return c.Dim / c.NHeads }
