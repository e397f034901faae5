//go:build cuda

package cuda

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unsafe"
)

//go:embed kernels.cu
var kernelSource string

// The libraries tried, newest first; DISTILBERT_CUDA_LIBS (directories,
// ':'-separated) is searched before the loader's own path.
const (
	cudaLibs   = "libcuda.so.1:libcuda.so"
	cublasLibs = "libcublas.so.13:libcublas.so.12:libcublas.so.11:libcublas.so"
	nvrtcLibs  = "libnvrtc.so.13:libnvrtc.so.12:libnvrtc.so.11.2:libnvrtc.so"
	libsEnv    = "DISTILBERT_CUDA_LIBS"
)

// gpuDevice is one CUDA device held through the C shim: a context, one
// stream, a cuBLAS handle, the compiled kernels and a pinned staging
// buffer for ids in and logits out.
type gpuDevice struct {
	g        *C.dbg_gpu
	fn       map[string]C.int
	stage    unsafe.Pointer // pinned host memory
	stageN   int            // its bytes
	staged   int            // bytes in use by copies not yet synchronized
	desc     gpuDesc
	noVector bool // the elementwise kernels' scalar forms only
	// checkGEMM makes every GEMM recompute its first matrix on the host
	// from the device's inputs (a test's diagnostic; never while capturing).
	checkGEMM  bool
	gemmErrors []gemmError
	// graphs are the captured passes, by handle.
	graphs    map[graph]C.CUgraphExec
	nextGraph graph
}

// gpuDesc is what openGPU found.
type gpuDesc struct {
	name                  string
	memory                int64
	ccMajor, ccMinor, sms int
	driver, blas          int
}

func (d *gpuDevice) errorf(what string) error {
	return fmt.Errorf("cuda: %s: %s", what, C.GoString(&d.g.err[0]))
}

