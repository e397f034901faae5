package kernels

import (
	"fmt"
	"math"

	"github.com/distilbert-go/distilbert/internal/freelist"
)

// Activation is applied element-wise while a linear layer writes its output.
type Activation int

const (
	ActNone Activation = iota
	ActGELU            // exact erf GELU, as PyTorch's nn.GELU() default
	ActReLU
)

func (a Activation) String() string {
	switch a {
	case ActNone:
		return "none"
	case ActGELU:
		return "gelu"
	case ActReLU:
		return "relu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// Matrix is a weight matrix of a linear layer, W[out, in] in checkpoint
// terms, packed by the Impl that will multiply it. Its layout is private to
// that Impl: a Matrix must only be used with the Impl that packed it.
type Matrix struct {
	Out, In int
	impl    string
	data    []float32 // layout chosen by impl; may alias the caller's weights
	own     []float32 // a buffer of our own that repack may reuse
}

// Impl is one complete kernel set: the float32 GEMM and element-wise
// kernels of one instruction set, and the int8 micro-kernel its linear
// layers use with quantized weights. Impls are built once (the registered
// ones at package initialisation, variants by WithInt8Kernel) and never
// changed after, so one can be shared by any number of models.
type Impl struct {
	name      string // what DISTILBERT_KERNELS selects, e.g. "generic" or "avx2"
	priority  int    // the highest supported implementation is the default
	supported func() bool

	// int8Prefs names the int8 micro-kernels this set prefers, best first;
	// the first one this CPU runs is its default, the portable one if none.
	int8Prefs []string
	// qkernel is the int8 micro-kernel this Impl value runs.
	qkernel qKernel
	// peak, unless its run is nil, is the set's FMA loop for PeakGFLOPS.
	peak peakLoop

	// panel is the column granularity of gemm: chunks of a parallel Linear
	// start on multiples of it.
	panel int
	// pack lays out the [out][in] matrix W for gemm, where W[o][i] is
	// w[o*ld+i], or w[i*ld+o] when transposed. It reuses dst when large
	// enough and may return w itself (untransposed, ld == in).
	pack func(dst, w []float32, out, in, ld int, transposed bool) []float32
	// packA packs row groups g0…g1-1 of x ([m][in], rows ldx apart) into
	// a, which holds all ⌈m/aRows⌉ groups laid out for gemm (see
	// packGroupRange; aSlice(m) is the K slice of that layout), so that ranges
	// of groups pack independently. With aRows == 0 there is no packA:
	// gemm reads x as it is.
	packA  func(a, x []float32, m, in, ldx, g0, g1 int)
	aRows  int
	aSlice func(m int) int
	// gemm computes dst[:, c0:c1] = ep(A · W[c0:c1]ᵀ) for all m rows, A as
	// returned by packA (rows lda apart if not repacked), dst rows ldd
	// apart. ep (bias, activation; nil for none) may be applied block by
	// block as soon as a block's sums are final, while it is still in cache.
	gemm func(dst []float32, ldd int, a []float32, lda, m int, w *Matrix, c0, c1 int, ep *epilogue)

	dot          func(a, b []float32) float32
	axpy         func(alpha float32, x, y []float32)
	addLayerNorm func(x, residual []float32, n int, gamma, beta []float32, eps float32)
	softmax      func(x []float32)
	gelu         func(x []float32)
}

// newImpl completes a registered implementation: its default int8 kernel
// is the first of its preferences that this CPU runs.
func newImpl(im Impl) *Impl {
	im.qkernel = qKernelGo
	for _, name := range im.int8Prefs {
		if k, ok := lookupInt8(name); ok && k.supported() {
			im.qkernel = k.kind
			break
		}
	}
	return &im
}

// Name is the implementation's name, as DISTILBERT_KERNELS selects it.
func (im *Impl) Name() string { return im.name }

// Supported reports whether this CPU can run the implementation.
func (im *Impl) Supported() bool { return im.supported() }

// Dot returns Σ a[i]·b[i] over len(a) elements (len(b) ≥ len(a)).
func (im *Impl) Dot(a, b []float32) float32 { return im.dot(a, b) }

// Axpy computes y[i] += alpha·x[i] over len(x) elements.
func (im *Impl) Axpy(alpha float32, x, y []float32) { im.axpy(alpha, x, y) }

// AddLayerNorm computes x = LayerNorm(x + residual) row by row for rows of
// n elements; residual may be nil.
func (im *Impl) AddLayerNorm(x, residual []float32, n int, gamma, beta []float32, eps float32) {
	im.addLayerNorm(x, residual, n, gamma, beta, eps)
}

// Softmax normalises x in place: x[i] = exp(x[i]-max) / Σ.
func (im *Impl) Softmax(x []float32) { im.softmax(x) }

// GELU applies exact erf GELU in place.
func (im *Impl) GELU(x []float32) { im.gelu(x) }

// Pack prepares a [out][in] row-major weight matrix for Linear.
func (im *Impl) Pack(w []float32, out, in int) (*Matrix, error) {
	if out <= 0 || in <= 0 || len(w) != out*in {
		return nil, fmt.Errorf("kernels: pack: %d values for a %dx%d matrix", len(w), out, in)
	}
	return &Matrix{Out: out, In: in, impl: im.name, data: im.pack(nil, w, out, in, in, false)}, nil
}

// repack fills mat (reusing its buffer) with W[o][i] = w[o*ld+i], or
// w[i*ld+o] when transposed: attention packs per-head slices of K and V
// this way without copying them out first.
func (im *Impl) repack(mat *Matrix, w []float32, out, in, ld int, transposed bool) {
	mat.Out, mat.In, mat.impl = out, in, im.name
	mat.data = im.pack(mat.own[:0], w, out, in, ld, transposed)
	keepBuffer(&mat.own, mat.data, w)
}

// keepBuffer remembers got as a reusable scratch buffer unless it is the
// caller's input returned as is: packers may return their input instead of
// a copy, and such an alias must never be written to later.
func keepBuffer(buf *[]float32, got, input []float32) {
	if len(got) > 0 && len(input) > 0 && &got[0] == &input[0] {
		return
	}
	if cap(got) > cap(*buf) {
		*buf = got
	}
}

// Weights is the weight operand of a linear layer, W[out][in] in
// checkpoint terms, prepared once at load: float32 panels (*Matrix, from
// Impl.Pack) or int8 per-channel (*QMatrix, from QuantizeMatrix). Both go
// through the same driver (LinearMany): the operand decides only how the
// input is laid out for it (packed or quantized) and which micro-kernels
// multiply a column chunk.
type Weights interface {
	// Dims returns out and in.
	Dims() (out, in int)
	// prepare lays x ([m][in]) out for this operand's kernels into in.
	prepare(im *Impl, in *linearInput, x []float32, m int, parallel bool)
	// multiply computes dst[:, c0:c1] = ep(x · W[c0:c1]ᵀ) from the input
	// prepare laid out; c0 is on a chunkCols boundary.
	multiply(im *Impl, dst []float32, in *linearInput, m, c0, c1 int, ep *epilogue)
	// chunkCols is the column granularity of chunks (the kernels' panel).
	chunkCols(im *Impl) int
	// check panics unless im can multiply the operand.
	check(im *Impl)
}

// linearInput is a Linear input as one kind of operand reads it: packed
// float32 rows (a) or rows quantized to u8 with their scales (q). Its
// buffers are kept between calls.
type linearInput struct {
	a    []float32 // packed input, or x itself where gemm reads it unpacked
	abuf []float32 // a's buffer when a is a packed copy
	q    qInput
}

// Linear computes dst[m][out] = act(x[m][in] · Wᵀ + bias). bias may be
// nil. Shapes are checked; a mismatch is a programming error. Large
// products are split by output columns over the worker pool; each chunk
// adds its bias and applies the activation while its output is hot.
func (im *Impl) Linear(dst, x []float32, m int, w Weights, bias []float32, act Activation) {
	im.LinearMany(x, m, Product{Dst: dst, W: w, Bias: bias, Act: act})
}

// Product is one output of LinearMany: Dst[m][out] = Act(x · Wᵀ + Bias),
// Bias optional.
type Product struct {
	Dst  []float32
	W    Weights
	Bias []float32
	Act  Activation
}

// MaxProducts is the most products one LinearMany call takes.
const MaxProducts = 4

// LinearMany computes up to MaxProducts products of one input x ([m][in],
// in the same for every W, and every W of one kind: float32 or int8), as
// Linear each would, but lays x out once (packs or quantizes it) and
// spreads the column chunks of all of them over the worker pool in one
// call: a layer's keys, values and queries cost one input pass and one
// synchronisation instead of three, and the cores share out more chunks.
func (im *Impl) LinearMany(x []float32, m int, ps ...Product) {
	if len(ps) == 0 || len(ps) > MaxProducts {
		panic(fmt.Sprintf("kernels: LinearMany takes 1 to %d products, got %d", MaxProducts, len(ps)))
	}
	_, in := ps[0].W.Dims()
	macs := 0
	for _, p := range ps {
		p.W.check(im)
		out, win := p.W.Dims()
		if win != in || len(x) < m*in || len(p.Dst) < m*out || (p.Bias != nil && len(p.Bias) != out) {
			panic(fmt.Sprintf("kernels: linear shapes: x %d, dst %d, bias %d for m=%d in=%d (first product's %d) out=%d",
				len(x), len(p.Dst), len(p.Bias), m, win, in, out))
		}
		if !sameKind(p.W, ps[0].W) {
			panic(fmt.Sprintf("kernels: LinearMany mixes %T and %T weights", ps[0].W, p.W))
		}
		macs += m * in * out
	}
	if m == 0 {
		return
	}
	parallel := worthSplitting(macs)
	t := linearTaskPool.Get()
	ps[0].W.prepare(im, &t.in, x[:m*in], m, parallel)
	t.im, t.m = im, m
	for i, p := range ps {
		out, _ := p.W.Dims()
		t.dst[i], t.ws[i], t.ep[i] = p.Dst, p.W, epilogue{im: im, bias: p.Bias, act: p.Act}
		t.chunks.add(out, p.W.chunkCols(im), parallel)
	}
	parallelFor(t.chunks.total(), t)
	t.release()
	linearTaskPool.Put(t)
}

// linearTask is one LinearMany call split into column chunks.
type linearTask struct {
	im     *Impl
	in     linearInput
	m      int
	dst    [MaxProducts][]float32
	ws     [MaxProducts]Weights
	ep     [MaxProducts]epilogue // here, not on run's stack: gemm would make it escape
	chunks productChunks
}

var linearTaskPool freelist.List[linearTask]

func (t *linearTask) run(c int) {
	i, c0, c1 := t.chunks.locate(c)
	t.ws[i].multiply(t.im, t.dst[i], &t.in, t.m, c0, c1, t.ep[i].active())
}

// release drops t's references to the call's data but keeps its input
// buffers for the next call.
func (t *linearTask) release() {
	in := t.in
	*t = linearTask{}
	t.in = linearInput{abuf: in.abuf, q: in.q}
}

// sameKind reports whether a and b are operands of the same kind, which
// one prepared input serves.
func sameKind(a, b Weights) bool {
	switch a.(type) {
	case *Matrix:
		_, ok := b.(*Matrix)
		return ok
	case *QMatrix:
		_, ok := b.(*QMatrix)
		return ok
	}
	return false
}

// Dims returns out and in.
func (w *Matrix) Dims() (out, in int) { return w.Out, w.In }

func (w *Matrix) check(im *Impl) {
	if w.impl != im.name {
		panic("kernels: matrix packed by " + w.impl + " used with " + im.name)
	}
}

func (w *Matrix) chunkCols(im *Impl) int { return im.panel }

func (w *Matrix) prepare(im *Impl, in *linearInput, x []float32, m int, parallel bool) {
	in.a = im.packInput(&in.abuf, x, m, w.In, parallel)
}

func (w *Matrix) multiply(im *Impl, dst []float32, in *linearInput, m, c0, c1 int, ep *epilogue) {
	im.gemm(dst, w.Out, in.a, w.In, m, w, c0, c1, ep)
}

// productChunks numbers the column chunks of several products (each split
// by splitColumns) 0, 1, … in one range for parallelFor.
type productChunks struct {
	splits [MaxProducts]columnChunks
	first  [MaxProducts + 1]int // product i has chunks first[i] … first[i+1]-1
	n      int
}

// add appends a product of out columns, split by splitColumns.
func (pc *productChunks) add(out, panel int, parallel bool) {
	pc.splits[pc.n] = splitColumns(out, panel, parallel)
	pc.first[pc.n+1] = pc.first[pc.n] + pc.splits[pc.n].chunks
	pc.n++
}

func (pc *productChunks) total() int { return pc.first[pc.n] }

// locate returns the product of chunk c and the chunk's columns in it.
func (pc *productChunks) locate(c int) (i, c0, c1 int) {
	for c >= pc.first[i+1] {
		i++
	}
	c0, c1 = pc.splits[i].cols(c - pc.first[i])
	return i, c0, c1
}

// columnChunks splits a product's out columns, whole panels of panel
// columns each, into chunks for the worker pool. Chunks shrink towards the
// product's end (guided self-scheduling): each of the first geometric takes
// 1/(2·threads) of the panels left, then single panels follow, so the cores
// finish within about a panel of each other, where equal chunks could
// leave one core idle for up to a whole chunk at the end of each call.
// The first chunks stay big because each chunk start restarts W's stream
// without a prefetch.
type columnChunks struct {
	out, panel, panels, chunks int
	geometric                  int     // chunks that take a share of what is left
	keep                       float64 // the share of the panels left that each of them leaves
}

// splitColumns makes one chunk, or with parallel enough for every thread
// to take several (they finish at different times).
func splitColumns(out, panel int, parallel bool) columnChunks {
	s := columnChunks{out: out, panel: panel, panels: (out + panel - 1) / panel, chunks: 1}
	if !parallel {
		return s
	}
	share := 2 * Threads()
	s.keep = 1 - 1/float64(share)
	for s.left(s.geometric) >= share {
		s.geometric++
	}
	s.chunks = s.geometric + s.left(s.geometric)
	return s
}

// left returns the panels not in the first c geometric chunks.
func (s columnChunks) left(c int) int {
	return int(math.Round(float64(s.panels) * math.Pow(s.keep, float64(c))))
}

// cols returns chunk c's columns c0…c1-1; c0 is on a panel boundary.
func (s columnChunks) cols(c int) (c0, c1 int) {
	var p0, p1 int
	switch {
	case s.chunks == 1:
		p0, p1 = 0, s.panels
	case c < s.geometric:
		p0, p1 = s.panels-s.left(c), s.panels-s.left(c+1)
	default:
		p0 = s.panels - s.left(s.geometric) + c - s.geometric
		p1 = p0 + 1
	}
	return p0 * s.panel, min(p1*s.panel, s.out)
}

// packInput packs x for gemm into *bufp (grown as needed). Large inputs
// are packed by the worker pool, a range of row groups each: done by the
// caller alone, packing a batch of thousands of rows is a serial stretch
// that leaves the other cores idle.
func (im *Impl) packInput(bufp *[]float32, x []float32, m, in int, parallel bool) []float32 {
	if im.aRows == 0 {
		return x
	}
	groups, chunks := inputChunks(m, in, im.aRows, parallel)
	if chunks < 2 {
		return im.packRows(bufp, x, m, in, in)
	}
	*bufp = grow(*bufp, groups*im.aRows*in)
	a := *bufp
	pt := packTaskPool.Get()
	*pt = packTask{im: im, a: a, x: x, m: m, in: in, groups: groups, chunks: chunks}
	parallelFor(chunks, pt)
	*pt = packTask{}
	packTaskPool.Put(pt)
	return a
}

// packRows packs x ([m][in], rows ldx apart) for gemm into *bufp (grown as
// needed), or returns x itself where gemm reads it unpacked (aRows == 0).
func (im *Impl) packRows(bufp *[]float32, x []float32, m, in, ldx int) []float32 {
	if im.aRows == 0 {
		return x
	}
	groups := (m + im.aRows - 1) / im.aRows
	*bufp = grow(*bufp, groups*im.aRows*in)
	im.packA(*bufp, x, m, in, ldx, 0, groups)
	return *bufp
}

// parallelMinPack is the smallest input (floats) packed in parallel.
const parallelMinPack = 1 << 16

// inputChunks returns the row groups of an m×in input in groups of rows,
// and how many chunks of them the worker pool packs or quantizes: fewer
// than 2 means the caller does it alone.
func inputChunks(m, in, rows int, parallel bool) (groups, chunks int) {
	groups = (m + rows - 1) / rows
	if !parallel || m*in < parallelMinPack {
		return groups, 1
	}
	return groups, min(groups, 4*Threads())
}

// chunkGroups returns chunk c's row groups g0…g1-1.
func chunkGroups(c, groups, chunks int) (g0, g1 int) {
	return c * groups / chunks, (c + 1) * groups / chunks
}

// packTask packs the row groups of one chunk of a Linear input.
type packTask struct {
	im                    *Impl
	a, x                  []float32
	m, in, groups, chunks int
}

var packTaskPool freelist.List[packTask]

func (t *packTask) run(c int) {
	g0, g1 := chunkGroups(c, t.groups, t.chunks)
	t.im.packA(t.a, t.x, t.m, t.in, t.in, g0, g1)
}

// parallelMinMACs is the smallest product worth splitting across cores
// (~10 µs of work): below it, waking workers costs more than it saves.
const parallelMinMACs = 1 << 18

// worthSplitting reports whether a product of macs multiply-adds goes to
// the worker pool.
func worthSplitting(macs int) bool { return Threads() > 1 && macs >= parallelMinMACs }

// epilogueCols is how many finished columns gather before the epilogue
// runs on them: per 16-column panel, the calls per row cost more than the
// cache misses they save.
const epilogueCols = 256

// epilogue is what a linear layer does to its sums: add bias (nil: none)
// and apply act, with im's kernels.
type epilogue struct {
	im   *Impl
	bias []float32
	act  Activation
}

// active returns e, or nil when it has nothing to do.
func (e *epilogue) active() *epilogue {
	if e.bias == nil && e.act == ActNone {
		return nil
	}
	return e
}

// apply finishes dst[r0:r1, c0:c1] (rows ldd apart); a nil epilogue does
// nothing. Every element gets the same operations whichever block it is
// in, so results do not depend on how a product was split.
func (e *epilogue) apply(dst []float32, ldd, r0, r1, c0, c1 int) {
	if e == nil {
		return
	}
	bias, act := e.bias, e.act
	for r := r0; r < r1; r++ {
		row := dst[r*ldd+c0 : r*ldd+c1]
		if bias != nil {
			e.im.Axpy(1, bias[c0:c1], row)
		}
		switch act {
		case ActGELU:
			e.im.GELU(row)
		case ActReLU:
			for i, v := range row {
				if v < 0 {
					row[i] = 0
				}
			}
		}
	}
}

// Aliases reports whether the packed matrix reads src's memory directly
// (no copy was made), so the caller must keep src alive and may not evict it.
func (w *Matrix) Aliases(src []float32) bool {
	return len(w.data) > 0 && len(src) > 0 && &w.data[0] == &src[0]
}
