package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/kernels"
	"github.com/distilbert-go/distilbert/weights"
)

// chunkSize bounds how many input lines are held in memory at once.
const chunkSize = 256

// ioFlags are the flags shared by predict and tokenize.
type ioFlags struct {
	model         modelFlags
	input, output string
	engine        engineFlags
}

func (f *ioFlags) register(fs *flag.FlagSet) {
	f.model.register(fs)
	fs.StringVar(&f.input, "input", "", "JSONL file of {\"text\": ...} lines (\"-\" for stdin)")
	fs.StringVar(&f.output, "output", "", "write JSONL here instead of stdout")
	f.engine.register(fs, true)
}

// --quantize is shared by every command that loads a model.
const (
	quantizeEnv   = "DISTILBERT_QUANTIZE"
	quantizeUsage = "encoder weights: none (float32) or int8 (dynamic quantization: ~2x faster, 1/4 the memory); default $" + quantizeEnv
)

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by run
	return fs
}

func loadClassifier(model modelFlags, ef engineFlags) (*distilbert.Classifier, error) {
	c, _, err := loadClassifierDir(model, ef)
	return c, err
}

// loadClassifierDir also returns the checkpoint directory --model resolved
// to ("" for the embedded model).
func loadClassifierDir(model modelFlags, ef engineFlags) (*distilbert.Classifier, string, error) {
	q, err := distilbert.ParseQuantization(ef.quantize)
	if err != nil {
		return nil, "", usageError{fmt.Errorf("--quantize: %w", err)}
	}
	impl, err := configureKernels()
	if err != nil {
		return nil, "", err
	}
	opts := []distilbert.Option{distilbert.WithQuantization(q), distilbert.WithKernels(impl), distilbert.WithDevice(ef.device),
		distilbert.WithGPUPrecision(ef.gpuPrecision),
		distilbert.WithWeightsSHA256(model.sha256)}
	var c *distilbert.Classifier
	dir := ""
	if model.spec == "" {
		c, err = distilbert.LoadEmbedded(opts...)
	} else {
		var more []distilbert.Option
		if dir, more, err = resolveModel(model.spec); err != nil {
			return nil, "", err
		}
		c, err = distilbert.Load(dir, append(opts, more...)...)
	}
	if err == nil && c.DeviceFallback() != "" {
		slog.Info("device auto: using "+c.Engine().Info().Device, "passed_over", c.DeviceFallback())
	}
	return c, dir, err
}

// forEachChunk feeds texts from the arguments, else --input, else stdin,
// to fn in chunks, preserving order.
func forEachChunk(texts []string, input string, stdin io.Reader, fn func([]string) error) error {
	if len(texts) > 0 && input != "" {
		return usageError{errors.New("give texts as arguments or with --input, not both")}
	}
	if len(texts) > 0 {
		for len(texts) > 0 {
			n := min(chunkSize, len(texts))
			if err := fn(texts[:n]); err != nil {
				return err
			}
			texts = texts[n:]
		}
		return nil
	}
	r, name := stdin, "stdin"
	if input != "" && input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return err
		}
		defer f.Close()
		r, name = f, input
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	chunk := make([]string, 0, chunkSize)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			// A file saved by a Windows editor may start with a byte order mark.
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var rec struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("%s:%d: not a JSON object with a \"text\" string: %v", name, line, err)
		}
		if rec.Text == nil {
			return fmt.Errorf("%s:%d: missing \"text\"", name, line)
		}
		chunk = append(chunk, *rec.Text)
		if len(chunk) == chunkSize {
			if err := fn(chunk); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if len(chunk) > 0 {
		return fn(chunk)
	}
	return nil
}

