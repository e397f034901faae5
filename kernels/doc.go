// Package kernels holds the numeric kernels of the DistilBERT forward pass:
// linear layers (x·Wᵀ + b with a fused activation), layer norm, exact erf
// GELU, softmax and the dot/axpy primitives that attention is built from.
//
// Every kernel set is an *Impl. The pure-Go generic Impl is the reference
// that every SIMD Impl is tested against. A program chooses one at start-up
// (Settings, Configure): the best one this CPU supports, or the one named by
// DISTILBERT_KERNELS, with the int8 micro-kernel its quantized layers use
// (its preferred one, or DISTILBERT_INT8_KERNELS). Implementations are kept
// in a small registry so tests can run once per implementation this CPU
// allows, as Go's crypto packages do; an Impl never changes once built.
//
// Linear layers have one driver (LinearMany) whatever the weights: float32
// panels (*Matrix) and int8 per-channel weights (*QMatrix) are two kinds of
// Weights operand that share the column chunking, the worker pool and the
// epilogue (bias, activation); each brings its input layout (packing or
// quantizing) and its micro-kernels.
//
// Weights of linear layers go through Impl.Pack once at load, so that a SIMD
// implementation can lay them out the way its micro-kernel wants; the
// generic implementation keeps the [out, in] row-major layout of the
// checkpoint and does not copy it.
//
// Parallel work runs on one process-wide pool (see SetThreads) whose idle
// threads spin briefly before sleeping; Settings.Spin (DISTILBERT_SPIN)
// sets or disables that.
package kernels
