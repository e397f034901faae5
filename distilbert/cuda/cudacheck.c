//go:build ignore

// Checks shim.h's prototypes and enum values against the real CUDA headers.
// No build here needs it; tools/baseline/gpu.sh compiles it on a machine
// with the toolkit: gcc -fsyntax-only -Werror -I$CUDA/include cudacheck.c
// (an incompatible pointer or a wrong value fails the compile).
#include <cublas_v2.h>
#include <cuda.h>
#include <nvrtc.h>

_Static_assert(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT == 16, "sms");
_Static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR == 75, "cc major");
_Static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR == 76, "cc minor");
_Static_assert(CU_STREAM_NON_BLOCKING == 1, "stream flag");
_Static_assert(CUDA_ERROR_OUT_OF_MEMORY == 2, "out of memory");
_Static_assert(CU_STREAM_CAPTURE_MODE_RELAXED == 2, "capture mode");
_Static_assert(CUBLAS_OP_N == 0 && CUBLAS_OP_T == 1, "ops");
_Static_assert(CUDA_R_32F == 0 && CUDA_R_16F == 2 && CUDA_R_16BF == 14, "data types");
_Static_assert(CUBLAS_COMPUTE_32F == 68 && CUBLAS_COMPUTE_32F_FAST_TF32 == 77, "compute types");
_Static_assert(CUBLAS_GEMM_DEFAULT == -1, "algo");
_Static_assert(CUBLAS_DEFAULT_MATH == 0 && CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION == 16, "math modes");
_Static_assert(sizeof(CUdeviceptr) == 8 && sizeof(cublasComputeType_t) == sizeof(int) &&
	sizeof(cudaDataType) == sizeof(int) && sizeof(cublasOperation_t) == sizeof(int), "sizes");

// shim.h's prototypes, written with the headers' types: each assignment
// fails to compile (-Werror) if the real function's type differs.
CUresult (*cuDeviceTotalMem_)(size_t *, CUdevice) = cuDeviceTotalMem;
CUresult (*cuDevicePrimaryCtxRelease_)(CUdevice) = cuDevicePrimaryCtxRelease;
CUresult (*cuStreamDestroy_)(CUstream) = cuStreamDestroy;
CUresult (*cuMemAlloc_)(CUdeviceptr *, size_t) = cuMemAlloc;
CUresult (*cuMemFree_)(CUdeviceptr) = cuMemFree;
CUresult (*cuMemAllocHost_)(void **, size_t) = cuMemAllocHost;
CUresult (*cuMemcpyHtoDAsync_)(CUdeviceptr, const void *, size_t, CUstream) = cuMemcpyHtoDAsync;
CUresult (*cuMemcpyDtoHAsync_)(void *, CUdeviceptr, size_t, CUstream) = cuMemcpyDtoHAsync;
CUresult (*cuLaunchKernel_)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
	CUstream, void **, void **) = cuLaunchKernel;
CUresult (*cuDeviceGetAttribute_)(int *, CUdevice_attribute, CUdevice) = cuDeviceGetAttribute;
cublasStatus_t (*cublasGemmEx_)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
	const void *, cudaDataType, int, const void *, cudaDataType, int, const void *, void *, cudaDataType, int,
	cublasComputeType_t, cublasGemmAlgo_t) = cublasGemmEx;
cublasStatus_t (*cublasGemmStridedBatchedEx_)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
	const void *, const void *, cudaDataType, int, long long, const void *, cudaDataType, int, long long,
	const void *, void *, cudaDataType, int, long long, int, cublasComputeType_t, cublasGemmAlgo_t) =
	cublasGemmStridedBatchedEx;
CUresult (*cuStreamBeginCapture_)(CUstream, CUstreamCaptureMode) = cuStreamBeginCapture;
CUresult (*cuStreamEndCapture_)(CUstream, CUgraph *) = cuStreamEndCapture;
CUresult (*cuGraphInstantiateWithFlags_)(CUgraphExec *, CUgraph, unsigned long long) = cuGraphInstantiateWithFlags;
CUresult (*cuGraphLaunch_)(CUgraphExec, CUstream) = cuGraphLaunch;
cublasStatus_t (*cublasSetWorkspace_)(cublasHandle_t, void *, size_t) = cublasSetWorkspace;
cublasStatus_t (*cublasSetMathMode_)(cublasHandle_t, cublasMath_t) = cublasSetMathMode;
cublasStatus_t (*cublasSetStream_)(cublasHandle_t, cudaStream_t) = cublasSetStream;
nvrtcResult (*nvrtcGetCUBIN_)(nvrtcProgram, char *) = nvrtcGetCUBIN;
nvrtcResult (*nvrtcCreateProgram_)(nvrtcProgram *, const char *, const char *, int, const char *const *,
	const char *const *) = nvrtcCreateProgram;
