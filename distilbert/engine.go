package distilbert

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/distilbert-go/distilbert/kernels"
)

// Engine runs DistilBERT forward passes on one device: the seam between
// the pipeline (tokenizer, batching, scores) and the hardware. The CPU
// engine (*Model) is built in; another device is one package that
// registers a Backend. An Engine is safe for concurrent use.
type Engine interface {
	// Forward runs the batch and writes len(Config.Labels) logits per
	// sequence, in batch order, into logits.
	Forward(batch []Sequence, logits []float32) error
	// Info describes the engine for /info, metrics and inspect.
	Info() EngineInfo
	// Close releases the engine's weights and device resources.
	Close() error
}

// EngineInfo describes an engine.
type EngineInfo struct {
	// Backend is the registered backend name ("cpu").
	Backend string `json:"backend"`
	// Device is where the forward pass runs: "cpu", "cuda:0".
	Device string `json:"device"`
	// DeviceName is the processor's or accelerator's model name.
	DeviceName string `json:"device_name,omitempty"`
	// DeviceMemory is the accelerator's memory in bytes (0 on the CPU).
	DeviceMemory int64 `json:"device_memory_bytes,omitempty"`
	// Kernels is the kernel path: "avx512", "avx2", "neon", "generic", …
	Kernels string `json:"kernels"`
	// Int8Kernels is the int8 micro-kernel that quantized layers run on.
	Int8Kernels string `json:"int8_kernels,omitempty"`
	// Quantization is how the encoder's weights are kept.
	Quantization Quantization `json:"quantization"`
	// Precision is the arithmetic of the encoder's linear layers: "fp32",
	// "int8", "fp16", …
	Precision string `json:"precision"`
	// Pads is whether a batch's sequences are padded to a common length
	// (then mixed lengths cost the longest one's work each).
	Pads bool `json:"pads"`
	// MaxBatchSequences and MaxBatchTokens are the most sequences and
	// (padded) tokens one Forward call should take: batching callers (the
	// pipeline, the service) form batches up to them. 0 means the CPU's,
	// MaxBatchSequences and MaxBatchTokens.
	MaxBatchSequences int `json:"max_batch_sequences,omitempty"`
	MaxBatchTokens    int `json:"max_batch_tokens,omitempty"`
}

// BatchLimits are info's batch limits, the CPU's where it sets none.
func (info EngineInfo) BatchLimits() (sequences, tokens int) {
	sequences, tokens = info.MaxBatchSequences, info.MaxBatchTokens
	if sequences <= 0 {
		sequences = MaxBatchSequences
	}
	if tokens <= 0 {
		tokens = MaxBatchTokens
	}
	return sequences, tokens
}

// EngineSpec is what a Backend builds an engine from.
type EngineSpec struct {
	Config *Config
	// Params are the checkpoint's parameters. The engine owns them from
	// Open on: it closes them with itself, or as soon as it no longer
	// reads them (after an upload); on error Open leaves them open.
	Params *Params
	// Device is the whole --device value, e.g. "cuda:1".
	Device       string
	Quantization Quantization
	// GPUPrecision is the arithmetic an accelerator's linear layers use
	// ("fp32", "tf32", "fp16", "bf16"; "" is fp32). The CPU ignores it.
	GPUPrecision string
	// Kernels are the CPU kernels chosen at start-up; CPU-side work of
	// any engine runs on them.
	Kernels *kernels.Impl
}

// Backend opens engines of one kind of device.
type Backend struct {
	// Name is what --device selects: "cpu", "cuda" (also as "cuda:N").
	Name string
	// AutoPriority orders backends for --device auto, highest first; the
	// CPU's is the lowest, so it is what auto falls back to.
	AutoPriority int
	Open         func(EngineSpec) (Engine, error)
}

var (
	backendsMu sync.Mutex
	backends   = map[string]Backend{}
)

