package cuda

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/distilbert-go/distilbert/distilbert"
)

// maxGraphs bounds the CUDA graphs kept (one per bucketed shape); past it
// they are all dropped and recaptured as shapes recur.
const maxGraphs = 128

// maxChunkTokens bounds the padded tokens of one pass, so that a huge batch
// runs in chunks and the workspace (scores grow with length²) stays bounded.
const maxChunkTokens = 32768

// engine runs DistilBERT on a device. The forward pass reads top to bottom
// in pass; every weight is uploaded once, in upload.
type engine struct {
	dev  device
	cfg  distilbert.Config
	g    dtype // precision of the linear layers' inputs
	tf32 bool
	gelu bool
	info distilbert.EngineInfo
	opts engineOptions
	// chunkTokens bounds one pass's padded tokens (maxChunkTokens).
	chunkTokens int

	mu      sync.Mutex // one pass at a time: one stream, one workspace
	w       weights
	ws      workspace
	hostIDs []int32         // [2, tokens]: ids, then mask
	graphs  map[shape]graph // passes captured per bucketed shape
	seen    map[shape]bool  // shapes run once, uncaptured
}

// engineOptions are the engine's switches.
type engineOptions struct {
	// graphs buckets shapes and replays each shape's pass from a CUDA graph.
	graphs bool
}

type shape struct{ batch, seqLen int }

// weights live on the device for the engine's life.
type weights struct {
	word, pos      buf // f32 [vocab, dim], [positions, dim]
	embGamma, embB buf
	layers         []layerWeights
	preW, preB     buf // f32 [dim, dim], [dim]
	clsW, clsB     buf // f32 [labels, dim], [labels]
	all            []buf
}

type layerWeights struct {
	qkvW, qkvB        buf // [3·dim, dim] (g), [3·dim] f32: q rows pre-scaled by 1/√d_head
	outW, outB        buf // [dim, dim] (g)
	saGamma, saBeta   buf
	ffn1W, ffn1B      buf // [hidden, dim] (g)
	ffn2W, ffn2B      buf // [dim, hidden] (g)
	outGamma, outBeta buf
}

// workspace holds one pass's activations, sized for the largest chunk
// seen so far (tokens = batch · seqLen, padded). Everything a GEMM reads or
// writes is in the linear layers' precision g; the residual stream and the
// attention scores stay float32.
type workspace struct {
	tokens, batch, scores int
	ids, mask             buf // i32 [tokens]
	x                     buf // f32 [tokens, dim]: the residual stream
	xg                    buf // g [tokens, dim]: x as the next GEMM reads it
	y                     buf // g [tokens, dim]: a projection's output
	qkv                   buf // g [tokens, 3·dim]
	q, k, v               buf // g [batch, heads, seqLen, headDim]
	s                     buf // f32 [batch, heads, seqLen, seqLen]
	p                     buf // g, as s
	ctx                   buf // g [batch, heads, seqLen, headDim]
	ctxg                  buf // g [tokens, dim]: ctx with the heads merged
	h                     buf // g [tokens, hidden]
	cls, pooled           buf // f32 [batch, dim]
	logits                buf // f32 [batch, labels]
	all                   []buf
}

func parsePrecision(p string) (g dtype, tf32 bool, err error) {
	switch p {
	case "", "fp32":
		return f32, false, nil
	case "tf32":
		return f32, true, nil
	case "fp16":
		return f16, false, nil
	case "bf16":
		return bf16, false, nil
	}
	return 0, false, fmt.Errorf("precision %q is not supported (want fp32, tf32, fp16 or bf16)", p)
}

