//go:build cuda

#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(dbg_gpu *g, const char *what, int code) {
	snprintf(g->err, sizeof g->err, "%s (error %d)", what, code);
	return -1;
}

static int cu_fail(dbg_gpu *g, const char *what, CUresult r) {
	const char *s = NULL;
	if (g->cuGetErrorString) g->cuGetErrorString(r, &s);
	snprintf(g->err, sizeof g->err, "%s: %s (CUresult %d)", what, s ? s : "unknown error", r);
	g->result = r;
	return -1;
}

#define CU(call, what)                                                                                           \
	do {                                                                                                     \
		CUresult r_ = (call);                                                                            \
		if (r_ != 0) return cu_fail(g, what, r_);                                                        \
	} while (0)

// open_first dlopens the first of names (separated by ':') that loads, or
// sets g->err naming every one tried.
static void *open_first(dbg_gpu *g, const char *names) {
	char list[512], tried[768] = "";
	snprintf(list, sizeof list, "%s", names);
	const char *last = "";
	for (char *save = NULL, *n = strtok_r(list, ":", &save); n; n = strtok_r(NULL, ":", &save)) {
		void *h = dlopen(n, RTLD_NOW | RTLD_LOCAL);
		if (h) return h;
		const char *e = dlerror();
		last = e ? e : "";
		strncat(tried, tried[0] ? ", " : "", sizeof tried - strlen(tried) - 1);
		strncat(tried, n, sizeof tried - strlen(tried) - 1);
	}
	snprintf(g->err, sizeof g->err, "none of %s could be loaded (last: %s)", tried, last);
	return NULL;
}

static int sym(dbg_gpu *g, void *lib, void **dst, const char *name) {
	*dst = dlsym(lib, name);
	if (!*dst) {
		snprintf(g->err, sizeof g->err, "symbol %s not found", name);
		return -1;
	}
	return 0;
}

#define SYM(lib, field, name)                                                                                    \
	if (sym(g, g->lib, (void **)&g->field, name)) return -1

