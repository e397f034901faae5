package cuda

import (
	"fmt"
	"math"
)

// refDevice runs the engine's plan on the CPU, in plain Go, with cuBLAS's
// column-major GEMM semantics and the CUDA kernels' arithmetic (f16 and
// bf16 buffers hold values rounded as the GPU stores them). It is the
// executable specification of kernels.cu: the engine's orchestration is
// tested on it against the goldens where no GPU is at hand.
type refDevice struct {
	mem [][]float32 // allocations; ints are stored as exact float32 values
	// capacity, when positive, bounds the elements allocated at once, as a
	// GPU's memory does (tests of running out).
	capacity, used int
	// graphs replay the captured closure: it may only queue device work
	// on buffers, which is what makes a CUDA graph's replay correct too.
	graphs    map[graph]func() error
	nextGraph graph
}

func (r *refDevice) capture(queue func() error) (graph, error) {
	if r.graphs == nil {
		r.graphs = map[graph]func() error{}
	}
	r.nextGraph++
	r.graphs[r.nextGraph] = queue
	return r.nextGraph, nil
}

func (r *refDevice) launchGraph(g graph) error {
	queue, ok := r.graphs[g]
	if !ok {
		return fmt.Errorf("ref device: graph %d was dropped", g)
	}
	return queue()
}

func (r *refDevice) dropGraph(g graph) { delete(r.graphs, g) }

func (r *refDevice) alloc(n int, dt dtype) (buf, error) {
	if n <= 0 {
		n = 1
	}
	if r.capacity > 0 && r.used+n > r.capacity {
		return buf{}, fmt.Errorf("%w: %d elements, %d of %d in use", errDeviceMemory, n, r.used, r.capacity)
	}
	r.used += n
	r.mem = append(r.mem, make([]float32, n))
	return buf{ptr: uint64(len(r.mem) - 1), n: n, dt: dt}, nil
}

func (r *refDevice) free(b buf) {
	r.used -= len(r.mem[b.ptr])
	r.mem[b.ptr] = nil
}

// view is b's elements; it panics on a span outside the allocation, as the
// GPU would fault (or worse).
func (r *refDevice) view(b buf, n int) []float32 {
	m := r.mem[b.ptr]
	if m == nil || b.off < 0 || b.off+n > len(m) {
		panic(fmt.Sprintf("ref device: %d elements at %d of a %d-element buffer", n, b.off, len(m)))
	}
	return m[b.off : b.off+n]
}

// store writes v as buffer b's dtype holds it.
func store(dt dtype, v float32) float32 {
	switch dt {
	case f16:
		return roundF16(v)
	case bf16:
		return roundBF16(v)
	}
	return v
}

func (r *refDevice) uploadF32(dst buf, src []float32) error {
	copy(r.view(dst, len(src)), src)
	return nil
}

func (r *refDevice) uploadI32(dst buf, src []int32) error {
	d := r.view(dst, len(src))
	for i, v := range src {
		d[i] = float32(v)
	}
	return nil
}

func (r *refDevice) downloadF32(dst []float32, src buf) error {
	copy(dst, r.view(src, len(dst)))
	return nil
}

// gemm is cuBLAS GemmEx: column-major, element (i, j) of an m×n matrix with
// leading dimension ld at i + j·ld, op(A) = Aᵀ when transA.
func (r *refDevice) gemm(g gemm) error {
	// Element (i, l) of op(A) is at a[i·ai + l·al]; (l, j) of op(B) at b[l·bl + j·bj].
	ai, al := 1, g.lda
	if g.transA {
		ai, al = g.lda, 1
	}
	bl, bj := 1, g.ldb
	if g.transB {
		bl, bj = g.ldb, 1
	}
	for bi := range g.batch {
		a := r.mem[g.a.ptr][g.a.off+bi*g.strideA:]
		b := r.mem[g.b.ptr][g.b.off+bi*g.strideB:]
		c := r.view(g.c.at(bi*g.strideC), (g.n-1)*g.ldc+g.m)
		for j := range g.n {
			for i := range g.m {
				var sum float32
				if al == 1 && bl == 1 { // the linears' case: two contiguous rows
					ar, br := a[i*ai:i*ai+g.k], b[j*bj:j*bj+g.k]
					for l, v := range ar {
						sum += v * br[l]
					}
				} else {
					for l := range g.k {
						sum += a[i*ai+l*al] * b[l*bl+j*bj]
					}
				}
				c[i+j*g.ldc] = store(g.c.dt, sum)
			}
		}
	}
	return nil
}

func (r *refDevice) convert(dst, src buf, n int) error {
	d, s := r.view(dst, n), r.view(src, n)
	for i := range d {
		d[i] = store(dst.dt, s[i])
	}
	return nil
}

// layerNorm normalizes row in place as kernels.cu's block reduction does:
// the mean, then the mean squared deviation.
func layerNorm(row, gamma, beta []float32, eps float32) {
	var sum float32
	for _, v := range row {
		sum += v
	}
	mean := sum / float32(len(row))
	var sq float32
	for _, v := range row {
		sq += (v - mean) * (v - mean)
	}
	inv := 1 / float32(math.Sqrt(float64(sq/float32(len(row))+eps)))
	for j, v := range row {
		row[j] = (v-mean)*inv*gamma[j] + beta[j]
	}
}

func (r *refDevice) embed(x, xg, ids, word, pos, gamma, beta buf, tokens, seqLen, dim int, eps float32) error {
	xs, xgs, is := r.view(x, tokens*dim), r.view(xg, tokens*dim), r.view(ids, tokens)
	w, p := r.mem[word.ptr][word.off:], r.mem[pos.ptr][pos.off:]
	ga, be := r.view(gamma, dim), r.view(beta, dim)
	for t := range tokens {
		id, l := int(is[t]), t%seqLen
		row := xs[t*dim : t*dim+dim]
		for j := range row {
			row[j] = w[id*dim+j] + p[l*dim+j]
		}
		layerNorm(row, ga, be, eps)
		for j, v := range row {
			xgs[t*dim+j] = store(xg.dt, v)
		}
	}
	return nil
}