// newEngine uploads spec's parameters to dev. On success the engine owns
// dev and closes spec.Params (their data is on the device).
func newEngine(dev device, spec distilbert.EngineSpec, info distilbert.EngineInfo, opts engineOptions) (*engine, error) {
	c := spec.Config
	if spec.Quantization == distilbert.QuantInt8 {
		return nil, errors.New("int8 quantization runs on the CPU; on a GPU use --gpu-precision fp16 or bf16")
	}
	g, tf32, err := parsePrecision(spec.GPUPrecision)
	if err != nil {
		return nil, err
	}
	if c.Activation != "gelu" && c.Activation != "relu" {
		return nil, fmt.Errorf("activation %q is not supported (want \"gelu\" or \"relu\")", c.Activation)
	}
	if c.Dim%c.NHeads != 0 {
		return nil, fmt.Errorf("dim %d is not a multiple of n_heads %d", c.Dim, c.NHeads)
	}
	e := &engine{dev: dev, cfg: *c, g: g, tf32: tf32, gelu: c.Activation == "gelu", opts: opts,
		graphs: map[shape]graph{}, seen: map[shape]bool{}, chunkTokens: maxChunkTokens}
	e.info = info
	e.info.Quantization = distilbert.QuantNone
	e.info.Precision = cmp.Or(spec.GPUPrecision, "fp32")
	e.info.Pads = true
	// A GPU wants big batches; Forward chunks them at maxChunkTokens.
	e.info.MaxBatchSequences, e.info.MaxBatchTokens = 1024, 4*maxChunkTokens
	if err := e.upload(spec.Params); err != nil {
		e.freeAll()
		return nil, err
	}
	if err := dev.sync(); err != nil {
		e.freeAll()
		return nil, err
	}
	spec.Params.Close()
	return e, nil
}

// upload copies every parameter to the device, the linear layers' weights
// converted to the engine's precision.
func (e *engine) upload(p *distilbert.Params) error {
	c := &e.cfg
	d := c.Dim
	u := uploader{dev: e.dev}
	w := &e.w
	w.word = u.f32(p.WordEmbeddings.Data)
	w.pos = u.f32(p.PositionEmbeddings.Data)
	w.embGamma, w.embB = u.f32(p.EmbeddingNorm.Gamma.Data), u.f32(p.EmbeddingNorm.Beta.Data)
	// Hugging Face scales the queries by 1/√d_head; scaling their weights
	// and bias here spares a pass (exact for a power-of-two scale).
	qs := float32(1 / math.Sqrt(float64(c.HeadDim())))
	for _, lp := range p.Layers {
		qkvW := make([]float32, 0, 3*d*d)
		qkvW = append(append(append(qkvW, scaled(lp.Q.Weight.Data, qs)...), lp.K.Weight.Data...), lp.V.Weight.Data...)
		qkvB := make([]float32, 0, 3*d)
		qkvB = append(append(append(qkvB, scaled(lp.Q.Bias.Data, qs)...), lp.K.Bias.Data...), lp.V.Bias.Data...)
		w.layers = append(w.layers, layerWeights{
			qkvW: u.g(qkvW, e.g), qkvB: u.f32(qkvB),
			outW: u.g(lp.Out.Weight.Data, e.g), outB: u.f32(lp.Out.Bias.Data),
			saGamma: u.f32(lp.SANorm.Gamma.Data), saBeta: u.f32(lp.SANorm.Beta.Data),
			ffn1W: u.g(lp.FFN1.Weight.Data, e.g), ffn1B: u.f32(lp.FFN1.Bias.Data),
			ffn2W: u.g(lp.FFN2.Weight.Data, e.g), ffn2B: u.f32(lp.FFN2.Bias.Data),
			outGamma: u.f32(lp.OutputNorm.Gamma.Data), outBeta: u.f32(lp.OutputNorm.Beta.Data),
		})
	}
	w.preW, w.preB = u.f32(p.PreClassifier.Weight.Data), u.f32(p.PreClassifier.Bias.Data)
	w.clsW, w.clsB = u.f32(p.Classifier.Weight.Data), u.f32(p.Classifier.Bias.Data)
	w.all = u.bufs
	return u.err
}

func scaled(x []float32, s float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = v * s
	}
	return out
}

// uploader allocates and fills device buffers and keeps the first error.
type uploader struct {
	dev  device
	bufs []buf
	err  error
}

