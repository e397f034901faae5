// The few CUDA driver, cuBLAS and NVRTC entry points the engine uses,
// declared here so that a build needs no CUDA toolkit: the libraries are
// dlopened at run time. The prototypes and enum values below were taken
// from cuda.h, cublas_api.h, library_types.h and nvrtc.h (CUDA 12 and 13,
// which agree on them); tools/baseline/gpu.sh compiles cudacheck.c against
// the real headers on a GPU machine to check them.
#ifndef DISTILBERT_CUDA_SHIM_H
#define DISTILBERT_CUDA_SHIM_H

#include <stddef.h>
#include <stdint.h>

typedef int CUresult;                  // CUDA_SUCCESS = 0
typedef int CUdevice;
typedef unsigned long long CUdeviceptr; // 64-bit on every platform CUDA supports
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef struct cublasContext *cublasHandle_t;
typedef int cublasStatus_t;            // CUBLAS_STATUS_SUCCESS = 0
typedef struct _nvrtcProgram *nvrtcProgram;
typedef int nvrtcResult;               // NVRTC_SUCCESS = 0

enum {
	DBG_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
	DBG_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
	DBG_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
	DBG_CUDA_ERROR_OUT_OF_MEMORY = 2,
	DBG_CU_STREAM_NON_BLOCKING = 1,
	DBG_CU_STREAM_CAPTURE_MODE_RELAXED = 2,
	DBG_CUBLAS_OP_N = 0,
	DBG_CUBLAS_OP_T = 1,
	DBG_CUDA_R_32F = 0,
	DBG_CUDA_R_16F = 2,
	DBG_CUDA_R_16BF = 14,
	DBG_CUBLAS_COMPUTE_32F = 68,
	DBG_CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
	DBG_CUBLAS_GEMM_DEFAULT = -1,
	DBG_CUBLAS_DEFAULT_MATH = 0,
	DBG_CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16,
};

enum { DBG_MAX_FUNCS = 64 };

// dbg_gpu is one engine's hold on a GPU: the libraries' entry points, a
// context, one stream, one cuBLAS handle and the kernels' module.
typedef struct dbg_gpu {
	void *libcuda, *libcublas, *libnvrtc;

	CUresult (*cuInit)(unsigned);
	CUresult (*cuDriverGetVersion)(int *);
	CUresult (*cuDeviceGetCount)(int *);
	CUresult (*cuDeviceGet)(CUdevice *, int);
	CUresult (*cuDeviceGetName)(char *, int, CUdevice);
	CUresult (*cuDeviceTotalMem)(size_t *, CUdevice);
	CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
	CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
	CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
	CUresult (*cuCtxSetCurrent)(CUcontext);
	CUresult (*cuStreamCreate)(CUstream *, unsigned);
	CUresult (*cuStreamDestroy)(CUstream);
	CUresult (*cuStreamSynchronize)(CUstream);
	CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
	CUresult (*cuMemFree)(CUdeviceptr);
	CUresult (*cuMemAllocHost)(void **, size_t);
	CUresult (*cuMemFreeHost)(void *);
	CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
	CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
	CUresult (*cuModuleLoadData)(CUmodule *, const void *);
	CUresult (*cuModuleUnload)(CUmodule);
	CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
	CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
		unsigned, CUstream, void **, void **);
	CUresult (*cuGetErrorString)(CUresult, const char **);
	CUresult (*cuStreamBeginCapture)(CUstream, int);
	CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
	CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph, unsigned long long);
	CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
	CUresult (*cuGraphExecDestroy)(CUgraphExec);
	CUresult (*cuGraphDestroy)(CUgraph);

	cublasStatus_t (*cublasCreate)(cublasHandle_t *);
	cublasStatus_t (*cublasDestroy)(cublasHandle_t);
	cublasStatus_t (*cublasSetStream)(cublasHandle_t, CUstream);
	cublasStatus_t (*cublasGetVersion)(cublasHandle_t, int *);
	cublasStatus_t (*cublasSetWorkspace)(cublasHandle_t, void *, size_t);
	cublasStatus_t (*cublasSetMathMode)(cublasHandle_t, int);
	cublasStatus_t (*cublasGemmEx)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int,
		int, const void *, int, int, const void *, void *, int, int, int, int);
	cublasStatus_t (*cublasGemmStridedBatchedEx)(cublasHandle_t, int, int, int, int, int, const void *,
		const void *, int, int, long long, const void *, int, int, long long, const void *, void *, int, int,
		long long, int, int, int);

	nvrtcResult (*nvrtcVersion)(int *, int *);
	nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram *, const char *, const char *, int, const char *const *,
		const char *const *);
	nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char *const *);
	nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t *);
	nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char *);
	nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t *);
	nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char *);
	nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram *);
	const char *(*nvrtcGetErrorString)(nvrtcResult);

	CUdevice dev;
	CUcontext ctx;
	CUstream stream;
	cublasHandle_t blas;
	CUmodule mod;
	CUdeviceptr blas_ws; // cuBLAS's workspace, ours so that captures allocate nothing
	CUfunction fn[DBG_MAX_FUNCS];
	int nfn;

	char err[1024]; // the last error, for Go
	CUresult result; // the last failed driver call's result
} dbg_gpu;

// Each returns 0, or -1 with g->err set.
int dbg_load_libs(dbg_gpu *g, const char *cuda_names, const char *blas_names, const char *nvrtc_names);
int dbg_open(dbg_gpu *g, int ordinal, char *name, int name_len, size_t *mem, int *cc_major, int *cc_minor,
	int *sms, int *driver, int *blas_version);
void dbg_nvrtc_version(dbg_gpu *g, int *major, int *minor);
int dbg_compile(dbg_gpu *g, const char *src, const char *arch, char **cubin, size_t *cubin_len);
int dbg_load_module(dbg_gpu *g, const void *image, const char *names);
void dbg_close(dbg_gpu *g);
int dbg_begin_capture(dbg_gpu *g);
int dbg_end_capture(dbg_gpu *g, CUgraphExec *exec);
int dbg_abort_capture(dbg_gpu *g);
int dbg_graph_launch(dbg_gpu *g, CUgraphExec exec);
void dbg_graph_destroy(dbg_gpu *g, CUgraphExec exec);

int dbg_alloc(dbg_gpu *g, CUdeviceptr *p, size_t bytes);
int dbg_free(dbg_gpu *g, CUdeviceptr p);
int dbg_alloc_host(dbg_gpu *g, void **p, size_t bytes);
int dbg_free_host(dbg_gpu *g, void *p);
int dbg_upload(dbg_gpu *g, CUdeviceptr dst, const void *src, size_t bytes);
int dbg_upload_async(dbg_gpu *g, CUdeviceptr dst, const void *src, size_t bytes);
int dbg_set_math(dbg_gpu *g, int mode);
int dbg_download(dbg_gpu *g, void *dst, CUdeviceptr src, size_t bytes);
int dbg_download_async(dbg_gpu *g, void *dst, CUdeviceptr src, size_t bytes);
int dbg_sync(dbg_gpu *g);
int dbg_launch(dbg_gpu *g, int fn, unsigned gx, unsigned gy, unsigned bx, unsigned shmem, uint64_t *args, int nargs);
int dbg_gemm(dbg_gpu *g, int transa, int transb, int m, int n, int k, CUdeviceptr a, int atype, int lda,
	long long stride_a, CUdeviceptr b, int btype, int ldb, long long stride_b, CUdeviceptr c, int ctype, int ldc,
	long long stride_c, int batch, int compute);

#endif