int dbg_load_libs(dbg_gpu *g, const char *cuda_names, const char *blas_names, const char *nvrtc_names) {
	if (!(g->libcuda = open_first(g, cuda_names))) return -1;
	SYM(libcuda, cuGetErrorString, "cuGetErrorString");
	SYM(libcuda, cuInit, "cuInit");
	SYM(libcuda, cuDriverGetVersion, "cuDriverGetVersion");
	SYM(libcuda, cuDeviceGetCount, "cuDeviceGetCount");
	SYM(libcuda, cuDeviceGet, "cuDeviceGet");
	SYM(libcuda, cuDeviceGetName, "cuDeviceGetName");
	SYM(libcuda, cuDeviceTotalMem, "cuDeviceTotalMem_v2");
	SYM(libcuda, cuDeviceGetAttribute, "cuDeviceGetAttribute");
	SYM(libcuda, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
	SYM(libcuda, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
	SYM(libcuda, cuCtxSetCurrent, "cuCtxSetCurrent");
	SYM(libcuda, cuStreamCreate, "cuStreamCreate");
	SYM(libcuda, cuStreamDestroy, "cuStreamDestroy_v2");
	SYM(libcuda, cuStreamSynchronize, "cuStreamSynchronize");
	SYM(libcuda, cuMemAlloc, "cuMemAlloc_v2");
	SYM(libcuda, cuMemFree, "cuMemFree_v2");
	SYM(libcuda, cuMemAllocHost, "cuMemAllocHost_v2");
	SYM(libcuda, cuMemFreeHost, "cuMemFreeHost");
	SYM(libcuda, cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
	SYM(libcuda, cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
	SYM(libcuda, cuModuleLoadData, "cuModuleLoadData");
	SYM(libcuda, cuModuleUnload, "cuModuleUnload");
	SYM(libcuda, cuModuleGetFunction, "cuModuleGetFunction");
	SYM(libcuda, cuLaunchKernel, "cuLaunchKernel");
	SYM(libcuda, cuStreamBeginCapture, "cuStreamBeginCapture_v2");
	SYM(libcuda, cuStreamEndCapture, "cuStreamEndCapture");
	SYM(libcuda, cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags");
	SYM(libcuda, cuGraphLaunch, "cuGraphLaunch");
	SYM(libcuda, cuGraphExecDestroy, "cuGraphExecDestroy");
	SYM(libcuda, cuGraphDestroy, "cuGraphDestroy");

	if (!(g->libcublas = open_first(g, blas_names))) return -1;
	SYM(libcublas, cublasCreate, "cublasCreate_v2");
	SYM(libcublas, cublasDestroy, "cublasDestroy_v2");
	SYM(libcublas, cublasSetStream, "cublasSetStream_v2");
	SYM(libcublas, cublasGetVersion, "cublasGetVersion_v2");
	SYM(libcublas, cublasSetWorkspace, "cublasSetWorkspace_v2");
	SYM(libcublas, cublasSetMathMode, "cublasSetMathMode");
	SYM(libcublas, cublasGemmEx, "cublasGemmEx");
	SYM(libcublas, cublasGemmStridedBatchedEx, "cublasGemmStridedBatchedEx");

	if (!(g->libnvrtc = open_first(g, nvrtc_names))) return -1;
	SYM(libnvrtc, nvrtcVersion, "nvrtcVersion");
	SYM(libnvrtc, nvrtcCreateProgram, "nvrtcCreateProgram");
	SYM(libnvrtc, nvrtcCompileProgram, "nvrtcCompileProgram");
	SYM(libnvrtc, nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize");
	SYM(libnvrtc, nvrtcGetProgramLog, "nvrtcGetProgramLog");
	SYM(libnvrtc, nvrtcGetCUBINSize, "nvrtcGetCUBINSize");
	SYM(libnvrtc, nvrtcGetCUBIN, "nvrtcGetCUBIN");
	SYM(libnvrtc, nvrtcDestroyProgram, "nvrtcDestroyProgram");
	SYM(libnvrtc, nvrtcGetErrorString, "nvrtcGetErrorString");
	return 0;
}

int dbg_open(dbg_gpu *g, int ordinal, char *name, int name_len, size_t *mem, int *cc_major, int *cc_minor,
	int *sms, int *driver, int *blas_version) {
	CU(g->cuInit(0), "cuInit");
	CU(g->cuDriverGetVersion(driver), "cuDriverGetVersion");
	int count = 0;
	CU(g->cuDeviceGetCount(&count), "cuDeviceGetCount");
	if (ordinal < 0 || ordinal >= count) {
		snprintf(g->err, sizeof g->err, "device %d does not exist (%d CUDA devices)", ordinal, count);
		return -1;
	}
	CU(g->cuDeviceGet(&g->dev, ordinal), "cuDeviceGet");
	CU(g->cuDeviceGetName(name, name_len, g->dev), "cuDeviceGetName");
	CU(g->cuDeviceTotalMem(mem, g->dev), "cuDeviceTotalMem");
	CU(g->cuDeviceGetAttribute(cc_major, DBG_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, g->dev), "attribute");
	CU(g->cuDeviceGetAttribute(cc_minor, DBG_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, g->dev), "attribute");
	CU(g->cuDeviceGetAttribute(sms, DBG_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, g->dev), "attribute");
	CU(g->cuDevicePrimaryCtxRetain(&g->ctx, g->dev), "cuDevicePrimaryCtxRetain");
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuStreamCreate(&g->stream, DBG_CU_STREAM_NON_BLOCKING), "cuStreamCreate");
	int s = g->cublasCreate(&g->blas);
	if (s) return fail(g, "cublasCreate", s);
	if ((s = g->cublasSetStream(g->blas, g->stream))) return fail(g, "cublasSetStream", s);
	if ((s = g->cublasGetVersion(g->blas, blas_version))) return fail(g, "cublasGetVersion", s);
	// cuBLAS's recommended workspace on Hopper; given here, a captured
	// GEMM never allocates.
	const size_t ws = 32u << 20;
	CU(g->cuMemAlloc(&g->blas_ws, ws), "cuMemAlloc (cuBLAS workspace)");
	if ((s = g->cublasSetWorkspace(g->blas, (void *)g->blas_ws, ws))) return fail(g, "cublasSetWorkspace", s);
	// fp16/bf16 GEMMs reduce split-K partial sums in float32, not in their
	// output type (cuBLAS's default): closer to float32, at no measured cost.
	return dbg_set_math(g, DBG_CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
}

int dbg_set_math(dbg_gpu *g, int mode) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	int s = g->cublasSetMathMode(g->blas, mode);
	if (s) return fail(g, "cublasSetMathMode", s);
	return 0;
}

void dbg_nvrtc_version(dbg_gpu *g, int *major, int *minor) { g->nvrtcVersion(major, minor); }

int dbg_compile(dbg_gpu *g, const char *src, const char *arch, char **cubin, size_t *cubin_len) {
	nvrtcProgram prog;
	nvrtcResult r = g->nvrtcCreateProgram(&prog, src, "kernels.cu", 0, NULL, NULL);
	if (r) return fail(g, g->nvrtcGetErrorString(r), r);
	char archopt[64];
	snprintf(archopt, sizeof archopt, "--gpu-architecture=%s", arch);
	const char *opts[] = {archopt};
	r = g->nvrtcCompileProgram(prog, 1, opts);
	if (r) {
		size_t n = 0;
		g->nvrtcGetProgramLogSize(prog, &n);
		char *log = malloc(n + 1);
		if (log) {
			log[0] = 0;
			g->nvrtcGetProgramLog(prog, log);
			snprintf(g->err, sizeof g->err, "NVRTC %s: %s", g->nvrtcGetErrorString(r), log);
			free(log);
		}
		g->nvrtcDestroyProgram(&prog);
		return -1;
	}
	size_t n = 0;
	if ((r = g->nvrtcGetCUBINSize(prog, &n)) || n == 0 || !(*cubin = malloc(n)) ||
		(r = g->nvrtcGetCUBIN(prog, *cubin))) {
		g->nvrtcDestroyProgram(&prog);
		return fail(g, "nvrtcGetCUBIN", r);
	}
	*cubin_len = n;
	g->nvrtcDestroyProgram(&prog);
	return 0;
}

// dbg_load_module loads a cubin and looks up the kernels named in names
// (separated by ':'), in that order: fn[i] is the i-th name.
int dbg_load_module(dbg_gpu *g, const void *image, const char *names) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuModuleLoadData(&g->mod, image), "cuModuleLoadData");
	char list[2048];
	snprintf(list, sizeof list, "%s", names);
	g->nfn = 0;
	for (char *save = NULL, *n = strtok_r(list, ":", &save); n; n = strtok_r(NULL, ":", &save)) {
		if (g->nfn == DBG_MAX_FUNCS) return fail(g, "too many kernels", g->nfn);
		CUresult r = g->cuModuleGetFunction(&g->fn[g->nfn], g->mod, n);
		if (r) return cu_fail(g, n, r);
		g->nfn++;
	}
	return 0;
}

void dbg_close(dbg_gpu *g) {
	if (g->ctx) g->cuCtxSetCurrent(g->ctx);
	if (g->blas) g->cublasDestroy(g->blas);
	if (g->blas_ws) g->cuMemFree(g->blas_ws);
	if (g->mod) g->cuModuleUnload(g->mod);
	if (g->stream) g->cuStreamDestroy(g->stream);
	if (g->ctx) g->cuDevicePrimaryCtxRelease(g->dev);
	g->blas = NULL, g->mod = NULL, g->stream = NULL, g->ctx = NULL, g->blas_ws = 0;
	// The libraries stay loaded: unloading cuBLAS or the driver while
	// another engine uses them is not safe, and dlopen counts references.
}

int dbg_alloc(dbg_gpu *g, CUdeviceptr *p, size_t bytes) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuMemAlloc(p, bytes), "cuMemAlloc");
	return 0;
}

int dbg_free(dbg_gpu *g, CUdeviceptr p) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuMemFree(p), "cuMemFree");
	return 0;
}

