// Command genmodel writes a DistilBertForSequenceClassification checkpoint in
// Hugging Face layout (config.json, model.safetensors, tokenizer files) with
// seeded random weights, for benchmarks and tests that need full-size shapes
// without downloading a real model.
//
//	go run ./tools/genmodel --out /tmp/distilbert-base-random
//
// The defaults are the DistilBERT-base shapes (66.9 M parameters, 268 MB
// F32). Linear weights and biases and the embeddings are N(0, 0.02); the
// LayerNorm weights are 1 and their biases 0. Each tensor draws from its own
// PCG stream, seeded by --seed and the tensor's name, so the same seed
// gives byte-identical files. The safetensors file is streamed in chunks;
// no tensor is held in memory whole.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/distilbert-go/distilbert/distilbert/defaultmodel"
)

// options are the model shapes and the seed.
type options struct {
	Seed      uint64
	Dim       int
	Heads     int
	Layers    int
	Hidden    int
	Vocab     int
	Positions int
	Labels    []string
}

func defaultOptions() options {
	return options{Seed: 1, Dim: 768, Heads: 12, Layers: 6, Hidden: 3072, Vocab: 30522, Positions: 512,
		Labels: []string{"NEGATIVE", "POSITIVE"}}
}

func (o options) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"dim", o.Dim}, {"heads", o.Heads}, {"layers", o.Layers}, {"hidden", o.Hidden}, {"vocab", o.Vocab}, {"positions", o.Positions}} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive, got %d", f.name, f.v))
		}
	}
	if o.Heads > 0 && o.Dim%o.Heads != 0 {
		errs = append(errs, fmt.Errorf("--dim %d is not divisible by --heads %d", o.Dim, o.Heads))
	}
	if len(o.Labels) == 0 {
		errs = append(errs, errors.New("--labels is empty"))
	}
	seen := map[string]bool{}
	for _, l := range o.Labels {
		if l == "" || seen[l] {
			errs = append(errs, fmt.Errorf("--labels: empty or repeated label %q", l))
		}
		seen[l] = true
	}
	return errors.Join(errs...)
}

// tensor is one tensor to generate: fill is "normal" (N(0, 0.02)), "ones" or "zeros".
type tensor struct {
	name  string
	shape []int
	fill  string
}

func (t tensor) numel() int {
	n := 1
	for _, d := range t.shape {
		n *= d
	}
	return n
}

// tensors lists every tensor of the checkpoint, with the key names
// DistilBertForSequenceClassification.save_pretrained writes.
func tensors(o options) []tensor {
	d, h := o.Dim, o.Hidden
	linear := func(p string, out, in int) []tensor {
		return []tensor{{p + ".weight", []int{out, in}, "normal"}, {p + ".bias", []int{out}, "normal"}}
	}
	norm := func(p string) []tensor {
		return []tensor{{p + ".weight", []int{d}, "ones"}, {p + ".bias", []int{d}, "zeros"}}
	}
	ts := []tensor{
		{"distilbert.embeddings.word_embeddings.weight", []int{o.Vocab, d}, "normal"},
		{"distilbert.embeddings.position_embeddings.weight", []int{o.Positions, d}, "normal"},
	}
	ts = append(ts, norm("distilbert.embeddings.LayerNorm")...)
	for i := 0; i < o.Layers; i++ {
		p := "distilbert.transformer.layer." + strconv.Itoa(i) + "."
		for _, l := range []string{"q_lin", "k_lin", "v_lin", "out_lin"} {
			ts = append(ts, linear(p+"attention."+l, d, d)...)
		}
		ts = append(ts, norm(p+"sa_layer_norm")...)
		ts = append(ts, linear(p+"ffn.lin1", h, d)...)
		ts = append(ts, linear(p+"ffn.lin2", d, h)...)
		ts = append(ts, norm(p+"output_layer_norm")...)
	}
	ts = append(ts, linear("pre_classifier", d, d)...)
	ts = append(ts, linear("classifier", len(o.Labels), d)...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].name < ts[j].name })
	return ts
}