func (u *uploader) alloc(n int, dt dtype) buf {
	if u.err != nil {
		return buf{}
	}
	b, err := u.dev.alloc(n, dt)
	if err != nil {
		u.err = err
		return buf{}
	}
	u.bufs = append(u.bufs, b)
	return b
}

func (u *uploader) f32(x []float32) buf {
	b := u.alloc(len(x), f32)
	if u.err == nil {
		u.err = u.dev.uploadF32(b, x)
	}
	return b
}

// g uploads x in precision dt, converted on the device.
func (u *uploader) g(x []float32, dt dtype) buf {
	if dt == f32 {
		return u.f32(x)
	}
	tmp, err := u.dev.alloc(len(x), f32)
	if err != nil {
		u.err = err
		return buf{}
	}
	defer u.dev.free(tmp)
	b := u.alloc(len(x), dt)
	if u.err == nil {
		u.err = u.dev.uploadF32(tmp, x)
	}
	if u.err == nil {
		u.err = u.dev.convert(b, tmp, len(x))
	}
	if u.err == nil {
		// tmp is freed on return: the conversion must have read it.
		u.err = u.dev.sync()
	}
	return b
}

// reserve grows the workspace to hold batch sequences of seqLen tokens.
func (e *engine) reserve(batch, seqLen int) error {
	c := &e.cfg
	tokens, scores := batch*seqLen, batch*c.NHeads*seqLen*seqLen
	ws := &e.ws
	if tokens <= ws.tokens && batch <= ws.batch && scores <= ws.scores {
		return nil
	}
	tokens, batch, scores = max(tokens, ws.tokens), max(batch, ws.batch), max(scores, ws.scores)
	// The graphs point into the old buffers.
	e.dropGraphs()
	for _, b := range ws.all {
		e.dev.free(b)
	}
	*ws = workspace{}
	u := uploader{dev: e.dev}
	d, g := c.Dim, e.g
	ws.ids, ws.mask = u.alloc(tokens, i32), u.alloc(tokens, i32)
	ws.x, ws.xg, ws.y = u.alloc(tokens*d, f32), u.alloc(tokens*d, g), u.alloc(tokens*d, g)
	ws.qkv = u.alloc(tokens*3*d, g)
	ws.q, ws.k, ws.v = u.alloc(tokens*d, g), u.alloc(tokens*d, g), u.alloc(tokens*d, g)
	ws.s, ws.p = u.alloc(scores, f32), u.alloc(scores, g)
	ws.ctx, ws.ctxg = u.alloc(tokens*d, g), u.alloc(tokens*d, g)
	ws.h = u.alloc(tokens*c.HiddenDim, g)
	ws.cls, ws.pooled = u.alloc(batch*d, f32), u.alloc(batch*d, f32)
	ws.logits = u.alloc(batch*len(c.Labels), f32)
	ws.all = u.bufs
	if u.err != nil {
		for _, b := range ws.all {
			e.dev.free(b)
		}
		*ws = workspace{}
		return u.err
	}
	ws.tokens, ws.batch, ws.scores = tokens, batch, scores
	return nil
}

// Forward runs the batch in chunks of at most chunkTokens padded tokens.
func (e *engine) Forward(batch []distilbert.Sequence, logits []float32) error {
	if err := e.cfg.ValidateBatch(batch, logits); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dev == nil {
		return errors.New("cuda: engine used after Close")
	}
	labels := len(e.cfg.Labels)
	limit := e.chunkTokens
	for start := 0; start < len(batch); {
		end, longest := start, 0
		for end < len(batch) {
			l := max(longest, len(batch[end].IDs))
			// Counted at the bucketed length, which the pass may run at.
			if end > start && (end+1-start)*((l+15)&^15) > limit {
				break
			}
			longest = l
			end++
		}
		err := e.forward(batch[start:end], longest, logits[start*labels:end*labels])
		if errors.Is(err, errDeviceMemory) && end-start > 1 {
			// A device shared with other work, or a small one: the same
			// sequences in smaller chunks. The failed workspace was freed.
			limit = max(limit/2, 1)
			continue
		}
		if err != nil {
			return err
		}
		start = end
	}
	return nil
}

