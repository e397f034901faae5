// The GPU engine's own kernels: everything of the forward pass that is not
// a GEMM (those run in cuBLAS). Compiled at start-up by NVRTC for the GPU
// at hand, so it uses no header: NVRTC declares the math functions (erff,
// expf, rsqrtf) and the warp intrinsics itself. Each kernel's Go twin in
// ref.go is its specification; keep the two in step.
//
// Every kernel comes in three variants, _f32, _f16 and _bf16, for the
// precision the linear layers multiply in ("G" below): activations that
// feed a GEMM are stored as G, everything else (the residual stream, GEMM
// outputs, LayerNorm statistics) stays float32.

typedef unsigned short u16;

struct F32 {
	typedef float T;
	static __device__ __forceinline__ float store(float x) { return x; }
	static __device__ __forceinline__ float load(float x) { return x; }
};

struct F16 {
	typedef u16 T;
	static __device__ __forceinline__ u16 store(float x) {
		u16 r;
		asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(x));
		return r;
	}
	static __device__ __forceinline__ float load(u16 h) {
		float f;
		asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
		return f;
	}
};

// bfloat16 by integer rounding (ties to even), so it needs no sm_80 cvt.
struct BF16 {
	typedef u16 T;
	static __device__ __forceinline__ u16 store(float x) {
		unsigned u = __float_as_uint(x);
		if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
		u += 0x7fffu + ((u >> 16) & 1u);
		return (u16)(u >> 16);
	}
	static __device__ __forceinline__ float load(u16 h) { return __uint_as_float((unsigned)h << 16); }
};

// blockSum returns the sum of v over the block (blockDim.x a multiple of
// 32, at most 1024) to every thread. red holds 32 floats of shared memory.
__device__ __forceinline__ float blockSum(float v, float *red) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
	__syncthreads(); // red may still be read by a previous call
	if (lane == 0) red[warp] = v;
	__syncthreads();
	v = lane < warps ? red[lane] : 0.f;
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

// normRow: row (dim floats in shared memory) = LayerNorm(row)·gamma + beta,
// written to x (float32) and xg (G). Mean first, then the mean squared
// deviation, as PyTorch.
template <class G>
__device__ void normRow(float *row, float *red, float *x, typename G::T *xg, const float *gamma,
	const float *beta, int dim, float eps) {
	float s = 0.f;
	for (int j = threadIdx.x; j < dim; j += blockDim.x) s += row[j];
	float mean = blockSum(s, red) / dim;
	float q = 0.f;
	for (int j = threadIdx.x; j < dim; j += blockDim.x) {
		float d = row[j] - mean;
		q += d * d;
	}
	float inv = 1.f / sqrtf(blockSum(q, red) / dim + eps);
	for (int j = threadIdx.x; j < dim; j += blockDim.x) {
		float v = (row[j] - mean) * inv * gamma[j] + beta[j];
		x[j] = v;
		xg[j] = G::store(v);
	}
}

// embed: one block per token; dynamic shared memory holds the row.
template <class G>
__device__ void embed(float *x, typename G::T *xg, const int *ids, const float *word, const float *pos,
	const float *gamma, const float *beta, int seqLen, int dim, float eps) {
	extern __shared__ float row[];
	__shared__ float red[32];
	long t = blockIdx.x;
	const float *w = word + (long)ids[t] * dim, *p = pos + (t % seqLen) * (long)dim;
	for (int j = threadIdx.x; j < dim; j += blockDim.x) row[j] = w[j] + p[j];
	__syncthreads();
	normRow<G>(row, red, x + t * dim, xg + t * dim, gamma, beta, dim, eps);
}