// openOutput returns stdout or the --output file, buffered.
func openOutput(path string, stdout io.Writer) (*bufio.Writer, func() error, error) {
	if path == "" || path == "-" {
		w := bufio.NewWriter(stdout)
		return w, w.Flush, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	w := bufio.NewWriter(f)
	return w, func() error {
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

// streamTexts is the shape predict and tokenize share: parse the common
// flags (plus extra ones), load the model, then write emit's JSON lines for
// each chunk of input texts, in order, to stdout or --output.
func streamTexts(name string, args []string, stdin io.Reader, stdout io.Writer, extra func(*flag.FlagSet),
	emit func(c *distilbert.Classifier, enc *json.Encoder, chunk []string) error) error {
	fs := newFlagSet(name)
	var iof ioFlags
	iof.register(fs)
	if extra != nil {
		extra(fs)
	}
	texts, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	c, err := loadClassifier(iof.model, iof.engine)
	if err != nil {
		return err
	}
	defer c.Close()
	w, closeOut, err := openOutput(iof.output, stdout)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	err = forEachChunk(texts, iof.input, stdin, func(chunk []string) error { return emit(c, enc, chunk) })
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	return err
}

func cmdPredict(args []string, stdin io.Reader, stdout io.Writer) error {
	var ids *bool
	return streamTexts("predict", args, stdin, stdout,
		func(fs *flag.FlagSet) { ids = fs.Bool("ids", false, "include input_ids in the output") },
		func(c *distilbert.Classifier, enc *json.Encoder, chunk []string) error {
			preds, err := c.Predict(context.Background(), chunk)
			if err != nil {
				return err
			}
			for i := range preds {
				if !*ids {
					preds[i].InputIDs = nil
				}
				if err := enc.Encode(&preds[i]); err != nil {
					return err
				}
			}
			return nil
		})
}

func cmdTokenize(args []string, stdin io.Reader, stdout io.Writer) error {
	return streamTexts("tokenize", args, stdin, stdout, nil,
		func(c *distilbert.Classifier, enc *json.Encoder, chunk []string) error {
			for _, t := range chunk {
				if err := enc.Encode(struct {
					InputIDs []int32 `json:"input_ids"`
				}{c.Encode(t).IDs}); err != nil {
					return err
				}
			}
			return nil
		})
}

// inspection is what inspect prints, as text or with --json.
type inspection struct {
	Model   string            `json:"model"`
	Format  string            `json:"format"` // safetensors, pytorch-zip or pytorch-legacy
	Config  distilbert.Config `json:"config"`
	Kernels string            `json:"kernels"`
	// Quantization is how the encoder's weights are kept: none or int8.
	Quantization string `json:"quantization"`
	// Int8Kernel is the micro-kernel int8 layers run on (see kernels.Impl.Int8Kernel).
	Int8Kernel string `json:"int8_kernel"`
	// Engine describes where and how the forward pass runs.
	Engine     distilbert.EngineInfo   `json:"engine"`
	CPU        kernels.CPUInfo         `json:"cpu"`
	Tensors    []distilbert.TensorInfo `json:"tensors"`
	Parameters int64                   `json:"parameters"`
	Bytes      int64                   `json:"bytes"`
	MaxTokens  int                     `json:"max_tokens"`
	// WeightsSHA256 identifies the weights; Files lists every checkpoint
	// file with its SHA-256; Hub is set when loaded from the Hub cache.
	WeightsSHA256 string                `json:"weights_sha256"`
	Files         []fileDigest          `json:"files"`
	Hub           *distilbert.HubSource `json:"hub,omitempty"`
}

func cmdInspect(args []string, stdout io.Writer) error {
	fs := newFlagSet("inspect")
	var model modelFlags
	model.register(fs)
	var ef engineFlags
	ef.register(fs, true)
	asJSON := fs.Bool("json", false, "print one JSON object")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("inspect takes no arguments, got %q", rest[0])}
	}
	c, dir, err := loadClassifierDir(model, ef)
	if err != nil {
		return err
	}
	defer c.Close()
	info := c.Engine().Info()
	impl, _ := configureKernels() // loadClassifier returned its error
	in := inspection{
		Model: c.Name(), Format: c.WeightsFormat(), Config: *c.Config(), Kernels: info.Kernels, Quantization: string(info.Quantization),
		Int8Kernel: impl.Int8Kernel(), Engine: info, CPU: kernels.CPU(), Tensors: c.Tensors(), MaxTokens: c.Tokenizer().MaxLen(),
	}
	for _, t := range in.Tensors {
		in.Parameters += int64(t.Elements)
		in.Bytes += t.Bytes
	}
	in.WeightsSHA256, in.Hub = c.WeightsSHA256(), c.HubSource()
	if in.Files, err = checkpointDigests(dir, c); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if *asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	cfg := in.Config
	fmt.Fprintf(w, "model        %s\n", in.Model)
	fmt.Fprintf(w, "format       %s\n", in.Format)
	fmt.Fprintf(w, "architecture DistilBertForSequenceClassification: %d layers, dim %d, %d heads, hidden %d, activation %s\n",
		cfg.NLayers, cfg.Dim, cfg.NHeads, cfg.HiddenDim, cfg.Activation)
	fmt.Fprintf(w, "positions    %d (max tokens per text %d), vocab %d, sinusoidal %v, layer norm eps %g\n",
		cfg.MaxPositionEmbeddings, in.MaxTokens, cfg.VocabSize, cfg.SinusoidalPosEmbds, cfg.LayerNormEps)
	fmt.Fprintf(w, "labels       %s\n", strings.Join(cfg.Labels, ", "))
	fmt.Fprintf(w, "parameters   %d (%s in the checkpoint)\n", in.Parameters, weights.FormatBytes(in.Bytes))
	if in.Engine.DeviceMemory > 0 {
		fmt.Fprintf(w, "device       %s (%s, %s, precision %s)\n", in.Engine.Device, in.Engine.DeviceName,
			weights.FormatBytes(in.Engine.DeviceMemory), in.Engine.Precision)
	} else {
		fmt.Fprintf(w, "device       %s (%s)\n", in.Engine.Device, in.Engine.DeviceName)
	}
	fmt.Fprintf(w, "kernels      %s (available: %s)\n", in.Kernels, strings.Join(implNames(), ", "))
	if in.Quantization == string(distilbert.QuantInt8) {
		fmt.Fprintf(w, "quantization %s (kernel %s; available: %s)\n", in.Quantization, in.Int8Kernel, strings.Join(kernels.Int8Kernels(), ", "))
	} else {
		fmt.Fprintf(w, "quantization %s\n", in.Quantization)
	}
	fmt.Fprintf(w, "cpu          %s %s [%s]\n", in.CPU.Arch, in.CPU.Brand, strings.Join(in.CPU.Features, " "))
	if in.Hub != nil {
		fmt.Fprintf(w, "hub          %s revision %s, commit %s\n", in.Hub.Repo, in.Hub.Revision, in.Hub.Commit)
	}
	fmt.Fprintf(w, "files        (SHA-256)\n")
	for _, f := range in.Files {
		fmt.Fprintf(w, "  %-28s %s\n", f.Name, f.SHA256)
	}
	fmt.Fprintf(w, "tensors      %d\n", len(in.Tensors))
	sort.Slice(in.Tensors, func(i, j int) bool { return in.Tensors[i].Name < in.Tensors[j].Name })
	for _, t := range in.Tensors {
		fmt.Fprintf(w, "  %-60s %-5s %v\n", t.Name, t.DType, t.Shape)
	}
	return nil
}

func implNames() []string {
	var names []string
	for _, im := range kernels.Available() {
		names = append(names, im.Name())
	}
	return names
}
