// Package cuda runs DistilBERT on an NVIDIA GPU: the "cuda" backend of
// --device, registered only in builds with -tags cuda (and cgo), so that
// the default binary stays static with no trace of CUDA.
//
// The build needs only a C compiler. A small cgo shim (shim.h, shim.c)
// dlopens the driver (libcuda.so.1), cuBLAS (libcublas.so.13/.12/.11) and
// NVRTC (libnvrtc.so.13/.12/.11.2) at run time and declares the few
// prototypes and enum values it uses; a missing library is named in the
// error. A hand-written shim rather than purego: cuBLAS's strided-batched
// GEMM takes 23 arguments, more than purego passes, and one C function per
// call keeps each cgo crossing to a single call.
//
// The kernels that cuBLAS lacks (kernels.cu: embeddings + LayerNorm, QKV
// bias + head split, masked softmax, head merge, bias + residual +
// LayerNorm, bias + exact-erf GELU, the [CLS] gather and the classifier
// head) are compiled at start-up by NVRTC for the GPU in the machine, so
// they run its own machine code with no toolkit at build time; the cubin
// is cached under the user cache folder, keyed by the source, the
// architecture and NVRTC's version.
//
// The forward pass (engine.go) is written once against a small device
// interface. refDevice runs it on the CPU in plain Go, with cuBLAS's
// column-major conventions and each kernel's arithmetic, so that shapes,
// strides and layouts are tested against the goldens in every build.
package cuda