// addNorm: one block per token: x = LayerNorm(y + bias + x).
template <class G>
__device__ void addNorm(float *x, typename G::T *xg, const typename G::T *y, const float *bias, const float *gamma,
	const float *beta, int dim, float eps) {
	extern __shared__ float row[];
	__shared__ float red[32];
	long t = blockIdx.x;
	for (int j = threadIdx.x; j < dim; j += blockDim.x) row[j] = x[t * dim + j] + (G::load(y[t * dim + j]) + bias[j]);
	__syncthreads();
	normRow<G>(row, red, x + t * dim, xg + t * dim, gamma, beta, dim, eps);
}

// The elementwise kernels run on a grid of (row chunks, tokens): blockIdx.y
// is the token, so no thread divides a 64-bit index (slow on a GPU).

// qkvSplit: one thread per element of qkv [tokens, 3·dim].
template <class G>
__device__ void qkvSplit(typename G::T *q, typename G::T *k, typename G::T *v, const typename G::T *qkv,
	const float *bias, int seqLen, int heads, int headDim) {
	int dim = heads * headDim, j = blockIdx.x * blockDim.x + threadIdx.x, t = blockIdx.y;
	if (j >= 3 * dim) return;
	int which = j / dim, within = j - which * dim;
	int h = within / headDim, e = within - h * headDim;
	int b = t / seqLen, l = t - b * seqLen;
	typename G::T *dst = which == 0 ? q : which == 1 ? k : v;
	dst[((long)(b * heads + h) * seqLen + l) * headDim + e] = G::store(G::load(qkv[(long)t * 3 * dim + j]) + bias[j]);
}

// The vector forms of qkvSplit, mergeHeads and biasAct move 16 bytes per
// thread (8 halves or 4 floats): one 2-byte access per thread leaves too
// few bytes in flight to reach the memory's bandwidth. They need rows
// (and, for the head layouts, headDim) a multiple of the vector's length,
// which the host checks; the scalar forms take any shape.
template <class G> struct alignas(16) Pack {
	enum { N = 16 / sizeof(typename G::T) };
	typename G::T v[N];
};

template <class G>
__device__ void qkvSplitVec(typename G::T *q, typename G::T *k, typename G::T *v, const typename G::T *qkv,
	const float *bias, int seqLen, int heads, int headDim) {
	const int N = Pack<G>::N;
	int dim = heads * headDim, j = (blockIdx.x * blockDim.x + threadIdx.x) * N, t = blockIdx.y;
	if (j >= 3 * dim) return;
	int which = j / dim, within = j - which * dim;
	int h = within / headDim, e = within - h * headDim;
	int b = t / seqLen, l = t - b * seqLen;
	Pack<G> in = *(const Pack<G> *)(qkv + (long)t * 3 * dim + j), out;
	for (int u = 0; u < N; u++) out.v[u] = G::store(G::load(in.v[u]) + bias[j + u]);
	typename G::T *dst = which == 0 ? q : which == 1 ? k : v;
	*(Pack<G> *)(dst + ((long)(b * heads + h) * seqLen + l) * headDim + e) = out;
}

template <class G>
__device__ void mergeHeadsVec(typename G::T *out, const typename G::T *ctx, int seqLen, int heads, int headDim) {
	const int N = Pack<G>::N;
	int dim = heads * headDim, j = (blockIdx.x * blockDim.x + threadIdx.x) * N, t = blockIdx.y;
	if (j >= dim) return;
	int b = t / seqLen, l = t - b * seqLen, h = j / headDim, e = j - h * headDim;
	*(Pack<G> *)(out + (long)t * dim + j) = *(const Pack<G> *)(ctx + ((long)(b * heads + h) * seqLen + l) * headDim + e);
}

template <class G>
__device__ void biasActVec(typename G::T *h, const float *bias, int width, int gelu) {
	const int N = Pack<G>::N;
	int j = (blockIdx.x * blockDim.x + threadIdx.x) * N;
	if (j >= width) return;
	Pack<G> *p = (Pack<G> *)(h + (long)blockIdx.y * width + j);
	Pack<G> x = *p;
	for (int u = 0; u < N; u++) {
		float v = G::load(x.v[u]) + bias[j + u];
		v = gelu ? 0.5f * v * (1.f + erff(v * 0.70710678118654752f)) : fmaxf(v, 0.f);
		x.v[u] = G::store(v);
	}
	*p = x;
}