// RegisterBackend makes a backend selectable by --device; a backend
// package calls it from init. Registering a name twice panics.
func RegisterBackend(b Backend) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if b.Name == "" || b.Open == nil || strings.ContainsAny(b.Name, ": ") || b.Name == "auto" {
		panic(fmt.Sprintf("distilbert: invalid backend %q", b.Name))
	}
	if _, dup := backends[b.Name]; dup {
		panic("distilbert: backend " + b.Name + " registered twice")
	}
	backends[b.Name] = b
}

// Backends returns the registered backend names, best for auto first.
func Backends() []string {
	var out []string
	for _, b := range sortedBackends() {
		out = append(out, b.Name)
	}
	return out
}

func sortedBackends() []Backend {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	out := make([]Backend, 0, len(backends))
	for _, b := range backends {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].AutoPriority != out[j].AutoPriority {
			return out[i].AutoPriority > out[j].AutoPriority
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// plannedBackends are devices the project documents, for a precise error
// from a binary built without them.
var plannedBackends = map[string]string{"cuda": "build with CGO_ENABLED=1 go build -tags cuda"}

// openEngine opens the engine that device ("auto", "cpu", "cuda:1", …)
// selects. With auto, each backend is tried best first; fellBack says why
// the better ones were passed over ("" when the first one opened).
func openEngine(device string, spec EngineSpec) (e Engine, fellBack string, err error) {
	if device == "" {
		device = "cpu"
	}
	spec.Device = device
	if device == "auto" {
		var reasons []string
		for _, b := range sortedBackends() {
			spec.Device = b.Name
			e, err := b.Open(spec)
			if err == nil {
				return e, strings.Join(reasons, "; "), nil
			}
			reasons = append(reasons, fmt.Sprintf("%s: %v", b.Name, err))
		}
		return nil, "", fmt.Errorf("device auto: no backend opened: %s", strings.Join(reasons, "; "))
	}
	name, _, _ := strings.Cut(device, ":")
	backendsMu.Lock()
	b, ok := backends[name]
	backendsMu.Unlock()
	if !ok {
		if how, planned := plannedBackends[name]; planned {
			return nil, "", fmt.Errorf("device %s: not built into this binary (%s)", device, how)
		}
		return nil, "", fmt.Errorf("device %s: unknown (this binary has: auto, %s)", device, strings.Join(Backends(), ", "))
	}
	e, err = b.Open(spec)
	if err != nil {
		return nil, "", fmt.Errorf("device %s: %w", device, err)
	}
	return e, "", nil
}

// ValidateBatch checks a batch against the model before any engine runs
// it: every engine gets sequences it can index without checks.
func (c *Config) ValidateBatch(batch []Sequence, logits []float32) error {
	if len(logits) < len(batch)*len(c.Labels) {
		return fmt.Errorf("distilbert: logits buffer holds %d values, need %d", len(logits), len(batch)*len(c.Labels))
	}
	for i, s := range batch {
		if len(s.IDs) == 0 {
			return fmt.Errorf("distilbert: sequence %d is empty", i)
		}
		if len(s.IDs) > c.MaxPositionEmbeddings {
			return fmt.Errorf("distilbert: sequence %d has %d tokens, the model takes at most %d", i, len(s.IDs), c.MaxPositionEmbeddings)
		}
		if s.Mask != nil && len(s.Mask) != len(s.IDs) {
			return fmt.Errorf("distilbert: sequence %d has %d ids but %d mask values", i, len(s.IDs), len(s.Mask))
		}
		for j, id := range s.IDs {
			if id < 0 || int(id) >= c.VocabSize {
				return fmt.Errorf("distilbert: sequence %d position %d: token id %d outside the vocabulary (0..%d)", i, j, id, c.VocabSize-1)
			}
		}
	}
	return nil
}

var errNoKernels = errors.New("distilbert: no CPU kernels given")

func init() {
	RegisterBackend(Backend{Name: "cpu", AutoPriority: 0, Open: OpenCPU})
}