int dbg_alloc_host(dbg_gpu *g, void **p, size_t bytes) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuMemAllocHost(p, bytes), "cuMemAllocHost");
	return 0;
}

int dbg_free_host(dbg_gpu *g, void *p) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuMemFreeHost(p), "cuMemFreeHost");
	return 0;
}

// dbg_upload copies pageable host memory in the engine's stream and waits.
// Not cuMemcpyHtoD: from pageable memory it may return before its DMA
// lands, ordered only against the legacy stream, so a kernel on our
// non-blocking stream (the fp16 conversion of the weights) could read the
// destination half written.
int dbg_upload(dbg_gpu *g, CUdeviceptr dst, const void *src, size_t bytes) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuMemcpyHtoDAsync(dst, src, bytes, g->stream), "cuMemcpyHtoDAsync");
	CU(g->cuStreamSynchronize(g->stream), "cuStreamSynchronize");
	return 0;
}

int dbg_upload_async(dbg_gpu *g, CUdeviceptr dst, const void *src, size_t bytes) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuMemcpyHtoDAsync(dst, src, bytes, g->stream), "cuMemcpyHtoDAsync");
	return 0;
}

int dbg_download(dbg_gpu *g, void *dst, CUdeviceptr src, size_t bytes) {
	if (dbg_sync(g)) return -1;
	CU(g->cuMemcpyDtoHAsync(dst, src, bytes, g->stream), "cuMemcpyDtoHAsync");
	return dbg_sync(g);
}

