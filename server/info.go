package server

import (
	"math"
	"runtime"
	"time"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/kernels"
)

// infoResponse is GET /info.
type infoResponse struct {
	Model        string            `json:"model"`
	Version      string            `json:"version"`
	GoVersion    string            `json:"go_version"`
	Labels       []string          `json:"labels"`
	ProblemType  string            `json:"problem_type,omitempty"` // absent for single-label (softmax) models
	Config       distilbert.Config `json:"config"`
	MaxTokens    int               `json:"max_tokens"`
	Parameters   int64             `json:"parameters"`
	WeightDTypes []string          `json:"weight_dtypes"`
	Quantization string            `json:"quantization"`
	ComputeDType string            `json:"compute_dtype"`
	Int8Kernel   string            `json:"int8_kernel"`
	Kernels      string            `json:"kernels"`
	// Engine says where and how the forward pass runs (device, precision).
	Engine        distilbert.EngineInfo `json:"engine"`
	CPU           kernels.CPUInfo       `json:"cpu"`
	GOMAXPROCS    int                   `json:"gomaxprocs"`
	Batching      map[string]any        `json:"batching"`
	Limits        map[string]any        `json:"limits"`
	Auth          bool                  `json:"auth"`
	RateLimit     float64               `json:"rate_limit_per_s"`
	CacheSize     int                   `json:"cache_size"`
	UptimeSeconds float64               `json:"uptime_seconds"`
	Ready         bool                  `json:"ready"`
	// WeightsSHA256 identifies the weights file; Hub is the repository and
	// revision when the model was loaded from the Hub cache.
	WeightsSHA256 string                `json:"weights_sha256,omitempty"`
	Hub           *distilbert.HubSource `json:"hub,omitempty"`
	// Revision is the Hub commit, else the weights' SHA-256; LoadedAt is
	// when the model serving was loaded (at start or by the last reload).
	Revision string    `json:"revision"`
	LoadedAt time.Time `json:"loaded_at"`
	// Reload says whether the model can be reloaded (SIGHUP; POST
	// /admin/reload also needs admin keys).
	Reload bool `json:"reload"`
}

// computeDType names the arithmetic of the encoder's linear layers.
func computeDType(q distilbert.Quantization) string {
	if q == distilbert.QuantInt8 {
		return "I8" // u8·s8 products summed in int32; the rest in float32
	}
	return "F32"
}

func (s *Server) info() infoResponse {
	m := s.model()
	defer m.release()
	ei := m.clf.Engine().Info()
	in := infoResponse{
		Model: m.clf.Name(), Version: s.cfg.Version, GoVersion: runtime.Version(),
		Labels: m.labels, Config: *m.clf.Config(), MaxTokens: m.clf.Tokenizer().MaxLen(),
		ProblemType:  string(m.clf.ProblemType()),
		Quantization: string(ei.Quantization), ComputeDType: computeDType(ei.Quantization),
		Int8Kernel: ei.Int8Kernels, Engine: ei,
		Kernels: ei.Kernels, CPU: kernels.CPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Batching: map[string]any{
			"max_batch_size": s.cfg.MaxBatchSize, "max_batch_tokens": s.cfg.MaxBatchTokens,
			"max_wait_ms": ms(s.cfg.MaxWait), "max_queue": s.cfg.MaxQueue,
		},
		Limits: map[string]any{
			"max_body_bytes": s.cfg.MaxBodyBytes, "max_batch_items": s.cfg.MaxBatchItems,
			"max_inflight_bytes": s.cfg.MaxInflightBytes, "memory_ceiling_bytes": s.memoryCeiling(),
			"max_text_chars": s.cfg.MaxTextChars, "request_timeout_ms": ms(s.cfg.RequestTimeout),
		},
		Auth: s.keys != nil || s.jwt != nil, RateLimit: s.cfg.RateLimit, CacheSize: s.cfg.CacheSize,
		UptimeSeconds: math.Round(time.Since(s.started).Seconds()*1000) / 1000,
		Ready:         s.ready.Load() && !s.draining.Load(),
		WeightsSHA256: m.clf.WeightsSHA256(), Hub: m.clf.HubSource(),
		Revision: m.revision, LoadedAt: m.loadedAt.UTC(), Reload: s.cfg.Loader != nil,
	}
	seen := map[string]bool{}
	for _, t := range m.clf.Tensors() {
		in.Parameters += int64(t.Elements)
		if !seen[t.DType] {
			seen[t.DType] = true
			in.WeightDTypes = append(in.WeightDTypes, t.DType)
		}
	}
	return in
}