func libNames(names string) string {
	dirs := os.Getenv(libsEnv)
	if dirs == "" {
		return names
	}
	var out []string
	for _, dir := range filepath.SplitList(dirs) {
		for _, n := range strings.Split(names, ":") {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return strings.Join(out, ":") + ":" + names
}

// openGPU loads the driver, cuBLAS and NVRTC, opens device ordinal and
// loads the kernels, compiled for it (or from the on-disk cache).
func openGPU(ordinal int) (*gpuDevice, error) {
	d := &gpuDevice{g: (*C.dbg_gpu)(C.calloc(1, C.sizeof_dbg_gpu)), graphs: map[graph]C.CUgraphExec{},
		noVector: os.Getenv("DISTILBERT_CUDA_VECTOR") == "0"}
	if d.g == nil {
		return nil, errors.New("cuda: out of memory")
	}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	cu, bl, nv := C.CString(libNames(cudaLibs)), C.CString(libNames(cublasLibs)), C.CString(libNames(nvrtcLibs))
	defer C.free(unsafe.Pointer(cu))
	defer C.free(unsafe.Pointer(bl))
	defer C.free(unsafe.Pointer(nv))
	if C.dbg_load_libs(d.g, cu, bl, nv) != 0 {
		return nil, fmt.Errorf("cuda: %s (install the NVIDIA driver, cuBLAS and NVRTC, or name their folders in $%s)",
			C.GoString(&d.g.err[0]), libsEnv)
	}
	var name [256]C.char
	var mem C.size_t
	var ma, mi, sms, drv, blas C.int
	if C.dbg_open(d.g, C.int(ordinal), &name[0], C.int(len(name)), &mem, &ma, &mi, &sms, &drv, &blas) != 0 {
		return nil, d.errorf("open device")
	}
	d.desc = gpuDesc{name: C.GoString(&name[0]), memory: int64(mem), ccMajor: int(ma), ccMinor: int(mi),
		sms: int(sms), driver: int(drv), blas: int(blas)}
	cubin, err := d.kernels()
	if err != nil {
		return nil, err
	}
	names := C.CString(strings.Join(kernelNames, ":"))
	defer C.free(unsafe.Pointer(names))
	if C.dbg_load_module(d.g, unsafe.Pointer(&cubin[0]), names) != 0 {
		return nil, d.errorf("load kernels")
	}
	d.fn = map[string]C.int{}
	for i, n := range kernelNames {
		d.fn[n] = C.int(i)
	}
	ok = true
	return d, nil
}

// kernels returns kernels.cu compiled for this GPU: from the cache, keyed by
// the source, the architecture and NVRTC's version, else compiled by NVRTC.
func (d *gpuDevice) kernels() ([]byte, error) {
	arch := fmt.Sprintf("sm_%d%d", d.desc.ccMajor, d.desc.ccMinor)
	var major, minor C.int
	C.dbg_nvrtc_version(d.g, &major, &minor)
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00nvrtc %d.%d", kernelSource, arch, major, minor)))
	var cachePath string
	if dir, err := os.UserCacheDir(); err == nil {
		cachePath = filepath.Join(dir, "distilbert-go", "cuda", hex.EncodeToString(sum[:16])+".cubin")
		if b, err := os.ReadFile(cachePath); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	src, archC := C.CString(kernelSource), C.CString(arch)
	defer C.free(unsafe.Pointer(src))
	defer C.free(unsafe.Pointer(archC))
	var out *C.char
	var n C.size_t
	if C.dbg_compile(d.g, src, archC, &out, &n) != 0 {
		return nil, d.errorf("compile kernels for " + arch)
	}
	defer C.free(unsafe.Pointer(out))
	cubin := C.GoBytes(unsafe.Pointer(out), C.int(n))
	if cachePath != "" {
		// A cache that cannot be written only costs the next start a compile.
		if os.MkdirAll(filepath.Dir(cachePath), 0o755) == nil {
			tmp := cachePath + ".tmp"
			if os.WriteFile(tmp, cubin, 0o644) == nil {
				os.Rename(tmp, cachePath)
			}
		}
	}
	return cubin, nil
}

func (d *gpuDevice) alloc(n int, dt dtype) (buf, error) {
	var p C.CUdeviceptr
	if C.dbg_alloc(d.g, &p, C.size_t(max(n, 1)*dt.size())) != 0 {
		err := d.errorf(fmt.Sprintf("allocate %d × %s", n, dt))
		if d.g.result == C.DBG_CUDA_ERROR_OUT_OF_MEMORY {
			err = fmt.Errorf("%w: %w", errDeviceMemory, err)
		}
		return buf{}, err
	}
	return buf{ptr: uint64(p), n: n, dt: dt}, nil
}

func (d *gpuDevice) free(b buf) {
	if b.ptr != 0 {
		C.dbg_free(d.g, C.CUdeviceptr(b.ptr))
	}
}

// size is the bytes an element takes in device memory.
func (d dtype) size() int {
	if d == f16 || d == bf16 {
		return 2
	}
	return 4
}

func (b buf) addr() uint64 { return b.ptr + uint64(b.off*b.dt.size()) }

func (d *gpuDevice) uploadF32(dst buf, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	if len(src) > dst.n || dst.dt != f32 {
		return fmt.Errorf("cuda: upload of %d floats into %d × %s", len(src), dst.n, dst.dt)
	}
	if C.dbg_upload(d.g, C.CUdeviceptr(dst.addr()), unsafe.Pointer(&src[0]), C.size_t(4*len(src))) != 0 {
		return d.errorf("upload")
	}
	return nil
}

// staging returns bytes of the pinned buffer for a copy queued on the
// stream; it stays reserved until the next synchronizing download.
func (d *gpuDevice) staging(bytes int) (unsafe.Pointer, error) {
	if d.staged+bytes > d.stageN {
		// Copies still queued may read the old buffer: let them finish.
		if err := d.sync(); err != nil {
			return nil, err
		}
		size := max(2*(d.staged+bytes), 1<<16)
		var p unsafe.Pointer
		if C.dbg_alloc_host(d.g, &p, C.size_t(size)) != 0 {
			return nil, d.errorf("allocate pinned memory")
		}
		if d.stage != nil {
			C.dbg_free_host(d.g, d.stage)
		}
		d.stage, d.stageN, d.staged = p, size, 0
	}
	p := unsafe.Add(d.stage, d.staged)
	d.staged += (bytes + 255) &^ 255
	return p, nil
}

func (d *gpuDevice) uploadI32(dst buf, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	if len(src) > dst.n || dst.dt != i32 {
		return fmt.Errorf("cuda: upload of %d ints into %d × %s", len(src), dst.n, dst.dt)
	}
	p, err := d.staging(4 * len(src))
	if err != nil {
		return err
	}
	copy(unsafe.Slice((*int32)(p), len(src)), src)
	if C.dbg_upload_async(d.g, C.CUdeviceptr(dst.addr()), p, C.size_t(4*len(src))) != 0 {
		return d.errorf("upload")
	}
	return nil
}

// downloadF32 waits for the queued work, then copies src to dst.
func (d *gpuDevice) downloadF32(dst []float32, src buf) error {
	if len(dst) > src.n || src.dt != f32 {
		return fmt.Errorf("cuda: download of %d floats from %d × %s", len(dst), src.n, src.dt)
	}
	p, err := d.staging(4 * len(dst))
	if err != nil {
		return err
	}
	if len(dst) > 0 && C.dbg_download_async(d.g, p, C.CUdeviceptr(src.addr()), C.size_t(4*len(dst))) != 0 {
		return d.errorf("download")
	}
	if err := d.sync(); err != nil {
		return err
	}
	copy(dst, unsafe.Slice((*float32)(p), len(dst)))
	return nil
}

func (d *gpuDevice) sync() error {
	if C.dbg_sync(d.g) != 0 {
		return d.errorf("synchronize")
	}
	d.staged = 0
	return nil
}

var cublasType = [...]C.int{f32: C.DBG_CUDA_R_32F, f16: C.DBG_CUDA_R_16F, bf16: C.DBG_CUDA_R_16BF}

func (d *gpuDevice) gemm(g gemm) error {
	compute := C.int(C.DBG_CUBLAS_COMPUTE_32F)
	if g.tf32 && g.a.dt == f32 && g.b.dt == f32 {
		compute = C.DBG_CUBLAS_COMPUTE_32F_FAST_TF32
	}
	op := func(t bool) C.int {
		if t {
			return C.DBG_CUBLAS_OP_T
		}
		return C.DBG_CUBLAS_OP_N
	}
	if C.dbg_gemm(d.g, op(g.transA), op(g.transB), C.int(g.m), C.int(g.n), C.int(g.k),
		C.CUdeviceptr(g.a.addr()), cublasType[g.a.dt], C.int(g.lda), C.longlong(g.strideA),
		C.CUdeviceptr(g.b.addr()), cublasType[g.b.dt], C.int(g.ldb), C.longlong(g.strideB),
		C.CUdeviceptr(g.c.addr()), cublasType[g.c.dt], C.int(g.ldc), C.longlong(g.strideC),
		C.int(g.batch), compute) != 0 {
		return d.errorf("gemm")
	}
	if d.checkGEMM {
		return d.recheck(g)
	}
	return nil
}

// cuBLAS math modes: the engine's (float32 split-K reductions) and
// cuBLAS's default, for tests that compare them.
const (
	mathStrict  = int(C.DBG_CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)
	mathDefault = int(C.DBG_CUBLAS_DEFAULT_MATH)
)

// setMath sets cuBLAS's math mode (cublasMath_t), for tests.
func (d *gpuDevice) setMath(mode int) error {
	if C.dbg_set_math(d.g, C.int(mode)) != 0 {
		return d.errorf("math mode")
	}
	return nil
}

// gemmError is one GEMM's largest error against the host's float64
// product of the same inputs, relative to the product's largest value.
type gemmError struct {
	m, n, k, batch int
	types          string
	rel            float64
}

func (d *gpuDevice) fetch(b buf, n int) ([]float64, error) {
	raw := make([]byte, n*b.dt.size())
	if C.dbg_download(d.g, unsafe.Pointer(&raw[0]), C.CUdeviceptr(b.addr()), C.size_t(len(raw))) != 0 {
		return nil, d.errorf("download")
	}
	out := make([]float64, n)
	for i := range out {
		switch b.dt {
		case f16:
			out[i] = float64(f16ToF32(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8))
		case bf16:
			out[i] = float64(math.Float32frombits((uint32(raw[2*i]) | uint32(raw[2*i+1])<<8) << 16))
		default:
			out[i] = float64(math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24))
		}
	}
	return out, nil
}

func (d *gpuDevice) recheck(g gemm) error {
	colsA, colsB := g.k, g.n
	if g.transA {
		colsA = g.m
	}
	if g.transB {
		colsB = g.k
	}
	a, err := d.fetch(g.a, g.lda*colsA)
	if err != nil {
		return err
	}
	b, err := d.fetch(g.b, g.ldb*colsB)
	if err != nil {
		return err
	}
	c, err := d.fetch(g.c, g.ldc*g.n)
	if err != nil {
		return err
	}
	worst, scale := 0.0, 0.0
	for j := range g.n {
		for i := range g.m {
			sum := 0.0
			for l := range g.k {
				ai, bi := i+l*g.lda, l+j*g.ldb
				if g.transA {
					ai = l + i*g.lda
				}
				if g.transB {
					bi = j + l*g.ldb
				}
				sum += a[ai] * b[bi]
			}
			worst = max(worst, math.Abs(sum-c[i+j*g.ldc]))
			scale = max(scale, math.Abs(sum))
		}
	}
	d.gemmErrors = append(d.gemmErrors, gemmError{g.m, g.n, g.k, g.batch,
		g.a.dt.String() + "/" + g.b.dt.String() + "/" + g.c.dt.String(), worst / max(scale, 1e-30)})
	return nil
}

// Kernel arguments, one 8-byte slot each (see dbg_launch).
func p(b buf) uint64     { return b.addr() }
func i(v int) uint64     { return uint64(uint32(int32(v))) }
func f(v float32) uint64 { return uint64(math.Float32bits(v)) }

func (d *gpuDevice) launch(kernel string, grid, block, shmem int, args ...uint64) error {
	return d.launch2(kernel, grid, 1, block, shmem, args...)
}

// launch2 launches on a grid of gx × gy blocks (gy: the tokens, for the
// elementwise kernels).
func (d *gpuDevice) launch2(kernel string, gx, gy, block, shmem int, args ...uint64) error {
	fn, ok := d.fn[kernel]
	if !ok {
		return fmt.Errorf("cuda: no kernel %s", kernel)
	}
	if gx == 0 || gy == 0 {
		return nil
	}
	if gy > 65535 {
		return fmt.Errorf("cuda: %s: %d rows exceed the grid", kernel, gy)
	}
	if C.dbg_launch(d.g, fn, C.uint(gx), C.uint(gy), C.uint(block), C.uint(shmem), (*C.uint64_t)(unsafe.Pointer(&args[0])), C.int(len(args))) != 0 {
		return d.errorf(kernel)
	}
	return nil
}

// vector is the elements per 16-byte access of the vector kernels, or 0
// where they are switched off (DISTILBERT_CUDA_VECTOR=0, to compare).
func (d *gpuDevice) vector(dt dtype) int {
	if d.noVector {
		return 0
	}
	return 16 / dt.size()
}

// rowBlock is the block size of the one-block-per-row kernels.
func rowBlock(width int) int { return min(256, (width+31)&^31) }

func blocks(n, per int) int { return (n + per - 1) / per }

func (d *gpuDevice) convert(dst, src buf, n int) error {
	return d.launch("convertV"+variant[dst.dt], blocks(n, 256), 256, 0, p(dst), p(src), uint64(n))
}

func (d *gpuDevice) embed(x, xg, ids, word, pos, gamma, beta buf, tokens, seqLen, dim int, eps float32) error {
	return d.launch("embedV"+variant[xg.dt], tokens, rowBlock(dim), 4*dim,
		p(x), p(xg), p(ids), p(word), p(pos), p(gamma), p(beta), i(seqLen), i(dim), f(eps))
}

func (d *gpuDevice) qkvSplit(q, k, v, qkv, bias buf, tokens, seqLen, heads, headDim int) error {
	if n := d.vector(q.dt); n > 0 && headDim%n == 0 {
		return d.launch2("qkvSplitVecV"+variant[q.dt], blocks(3*heads*headDim/n, 256), tokens, 256, 0,
			p(q), p(k), p(v), p(qkv), p(bias), i(seqLen), i(heads), i(headDim))
	}
	return d.launch2("qkvSplitV"+variant[q.dt], blocks(3*heads*headDim, 256), tokens, 256, 0,
		p(q), p(k), p(v), p(qkv), p(bias), i(seqLen), i(heads), i(headDim))
}

func (d *gpuDevice) softmax(pr, s, mask buf, rows, heads, seqLen int) error {
	return d.launch("softmaxV"+variant[pr.dt], blocks(rows, 4), 128, 0,
		p(pr), p(s), p(mask), i(rows), i(heads), i(seqLen))
}

func (d *gpuDevice) mergeHeads(out, ctx buf, tokens, seqLen, heads, headDim int) error {
	if n := d.vector(out.dt); n > 0 && headDim%n == 0 {
		return d.launch2("mergeHeadsVecV"+variant[out.dt], blocks(heads*headDim/n, 256), tokens, 256, 0,
			p(out), p(ctx), i(seqLen), i(heads), i(headDim))
	}
	return d.launch2("mergeHeadsV"+variant[out.dt], blocks(heads*headDim, 256), tokens, 256, 0,
		p(out), p(ctx), i(seqLen), i(heads), i(headDim))
}

func (d *gpuDevice) addNorm(x, xg, y, bias, gamma, beta buf, tokens, dim int, eps float32) error {
	return d.launch("addNormV"+variant[xg.dt], tokens, rowBlock(dim), 4*dim,
		p(x), p(xg), p(y), p(bias), p(gamma), p(beta), i(dim), f(eps))
}

func (d *gpuDevice) biasAct(h, bias buf, tokens, width int, gelu bool) error {
	g := 0
	if gelu {
		g = 1
	}
	if n := d.vector(h.dt); n > 0 && width%n == 0 {
		return d.launch2("biasActVecV"+variant[h.dt], blocks(width/n, 256), tokens, 256, 0,
			p(h), p(bias), i(width), i(g))
	}
	return d.launch2("biasActV"+variant[h.dt], blocks(width, 256), tokens, 256, 0,
		p(h), p(bias), i(width), i(g))
}

func (d *gpuDevice) clsGather(cls, x buf, batch, seqLen, dim int) error {
	return d.launch("clsGather", batch, rowBlock(dim), 0, p(cls), p(x), i(seqLen), i(dim))
}

func (d *gpuDevice) head(logits, pooled, preBias, w, bias buf, batch, dim, labels int) error {
	return d.launch("head", batch, 256, 4*dim, p(logits), p(pooled), p(preBias), p(w), p(bias), i(dim), i(labels))
}

func (d *gpuDevice) capture(queue func() error) (graph, error) {
	if C.dbg_begin_capture(d.g) != 0 {
		return 0, d.errorf("capture")
	}
	if err := queue(); err != nil {
		C.dbg_abort_capture(d.g)
		return 0, err
	}
	var exec C.CUgraphExec
	if C.dbg_end_capture(d.g, &exec) != 0 {
		return 0, d.errorf("capture")
	}
	d.nextGraph++
	d.graphs[d.nextGraph] = exec
	return d.nextGraph, nil
}

func (d *gpuDevice) launchGraph(g graph) error {
	exec, ok := d.graphs[g]
	if !ok {
		return fmt.Errorf("cuda: graph %d was dropped", g)
	}
	if C.dbg_graph_launch(d.g, exec) != 0 {
		return d.errorf("graph launch")
	}
	return nil
}

func (d *gpuDevice) dropGraph(g graph) {
	if exec, ok := d.graphs[g]; ok {
		C.dbg_graph_destroy(d.g, exec)
		delete(d.graphs, g)
	}
}

func (d *gpuDevice) close() error {
	if d.g == nil {
		return nil
	}
	for g := range d.graphs {
		d.dropGraph(g)
	}
	if d.stage != nil {
		C.dbg_free_host(d.g, d.stage)
		d.stage = nil
	}
	C.dbg_close(d.g)
	C.free(unsafe.Pointer(d.g))
	d.g = nil
	return nil
}