// forward runs one chunk padded to seqLen: the inputs go up, the pass runs
// (replayed from a CUDA graph when this shape has run before), the logits
// come back.
func (e *engine) forward(batch []distilbert.Sequence, seqLen int, logits []float32) error {
	n := len(batch)
	if e.opts.graphs {
		n, seqLen = e.bucket(n, seqLen)
	}
	if err := e.reserve(n, seqLen); err != nil {
		return err
	}
	tokens := n * seqLen
	// Ids and mask, padded: a pad position (or a pad sequence) has id 0
	// and mask 0.
	e.hostIDs = slices.Grow(e.hostIDs[:0], 2*tokens)[:2*tokens]
	clear(e.hostIDs)
	ids, mask := e.hostIDs[:tokens], e.hostIDs[tokens:]
	for i, s := range batch {
		copy(ids[i*seqLen:], s.IDs)
		for j := range s.IDs {
			if s.Mask == nil || s.Mask[j] {
				mask[i*seqLen+j] = 1
			}
		}
	}
	dev, ws := e.dev, &e.ws
	if err := dev.uploadI32(ws.ids, ids); err != nil {
		return err
	}
	if err := dev.uploadI32(ws.mask, mask); err != nil {
		return err
	}
	if err := e.run(n, seqLen); err != nil {
		return err
	}
	return dev.downloadF32(logits[:len(batch)*len(e.cfg.Labels)], ws.logits)
}

// run queues the pass over the inputs in the workspace. With graphs, a
// shape's second pass is captured and every later one replays it: one
// launch instead of about a dozen per layer.
func (e *engine) run(n, seqLen int) error {
	if !e.opts.graphs {
		return e.pass(n, seqLen)
	}
	sh := shape{n, seqLen}
	if g, ok := e.graphs[sh]; ok {
		return e.dev.launchGraph(g)
	}
	if !e.seen[sh] {
		// The first pass of a shape runs uncaptured: cuBLAS picks and
		// loads its kernels then, which a capture does not allow.
		e.seen[sh] = true
		return e.pass(n, seqLen)
	}
	if len(e.graphs) >= maxGraphs {
		e.dropGraphs()
	}
	g, err := e.dev.capture(func() error { return e.pass(n, seqLen) })
	if err != nil {
		return err
	}
	e.graphs[sh] = g
	return e.dev.launchGraph(g)
}

// bucket rounds a chunk's shape up so that few shapes (and graphs) cover
// every batch: lengths to a multiple of 16 (within the position table),
// batches to a power of two below 16, else to a multiple of 8. Pad
// sequences and positions are masked out.
func (e *engine) bucket(n, seqLen int) (int, int) {
	seqLen = min((seqLen+15)&^15, max(seqLen, e.cfg.MaxPositionEmbeddings))
	if n < 16 {
		b := 1
		for b < n {
			b *= 2
		}
		return b, seqLen
	}
	return (n + 7) &^ 7, seqLen
}