int dbg_download_async(dbg_gpu *g, void *dst, CUdeviceptr src, size_t bytes) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuMemcpyDtoHAsync(dst, src, bytes, g->stream), "cuMemcpyDtoHAsync");
	return 0;
}

int dbg_sync(dbg_gpu *g) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuStreamSynchronize(g->stream), "cuStreamSynchronize");
	return 0;
}

// dbg_launch launches kernel fn on the engine's stream. args holds one
// 8-byte slot per kernel parameter: a pointer, or a 32-bit int or float in
// the slot's low bytes (every CUDA platform is little-endian), which is
// where cuLaunchKernel reads a 4-byte parameter from.
int dbg_launch(dbg_gpu *g, int fn, unsigned gx, unsigned gy, unsigned bx, unsigned shmem, uint64_t *args, int nargs) {
	void *params[16];
	if (fn < 0 || fn >= g->nfn || nargs > 16) return fail(g, "bad launch", fn);
	for (int i = 0; i < nargs; i++) params[i] = &args[i];
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuLaunchKernel(g->fn[fn], gx, gy, 1, bx, 1, 1, shmem, g->stream, params, NULL), "cuLaunchKernel");
	return 0;
}

int dbg_gemm(dbg_gpu *g, int transa, int transb, int m, int n, int k, CUdeviceptr a, int atype, int lda,
	long long stride_a, CUdeviceptr b, int btype, int ldb, long long stride_b, CUdeviceptr c, int ctype, int ldc,
	long long stride_c, int batch, int compute) {
	const float one = 1.f, zero = 0.f;
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	int s;
	if (batch == 1)
		s = g->cublasGemmEx(g->blas, transa, transb, m, n, k, &one, (const void *)a, atype, lda, (const void *)b,
			btype, ldb, &zero, (void *)c, ctype, ldc, compute, DBG_CUBLAS_GEMM_DEFAULT);
	else
		s = g->cublasGemmStridedBatchedEx(g->blas, transa, transb, m, n, k, &one, (const void *)a, atype, lda,
			stride_a, (const void *)b, btype, ldb, stride_b, &zero, (void *)c, ctype, ldc, stride_c, batch,
			compute, DBG_CUBLAS_GEMM_DEFAULT);
	if (s) {
		snprintf(g->err, sizeof g->err, "cuBLAS GemmEx m=%d n=%d k=%d batch=%d types %d/%d/%d compute %d: status %d",
			m, n, k, batch, atype, btype, ctype, compute, s);
		return -1;
	}
	return 0;
}

// Relaxed capture: Go may run the capturing goroutine's C calls on
// different threads, which the other modes would treat as unsafe.
int dbg_begin_capture(dbg_gpu *g) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuStreamBeginCapture(g->stream, DBG_CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture");
	return 0;
}

int dbg_end_capture(dbg_gpu *g, CUgraphExec *exec) {
	CUgraph graph = NULL;
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuStreamEndCapture(g->stream, &graph), "cuStreamEndCapture");
	CUresult r = g->cuGraphInstantiateWithFlags(exec, graph, 0);
	g->cuGraphDestroy(graph);
	if (r) return cu_fail(g, "cuGraphInstantiateWithFlags", r);
	return 0;
}

// dbg_abort_capture ends a capture whose work failed to queue, keeping
// the first error.
int dbg_abort_capture(dbg_gpu *g) {
	CUgraph graph = NULL;
	g->cuCtxSetCurrent(g->ctx);
	if (g->cuStreamEndCapture(g->stream, &graph) == 0 && graph) g->cuGraphDestroy(graph);
	return 0;
}

int dbg_graph_launch(dbg_gpu *g, CUgraphExec exec) {
	CU(g->cuCtxSetCurrent(g->ctx), "cuCtxSetCurrent");
	CU(g->cuGraphLaunch(exec, g->stream), "cuGraphLaunch");
	return 0;
}

void dbg_graph_destroy(dbg_gpu *g, CUgraphExec exec) {
	g->cuCtxSetCurrent(g->ctx);
	g->cuGraphExecDestroy(exec);
}