// softmax: one warp per row of s [rows, seqLen]; keys whose mask is 0 get
// probability 0.
template <class G>
__device__ void softmax(typename G::T *p, const float *s, const int *mask, int rows, int heads, int seqLen) {
	int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
	if (row >= rows) return;
	const float *in = s + (long)row * seqLen;
	typename G::T *out = p + (long)row * seqLen;
	const int *keep = mask + (long)(row / (heads * seqLen)) * seqLen;
	float m = -__int_as_float(0x7f800000);
	for (int j = lane; j < seqLen; j += 32)
		if (keep[j]) m = fmaxf(m, in[j]);
	for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
	float sum = 0.f;
	for (int j = lane; j < seqLen; j += 32)
		if (keep[j]) sum += expf(in[j] - m);
	for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
	float inv = 1.f / sum;
	for (int j = lane; j < seqLen; j += 32) out[j] = G::store(keep[j] ? expf(in[j] - m) * inv : 0.f);
}

// mergeHeads: one thread per element of out [tokens, dim].
template <class G>
__device__ void mergeHeads(typename G::T *out, const typename G::T *ctx, int seqLen, int heads, int headDim) {
	int dim = heads * headDim, j = blockIdx.x * blockDim.x + threadIdx.x, t = blockIdx.y;
	if (j >= dim) return;
	int b = t / seqLen, l = t - b * seqLen, h = j / headDim, e = j - h * headDim;
	out[(long)t * dim + j] = ctx[((long)(b * heads + h) * seqLen + l) * headDim + e];
}

// biasAct: one thread per element of h [tokens, width], in place; GELU is
// the exact erf form.
template <class G>
__device__ void biasAct(typename G::T *h, const float *bias, int width, int gelu) {
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= width) return;
	long i = (long)blockIdx.y * width + j;
	float v = G::load(h[i]) + bias[j];
	v = gelu ? 0.5f * v * (1.f + erff(v * 0.70710678118654752f)) : fmaxf(v, 0.f);
	h[i] = G::store(v);
}

// convert: one thread per element.
template <class G>
__device__ void convert(typename G::T *dst, const float *src, long n) {
	long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) dst[i] = G::store(src[i]);
}

#define VARIANTS(name, params, args)                                              \
	extern "C" __global__ void name##_f32 params { name<F32> args; }           \
	extern "C" __global__ void name##_f16 params { name<F16> args; }           \
	extern "C" __global__ void name##_bf16 params { name<BF16> args; }

// The variants take G-typed pointers as void*, cast in each call.
#define GP(p) (typename G::T *)(p)