func (r *refDevice) qkvSplit(q, k, v, qkv, bias buf, tokens, seqLen, heads, headDim int) error {
	dim := heads * headDim
	src, bs := r.view(qkv, tokens*3*dim), r.view(bias, 3*dim)
	dst := [3][]float32{r.view(q, tokens*dim), r.view(k, tokens*dim), r.view(v, tokens*dim)}
	for t := range tokens {
		b, l := t/seqLen, t%seqLen
		for j := range 3 * dim {
			which, within := j/dim, j%dim
			h, e := within/headDim, within%headDim
			dst[which][((b*heads+h)*seqLen+l)*headDim+e] = store(q.dt, src[t*3*dim+j]+bs[j])
		}
	}
	return nil
}

func (r *refDevice) softmax(p, s, mask buf, rows, heads, seqLen int) error {
	ps, ss := r.view(p, rows*seqLen), r.view(s, rows*seqLen)
	ms := r.view(mask, rows/heads/seqLen*seqLen)
	for row := range rows {
		b := row / (heads * seqLen)
		keep := ms[b*seqLen : b*seqLen+seqLen]
		in, out := ss[row*seqLen:row*seqLen+seqLen], ps[row*seqLen:row*seqLen+seqLen]
		m := float32(math.Inf(-1))
		for j, v := range in {
			if keep[j] != 0 {
				m = max(m, v)
			}
		}
		var sum float32
		for j, v := range in {
			if keep[j] != 0 {
				sum += float32(math.Exp(float64(v - m)))
			}
		}
		for j, v := range in {
			out[j] = 0
			if keep[j] != 0 {
				out[j] = store(p.dt, float32(math.Exp(float64(v-m)))/sum)
			}
		}
	}
	return nil
}

func (r *refDevice) mergeHeads(out, ctx buf, tokens, seqLen, heads, headDim int) error {
	dim := heads * headDim
	o, c := r.view(out, tokens*dim), r.view(ctx, tokens*dim)
	for t := range tokens {
		b, l := t/seqLen, t%seqLen
		for j := range dim {
			h, e := j/headDim, j%headDim
			o[t*dim+j] = store(out.dt, c[((b*heads+h)*seqLen+l)*headDim+e])
		}
	}
	return nil
}

func (r *refDevice) addNorm(x, xg, y, bias, gamma, beta buf, tokens, dim int, eps float32) error {
	xs, xgs, ys := r.view(x, tokens*dim), r.view(xg, tokens*dim), r.view(y, tokens*dim)
	bs, ga, be := r.view(bias, dim), r.view(gamma, dim), r.view(beta, dim)
	for t := range tokens {
		row := xs[t*dim : t*dim+dim]
		for j := range row {
			row[j] += ys[t*dim+j] + bs[j]
		}
		layerNorm(row, ga, be, eps)
		for j, v := range row {
			xgs[t*dim+j] = store(xg.dt, v)
		}
	}
	return nil
}

func (r *refDevice) biasAct(h, bias buf, tokens, width int, gelu bool) error {
	hs, bs := r.view(h, tokens*width), r.view(bias, width)
	for i := range hs {
		v := hs[i] + bs[i%width]
		if gelu {
			v = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
		} else {
			v = max(v, 0)
		}
		hs[i] = store(h.dt, v)
	}
	return nil
}

func (r *refDevice) clsGather(cls, x buf, batch, seqLen, dim int) error {
	cs, xs := r.view(cls, batch*dim), r.view(x, batch*seqLen*dim)
	for b := range batch {
		copy(cs[b*dim:b*dim+dim], xs[b*seqLen*dim:])
	}
	return nil
}

func (r *refDevice) head(logits, pooled, preBias, w, bias buf, batch, dim, labels int) error {
	ls, ps := r.view(logits, batch*labels), r.view(pooled, batch*dim)
	pb, ws, bs := r.view(preBias, dim), r.view(w, labels*dim), r.view(bias, labels)
	for b := range batch {
		for c := range labels {
			var sum float32
			for j := range dim {
				sum += max(ps[b*dim+j]+pb[j], 0) * ws[c*dim+j]
			}
			ls[b*labels+c] = sum + bs[c]
		}
	}
	return nil
}

func (r *refDevice) sync() error  { return nil }
func (r *refDevice) close() error { r.mem = nil; return nil }

// roundF16 rounds v to the nearest IEEE half (ties to even), as cvt.rn.f16.f32.
func roundF16(v float32) float32 {
	return f16ToF32(f32ToF16(v))
}

func f32ToF16(v float32) uint16 {
	b := math.Float32bits(v)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff > 0x7f800000: // NaN
		return sign | 0x7e00
	case exp >= 31: // overflow or Inf
		return sign | 0x7c00
	case exp <= 0: // subnormal half, or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to Inf: still right
	}
	return sign | uint16(h)
}

func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		// zero or subnormal: mant · 2⁻²⁴
		f := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(f) | sign)
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// roundBF16 rounds v to bfloat16 (ties to even), as kernels.cu's to_bf16.
func roundBF16(v float32) float32 {
	b := math.Float32bits(v)
	if b&0x7fffffff > 0x7f800000 {
		return math.Float32frombits(0x7fc00000)
	}
	b += 0x7fff + (b>>16)&1
	return math.Float32frombits(b &^ 0xffff)
}