// config returns config.json as Hugging Face's DistilBertConfig writes it.
func config(o options) map[string]any {
	id2label := map[string]string{}
	label2id := map[string]int{}
	for i, l := range o.Labels {
		id2label[strconv.Itoa(i)] = l
		label2id[l] = i
	}
	return map[string]any{
		"activation":              "gelu",
		"architectures":           []string{"DistilBertForSequenceClassification"},
		"attention_dropout":       0.1,
		"dim":                     o.Dim,
		"dropout":                 0.1,
		"hidden_dim":              o.Hidden,
		"id2label":                id2label,
		"initializer_range":       0.02,
		"label2id":                label2id,
		"max_position_embeddings": o.Positions,
		"model_type":              "distilbert",
		"n_heads":                 o.Heads,
		"n_layers":                o.Layers,
		"pad_token_id":            0,
		"qa_dropout":              0.1,
		"seq_classif_dropout":     0.2,
		"sinusoidal_pos_embds":    false,
		"tie_weights_":            true,
		"torch_dtype":             "float32",
		"vocab_size":              o.Vocab,
	}
}

// tokenizerFiles are copied from the embedded sst2-mini model (the
// bert-base-uncased vocabulary, 30522 tokens).
var tokenizerFiles = []string{"vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}

// generate writes the checkpoint into dir (created if needed). Every file is
// written to a temporary name and renamed, model.safetensors last, so a
// directory holding model.safetensors is complete.
func generate(dir string, o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := json.MarshalIndent(config(o), "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "config.json"), func(w io.Writer) error {
		_, err := w.Write(append(cfg, '\n'))
		return err
	}); err != nil {
		return err
	}
	for _, name := range tokenizerFiles {
		data, err := fs.ReadFile(defaultmodel.FS(), name)
		if err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(dir, name), func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		}); err != nil {
			return err
		}
	}
	return writeAtomic(filepath.Join(dir, "model.safetensors"), func(w io.Writer) error {
		return writeSafetensors(w, tensors(o), o.Seed)
	})
}

func writeAtomic(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

type headerEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// writeSafetensors streams ts (sorted by name) as F32 safetensors: the
// header (sorted keys, space-padded to 8-byte alignment like Hugging Face
// writes it), then each tensor's data, generated chunk by chunk.
func writeSafetensors(w io.Writer, ts []tensor, seed uint64) error {
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var off int64
	for _, t := range ts {
		size := int64(t.numel()) * 4
		header[t.name] = headerEntry{"F32", t.shape, []int64{off, off + size}}
		off += size
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hb)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hb); err != nil {
		return err
	}
	const chunk = 1 << 16 // floats per write
	buf := make([]byte, 4*chunk)
	for _, t := range ts {
		rng := tensorRNG(seed, t.name)
		for left := t.numel(); left > 0; {
			m := min(left, chunk)
			for i := 0; i < m; i++ {
				var v float32
				switch t.fill {
				case "normal":
					v = float32(rng.NormFloat64() * 0.02)
				case "ones":
					v = 1
				}
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if _, err := w.Write(buf[:4*m]); err != nil {
				return err
			}
			left -= m
		}
	}
	return nil
}

// tensorRNG gives each tensor its own stream, so values do not depend on
// which other tensors exist or the order they are written in.
func tensorRNG(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func run(args []string, stderr io.Writer) error {
	o := defaultOptions()
	fset := flag.NewFlagSet("genmodel", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("out", "", "output directory (required)")
	fset.Uint64Var(&o.Seed, "seed", o.Seed, "random seed")
	fset.IntVar(&o.Dim, "dim", o.Dim, "hidden size")
	fset.IntVar(&o.Heads, "heads", o.Heads, "attention heads")
	fset.IntVar(&o.Layers, "layers", o.Layers, "transformer layers")
	fset.IntVar(&o.Hidden, "hidden", o.Hidden, "FFN inner size")
	fset.IntVar(&o.Vocab, "vocab", o.Vocab, "vocabulary size (the copied tokenizer has 30522 tokens)")
	fset.IntVar(&o.Positions, "positions", o.Positions, "max position embeddings")
	labels := fset.String("labels", strings.Join(o.Labels, ","), "comma-separated class names")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *out == "" || fset.NArg() > 0 {
		fset.Usage()
		return errors.New("usage: genmodel --out DIR [flags]")
	}
	o.Labels = strings.Split(*labels, ",")
	if err := generate(*out, o); err != nil {
		return err
	}
	var params int
	for _, t := range tensors(o) {
		params += t.numel()
	}
	fmt.Fprintf(stderr, "genmodel: wrote %s (%d layers, dim %d, %d heads, hidden %d, vocab %d, %d positions, %d labels; %d parameters, %.1f MB)\n",
		*out, o.Layers, o.Dim, o.Heads, o.Hidden, o.Vocab, o.Positions, len(o.Labels), params, float64(params)*4/1e6)
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "genmodel:", err)
		}
		os.Exit(2)
	}
}