template <class G>
__device__ void embedV(float *x, void *xg, const int *ids, const float *word, const float *pos,
	const float *gamma, const float *beta, int seqLen, int dim, float eps) {
	embed<G>(x, GP(xg), ids, word, pos, gamma, beta, seqLen, dim, eps);
}
template <class G>
__device__ void addNormV(float *x, void *xg, const void *y, const float *bias, const float *gamma,
	const float *beta, int dim, float eps) {
	addNorm<G>(x, GP(xg), GP(y), bias, gamma, beta, dim, eps);
}
template <class G>
__device__ void qkvSplitV(void *q, void *k, void *v, const void *qkv, const float *bias, int seqLen, int heads,
	int headDim) {
	qkvSplit<G>(GP(q), GP(k), GP(v), GP(qkv), bias, seqLen, heads, headDim);
}
template <class G>
__device__ void qkvSplitVecV(void *q, void *k, void *v, const void *qkv, const float *bias, int seqLen, int heads,
	int headDim) {
	qkvSplitVec<G>(GP(q), GP(k), GP(v), GP(qkv), bias, seqLen, heads, headDim);
}
template <class G>
__device__ void mergeHeadsVecV(void *out, const void *ctx, int seqLen, int heads, int headDim) {
	mergeHeadsVec<G>(GP(out), GP(ctx), seqLen, heads, headDim);
}
template <class G>
__device__ void biasActVecV(void *h, const float *bias, int width, int gelu) {
	biasActVec<G>(GP(h), bias, width, gelu);
}
template <class G>
__device__ void softmaxV(void *p, const float *s, const int *mask, int rows, int heads, int seqLen) {
	softmax<G>(GP(p), s, mask, rows, heads, seqLen);
}
template <class G>
__device__ void mergeHeadsV(void *out, const void *ctx, int seqLen, int heads, int headDim) {
	mergeHeads<G>(GP(out), GP(ctx), seqLen, heads, headDim);
}
template <class G>
__device__ void biasActV(void *h, const float *bias, int width, int gelu) {
	biasAct<G>(GP(h), bias, width, gelu);
}
template <class G>
__device__ void convertV(void *dst, const float *src, long n) {
	convert<G>(GP(dst), src, n);
}

VARIANTS(embedV, (float *x, void *xg, const int *ids, const float *word, const float *pos, const float *gamma,
	const float *beta, int seqLen, int dim, float eps), (x, xg, ids, word, pos, gamma, beta, seqLen, dim, eps))
VARIANTS(addNormV, (float *x, void *xg, const void *y, const float *bias, const float *gamma, const float *beta,
	int dim, float eps), (x, xg, y, bias, gamma, beta, dim, eps))
VARIANTS(qkvSplitV, (void *q, void *k, void *v, const void *qkv, const float *bias, int seqLen, int heads,
	int headDim), (q, k, v, qkv, bias, seqLen, heads, headDim))
VARIANTS(softmaxV, (void *p, const float *s, const int *mask, int rows, int heads, int seqLen),
	(p, s, mask, rows, heads, seqLen))
VARIANTS(mergeHeadsV, (void *out, const void *ctx, int seqLen, int heads, int headDim),
	(out, ctx, seqLen, heads, headDim))
VARIANTS(biasActV, (void *h, const float *bias, int width, int gelu), (h, bias, width, gelu))
VARIANTS(qkvSplitVecV, (void *q, void *k, void *v, const void *qkv, const float *bias, int seqLen, int heads,
	int headDim), (q, k, v, qkv, bias, seqLen, heads, headDim))
VARIANTS(mergeHeadsVecV, (void *out, const void *ctx, int seqLen, int heads, int headDim),
	(out, ctx, seqLen, heads, headDim))
VARIANTS(biasActVecV, (void *h, const float *bias, int width, int gelu), (h, bias, width, gelu))
VARIANTS(convertV, (void *dst, const float *src, long n), (dst, src, n))

// clsGather: one block per sequence copies its first row.
extern "C" __global__ void clsGather(float *cls, const float *x, int seqLen, int dim) {
	long b = blockIdx.x;
	for (int j = threadIdx.x; j < dim; j += blockDim.x) cls[b * dim + j] = x[b * seqLen * dim + j];
}

// head: one block per sequence: logits = ReLU(pooled + preBias)·Wᵀ + bias,
// one warp per label at a time.
extern "C" __global__ void head(float *logits, const float *pooled, const float *preBias, const float *w,
	const float *bias, int dim, int labels) {
	extern __shared__ float act[];
	long b = blockIdx.x;
	for (int j = threadIdx.x; j < dim; j += blockDim.x) act[j] = fmaxf(pooled[b * dim + j] + preBias[j], 0.f);
	__syncthreads();
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
	for (int c = warp; c < labels; c += warps) {
		float s = 0.f;
		for (int j = lane; j < dim; j += 32) s += act[j] * w[(long)c * dim + j];
		for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
		if (lane == 0) logits[b * labels + c] = s + bias[c];
	}
}
