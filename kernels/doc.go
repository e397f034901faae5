// Package kernels holds the numeric kernels of the DistilBERT forward pass:
// linear layers (x·Wᵀ + b with a fused activation), layer norm, exact erf
// GELU, softmax and the dot/axpy primitives that attention is built from.
//
// Every kernel set is an *Impl. The pure-Go generic Impl is the reference
// that every SIMD Impl is tested against. Exactly one Impl is chosen at
// start-up (see Select): the best one this CPU supports, or the one named by
// the DISTILBERT_KERNELS environment variable. Implementations are kept in a
// small registry so tests can run once per implementation this CPU allows,
// as Go's crypto packages do.
//
// Weights of linear layers go through Impl.Pack once at load, so that a SIMD
// implementation can lay them out the way its micro-kernel wants; the
// generic implementation keeps the [out, in] row-major layout of the
// checkpoint and does not copy it.
//
// Parallel work runs on one process-wide pool (see SetThreads) whose idle
// threads spin briefly before sleeping; DISTILBERT_SPIN sets or disables
// that (see SpinEnvVar).
package kernels