// pass queues the DistilBERT forward pass over the workspace's inputs:
// n sequences of seqLen tokens, logits into ws.logits. It only queues
// device work, so that a graph can capture it.
func (e *engine) pass(n, seqLen int) error {
	c := &e.cfg
	d, heads, hd := c.Dim, c.NHeads, c.HeadDim()
	tokens := n * seqLen
	ws, dev := &e.ws, e.dev
	run := runner{dev: dev}
	run.do(dev.embed(ws.x, ws.xg, ws.ids, e.w.word, e.w.pos, e.w.embGamma, e.w.embB, tokens, seqLen, d, c.LayerNormEps))
	for i := range e.w.layers {
		l := &e.w.layers[i]
		// Attention: one GEMM for q, k and v, then per (sequence, head)
		// strided-batched GEMMs around a masked softmax.
		run.do(dev.gemm(e.linear(ws.qkv, l.qkvW, ws.xg, tokens, 3*d, d)))
		run.do(dev.qkvSplit(ws.q, ws.k, ws.v, ws.qkv, l.qkvB, tokens, seqLen, heads, hd))
		run.do(dev.gemm(gemm{ // s[q, key] = q·kᵀ: column-major sᵀ = k·qᵀ
			transA: true, m: seqLen, n: seqLen, k: hd,
			a: ws.k, lda: hd, strideA: seqLen * hd,
			b: ws.q, ldb: hd, strideB: seqLen * hd,
			c: ws.s, ldc: seqLen, strideC: seqLen * seqLen,
			batch: n * heads, tf32: e.tf32,
		}))
		run.do(dev.softmax(ws.p, ws.s, ws.mask, n*heads*seqLen, heads, seqLen))
		run.do(dev.gemm(gemm{ // ctx = p·v: column-major ctxᵀ = vᵀ·pᵀ
			m: hd, n: seqLen, k: seqLen,
			a: ws.v, lda: hd, strideA: seqLen * hd,
			b: ws.p, ldb: seqLen, strideB: seqLen * seqLen,
			c: ws.ctx, ldc: hd, strideC: seqLen * hd,
			batch: n * heads, tf32: e.tf32,
		}))
		run.do(dev.mergeHeads(ws.ctxg, ws.ctx, tokens, seqLen, heads, hd))
		run.do(dev.gemm(e.linear(ws.y, l.outW, ws.ctxg, tokens, d, d)))
		run.do(dev.addNorm(ws.x, ws.xg, ws.y, l.outB, l.saGamma, l.saBeta, tokens, d, c.LayerNormEps))
		// Feed-forward.
		run.do(dev.gemm(e.linear(ws.h, l.ffn1W, ws.xg, tokens, c.HiddenDim, d)))
		run.do(dev.biasAct(ws.h, l.ffn1B, tokens, c.HiddenDim, e.gelu))
		run.do(dev.gemm(e.linear(ws.y, l.ffn2W, ws.h, tokens, d, c.HiddenDim)))
		run.do(dev.addNorm(ws.x, ws.xg, ws.y, l.ffn2B, l.outGamma, l.outBeta, tokens, d, c.LayerNormEps))
	}
	// Head, in float32: logits = classifier(ReLU(pre_classifier(x[CLS]))).
	run.do(dev.clsGather(ws.cls, ws.x, n, seqLen, d))
	pre := e.linear(ws.pooled, e.w.preW, ws.cls, n, d, d)
	pre.tf32 = false
	run.do(dev.gemm(pre))
	run.do(dev.head(ws.logits, ws.pooled, e.w.preB, e.w.clsW, e.w.clsB, n, d, len(c.Labels)))
	return run.err
}

// linear is y[rows, out] = x[rows, in]·Wᵀ (W as PyTorch stores it, [out, in]).
func (e *engine) linear(y, w, x buf, rows, out, in int) gemm {
	return gemm{transA: true, m: out, n: rows, k: in, a: w, lda: in, b: x, ldb: in, c: y, ldc: out, batch: 1, tf32: e.tf32}
}

// runner keeps the first error of a sequence of device calls.
type runner struct {
	dev device
	err error
}

func (r *runner) do(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

// Info describes the engine.
func (e *engine) Info() distilbert.EngineInfo { return e.info }

// Close frees the device memory and the device.
func (e *engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dev == nil {
		return nil
	}
	e.freeAll()
	err := e.dev.close()
	e.dev = nil
	return err
}

func (e *engine) dropGraphs() {
	for sh, g := range e.graphs {
		e.dev.dropGraph(g)
		delete(e.graphs, sh)
	}
}

func (e *engine) freeAll() {
	e.dropGraphs()
	for _, b := range e.ws.all {
		e.dev.free(b)
	}
	for _, b := range e.w.all {
		e.dev.free(b)
	}
	e.ws, e.w = workspace{}, weights{}
}
