package distilbert

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distilbert-go/distilbert/distilbert/defaultmodel"
	"github.com/distilbert-go/distilbert/distilbert/tokenize"
	"github.com/distilbert-go/distilbert/kernels"
	"github.com/distilbert-go/distilbert/weights"
)

// Option changes how a model is loaded.
type Option func(*options)

type options struct {
	kernels *kernels.Impl
	quant   Quantization
	device  string
	gpuPrec string
	provenanceOptions
}

// Quantization is how the encoder's linear layers keep and multiply their
// weights.
type Quantization string

const (
	// QuantNone keeps the checkpoint's weights as float32.
	QuantNone Quantization = "none"
	// QuantInt8 quantizes them at load to int8 per output channel and
	// quantizes each layer's input per token when it runs (dynamic
	// quantization, as ONNX Runtime's quantize_dynamic): a quarter of the
	// weight memory and about twice the multiply throughput, for logits
	// within ~1 % of float32 (the README gives the accuracy on SST-2).
	// The classification head stays float32.
	QuantInt8 Quantization = "int8"
)

// ParseQuantization accepts "none" (or "", "fp32", "float32") and "int8".
func ParseQuantization(s string) (Quantization, error) {
	switch s {
	case "", "none", "fp32", "float32":
		return QuantNone, nil
	case "int8":
		return QuantInt8, nil
	}
	return "", fmt.Errorf("quantization %q is not supported (want none or int8)", s)
}

// WithQuantization loads the model with the given quantization.
func WithQuantization(q Quantization) Option { return func(o *options) { o.quant = q } }

// WithKernels runs the model's CPU work on a given kernel implementation
// (the program's choice, kernels.Configure) instead of the best one this
// CPU supports. Tests use it to run the goldens once per implementation.
func WithKernels(impl *kernels.Impl) Option { return func(o *options) { o.kernels = impl } }

// WithDevice selects the engine's device: "cpu" (the default), "auto"
// (the best registered backend that opens, else the CPU), or a registered
// backend's name, optionally with an index ("cuda:1").
func WithDevice(device string) Option { return func(o *options) { o.device = device } }

// WithGPUPrecision sets the arithmetic of an accelerator's linear layers:
// "fp32" (the default, for parity with the CPU), "tf32", "fp16" or "bf16".
// The CPU engine ignores it.
func WithGPUPrecision(p string) Option { return func(o *options) { o.gpuPrec = p } }

// GPUPrecisions are the values WithGPUPrecision takes.
var GPUPrecisions = []string{"fp32", "tf32", "fp16", "bf16"}

func buildOptions(opts []Option) (options, error) {
	o := options{quant: QuantNone}
	for _, f := range opts {
		f(&o)
	}
	if _, err := ParseQuantization(string(o.quant)); err != nil {
		return o, err
	}
	if o.gpuPrec != "" && !slices.Contains(GPUPrecisions, o.gpuPrec) {
		return o, fmt.Errorf("GPU precision %q is not supported (want %s)", o.gpuPrec, strings.Join(GPUPrecisions, ", "))
	}
	if o.kernels == nil {
		o.kernels = kernels.Best()
	}
	return o, nil
}

// Load opens a Hugging Face DistilBertForSequenceClassification checkpoint
// directory: config.json, model.safetensors (memory-mapped) or else
// pytorch_model.bin (read by weights.OpenPyTorch, which runs no pickled
// code), and tokenizer.json or vocab.txt.
func Load(dir string, opts ...Option) (*Classifier, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("model directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("model directory: %s is not a directory", dir)
	}
	fsys := os.DirFS(dir)
	cfg, err := readConfig(fsys, filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if o.digest, err = verifyDir(dir, o.wantSHA256); err != nil {
		return nil, err
	}
	path, open := filepath.Join(dir, "model.safetensors"), weights.Open
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		// Many Hub checkpoints carry only the PyTorch pickle.
		path, open = filepath.Join(dir, "pytorch_model.bin"), weights.OpenPyTorch
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, missingWeightsError(dir)
		}
	}
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	return newClassifier(filepath.Base(filepath.Clean(dir)), cfg, fsys, f, o)
}

// LoadEmbedded loads the small sst2-mini model built into the binary.
func LoadEmbedded(opts ...Option) (*Classifier, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	fsys := defaultmodel.FS()
	cfg, err := readConfig(fsys, "embedded "+defaultmodel.Name+"/config.json")
	if err != nil {
		return nil, err
	}
	data, err := defaultmodel.Safetensors()
	if err != nil {
		return nil, err
	}
	o.digest = bytesSHA256(data)
	if err := checkDigest("embedded "+defaultmodel.Name+"/model.safetensors", o.digest, o.wantSHA256); err != nil {
		return nil, err
	}
	f, err := weights.Parse("embedded "+defaultmodel.Name+"/model.safetensors", data)
	if err != nil {
		return nil, err
	}
	return newClassifier(defaultmodel.Name, cfg, fsys, f, o)
}

func readConfig(fsys fs.FS, name string) (*Config, error) {
	data, err := fs.ReadFile(fsys, "config.json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ParseConfig(name, data)
}

func missingWeightsError(dir string) error {
	for _, other := range []string{"model.safetensors.index.json", "pytorch_model.bin.index.json", "tf_model.h5"} {
		if _, err := os.Stat(filepath.Join(dir, other)); err == nil {
			return fmt.Errorf("%s: no model.safetensors or pytorch_model.bin (found %s; only single-file checkpoints are supported: re-save with save_pretrained(..., safe_serialization=True))", dir, other)
		}
	}
	return fmt.Errorf("%s: no model.safetensors or pytorch_model.bin", dir)
}

// WeightsFormat tells which checkpoint format the weights were read from:
// "safetensors", "pytorch-zip" or "pytorch-legacy" (see weights.File.Format).
func (c *Classifier) WeightsFormat() string { return c.format }

func newClassifier(name string, cfg *Config, fsys fs.FS, f *weights.File, o options) (*Classifier, error) {
	if o.name != "" {
		name = o.name
	}
	tensors := tensorInfos(f)
	p, err := bindParams(cfg, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	tok, err := tokenize.Load(fsys, cfg.MaxPositionEmbeddings)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: tokenizer: %w", name, err)
	}
	if tok.VocabSize() > cfg.VocabSize {
		f.Close()
		return nil, fmt.Errorf("%s: tokenizer has %d tokens but the model's vocab_size is %d", name, tok.VocabSize(), cfg.VocabSize)
	}
	e, fellBack, err := openEngine(o.device, EngineSpec{Config: cfg, Params: p, Quantization: o.quant, GPUPrecision: o.gpuPrec, Kernels: o.kernels})
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Classifier{name: name, config: cfg, engine: e, tok: tok, tensors: tensors, format: f.Format(), fellBack: fellBack,
		prov: provenance{weightsSHA256: o.digest, hub: o.hub}}, nil
}

func tensorInfos(f *weights.File) []TensorInfo {
	var out []TensorInfo
	for _, n := range f.Names() {
		t, _ := f.Tensor(n)
		out = append(out, TensorInfo{Name: n, DType: t.DType, Shape: t.Shape, Elements: t.NumElements(), Bytes: t.Bytes})
	}
	return out
}
