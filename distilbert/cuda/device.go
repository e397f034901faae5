package cuda

import "errors"

// errDeviceMemory is an allocation the device had no memory for; the
// engine then retries with smaller chunks.
var errDeviceMemory = errors.New("out of device memory")

// dtype is how a device buffer stores its elements.
type dtype uint8

const (
	f32  dtype = iota // float32
	f16               // IEEE half
	bf16              // bfloat16
	i32               // int32 (token ids, masks)
)

func (d dtype) String() string {
	return [...]string{"f32", "f16", "bf16", "i32"}[d]
}

// buf is a span of device memory: a base allocation plus an element offset.
type buf struct {
	ptr uint64 // device address (the GPU) or arena index (the reference device)
	off int    // in elements
	n   int    // elements from off
	dt  dtype
}

// at is the span of b that starts i elements in.
func (b buf) at(i int) buf { return buf{ptr: b.ptr, off: b.off + i, n: b.n - i, dt: b.dt} }

// gemm is one cuBLAS GemmEx call (column-major, as cuBLAS sees memory):
// C = op(A)·op(B) for each of batch matrices, A, B and C stride elements
// apart. Row-major Y[rows,out] = X[rows,in]·Wᵀ is, column-major,
// Yᵀ = W·Xᵀ: transA, m=out, n=rows, k=in, lda=ldb=in, ldc=out.
type gemm struct {
	transA, transB bool
	m, n, k        int
	a              buf
	lda, strideA   int
	b              buf
	ldb, strideB   int
	c              buf
	ldc, strideC   int
	batch          int
	tf32           bool // float32 inputs multiplied on TF32 tensor cores
}

// variant is the suffix of a kernel's form for each storage type of its
// G-typed buffers (kernels.cu's VARIANTS).
var variant = [...]string{f32: "_f32", f16: "_f16", bf16: "_bf16"}

// kernelNames lists kernels.cu's entry points; a kernel's index here is its
// index in the C side's function table. It lives outside the cuda build tag
// so that the tests compare it with the compiled kernels without a GPU.
var kernelNames = func() []string {
	var names []string
	for _, k := range []string{"embedV", "addNormV", "qkvSplitV", "softmaxV", "mergeHeadsV", "biasActV", "convertV",
		"qkvSplitVecV", "mergeHeadsVecV", "biasActVecV"} {
		for _, v := range variant {
			names = append(names, k+v)
		}
	}
	return append(names, "clsGather", "head")
}()

// device is what the engine's forward pass runs on: the GPU through cgo
// (gpu.go, -tags cuda) or the reference device in Go (ref.go), which runs
// the same plan on the CPU so that its shapes, strides and column-major
// conventions are tested against the goldens without a GPU. Kernels are
// named after their CUDA C twins in kernels.cu; "g" buffers hold the
// precision the linear layers multiply in (f32, f16 or bf16).
type device interface {
	alloc(n int, dt dtype) (buf, error)
	free(b buf)
	// upload copies host data into an f32 or i32 buffer.
	uploadF32(dst buf, src []float32) error
	uploadI32(dst buf, src []int32) error
	// download copies an f32 buffer to the host, after the queued work.
	downloadF32(dst []float32, src buf) error
	gemm(g gemm) error

	// convert: dst (g) = src (f32), n elements.
	convert(dst, src buf, n int) error
	// embed: x = LayerNorm(word[ids[t]] + pos[t mod seqLen]), also as xg.
	embed(x, xg, ids, word, pos, gamma, beta buf, tokens, seqLen, dim int, eps float32) error
	// qkvSplit: q, k, v [batch, heads, seqLen, headDim] from
	// qkv [tokens, 3·dim] plus bias (all g).
	qkvSplit(q, k, v, qkv, bias buf, tokens, seqLen, heads, headDim int) error
	// softmax: p (g) = softmax over keys of s [rows, seqLen] (f32), keys
	// whose mask [batch, seqLen] is 0 left out; rows = batch·heads·seqLen.
	softmax(p, s, mask buf, rows, heads, seqLen int) error
	// mergeHeads: out [tokens, dim] from ctx [batch, heads, seqLen, headDim] (both g).
	mergeHeads(out, ctx buf, tokens, seqLen, heads, headDim int) error
	// addNorm: x = LayerNorm(y + bias + x) (y: g), also as xg (the post-LN residual).
	addNorm(x, xg, y, bias, gamma, beta buf, tokens, dim int, eps float32) error
	// biasAct: h = act(h + bias) in place over [tokens, width] (g); gelu
	// is exact (erf).
	biasAct(h, bias buf, tokens, width int, gelu bool) error
	// clsGather: cls [batch, dim] = the first row of each sequence of x.
	clsGather(cls, x buf, batch, seqLen, dim int) error
	// head: logits [batch, labels] = ReLU(pooled + preBias)·Wᵀ + bias.
	head(logits, pooled, preBias, w, bias buf, batch, dim, labels int) error

	// capture records the device work that queue queues as a graph, which
	// launchGraph replays (on the same buffers) until dropGraph.
	capture(queue func() error) (graph, error)
	launchGraph(g graph) error
	dropGraph(g graph)

	sync() error
	close() error
}

// graph is a captured pass, opaque to the engine.
type graph uint64
