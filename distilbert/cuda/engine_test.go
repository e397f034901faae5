package cuda

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/distilbert-go/distilbert/distilbert"
)

const (
	goldenDir  = "../../testdata/golden"
	tinyOddDir = "../../testdata/models/tiny-odd"
	sst2Dir    = "../defaultmodel/sst2-mini"
	// fp32 on a device matches the PyTorch goldens this closely; tf32 and
	// fp16 keep every label and stay within reducedTol. bf16 keeps 8
	// significant bits to fp16's 11: on tiny-odd's random weights its
	// rounding alone moves the logits by 3e-2 (the reference device, which
	// rounds as the GPU does), so it is held to bf16Tol, labels kept.
	fp32Tol    = 1e-4
	reducedTol = 2e-2
	bf16Tol    = 5e-2
)

// refAll runs the reference device on every golden case, as a GPU runs
// them (minutes of plain-Go GEMMs): what each precision's rounding alone
// costs, before a GPU adds its own summation order.
var refAll = flag.Bool("cudaref.all", false, "run the reference device on every golden case")

func TestMain(m *testing.M) {
	// The reference device, selectable like a GPU, runs the engine's plan.
	distilbert.RegisterBackend(distilbert.Backend{Name: "cudaref", Open: func(spec distilbert.EngineSpec) (distilbert.Engine, error) {
		return newEngine(&refDevice{}, spec, distilbert.EngineInfo{Backend: "cudaref", Device: "cudaref", Kernels: "reference"}, engineOptions{graphs: true})
	}})
	os.Exit(m.Run())
}

// target is one device and precision the goldens run on.
type target struct {
	device, precision string
	gpu               bool
}

func (tg target) String() string { return tg.device + "/" + tg.precision }

// sampled: the reference device runs a sample of the longer golden sets
// (its plain-Go GEMMs are slow), unless -cudaref.all.
func (tg target) sampled() bool { return !tg.gpu && !*refAll }

// targets: the reference device in fp32, fp16 and bf16 (tf32 differs from
// fp32 only in the GEMMs' input rounding, which it does not model), and every precision
// on each GPU that answers (none without -tags cuda). With -test.short on a
// GPU machine only the GPU runs: CI runs the reference device.
func targets(t *testing.T) []target {
	var out []target
	gpus := gpuDevices(t)
	if !testing.Short() || len(gpus) == 0 {
		out = append(out, target{"cudaref", "fp32", false}, target{"cudaref", "fp16", false}, target{"cudaref", "bf16", false})
	}
	for _, dev := range gpus {
		for _, p := range distilbert.GPUPrecisions {
			out = append(out, target{dev, p, true})
		}
	}
	return out
}

type goldenCase struct {
	Case      string    `json:"case"`
	Label     int       `json:"label"`
	InputIDs  []int32   `json:"input_ids"`
	Logits    []float64 `json:"logits"`
	PredLabel string    `json:"pred_label"`
}

func readJSONL(t testing.TB, name string) []goldenCase {
	t.Helper()
	f, err := os.Open(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goldenCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var v goldenCase
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, v)
	}
	return out
}

func load(t testing.TB, dir string, tg target) *distilbert.Classifier {
	t.Helper()
	c, err := distilbert.Load(dir, distilbert.WithDevice(tg.device), distilbert.WithGPUPrecision(tg.precision))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if info := c.Engine().Info(); info.Precision != tg.precision || !info.Pads {
		t.Fatalf("engine info %+v, want precision %s", info, tg.precision)
	}
	return c
}

func tolerance(tg target) float64 {
	switch tg.precision {
	case "fp32":
		return fp32Tol
	case "bf16":
		return bf16Tol
	}
	return reducedTol
}

// forward runs cases as one padded batch, or one at a time.
func forward(t testing.TB, c *distilbert.Classifier, cases []goldenCase, batched bool) [][]float32 {
	t.Helper()
	nl := len(c.Labels())
	var seqs []distilbert.Sequence
	for _, g := range cases {
		seqs = append(seqs, distilbert.Sequence{IDs: g.InputIDs})
	}
	logits := make([]float32, len(seqs)*nl)
	if batched {
		if err := c.Engine().Forward(seqs, logits); err != nil {
			t.Fatal(err)
		}
	} else {
		for i := range seqs {
			if err := c.Engine().Forward(seqs[i:i+1], logits[i*nl:i*nl+nl]); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := make([][]float32, len(seqs))
	for i := range out {
		out[i] = logits[i*nl : i*nl+nl]
	}
	return out
}

func maxDiff(got []float32, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range got {
		v := math.Abs(float64(got[i]) - want[i])
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		d = max(d, v)
	}
	return d
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// checkCases compares logits with the goldens: within the precision's
// tolerance, and the same label.
func checkCases(t *testing.T, c *distilbert.Classifier, tg target, cases []goldenCase, got [][]float32) {
	t.Helper()
	worst := 0.0
	for i, g := range cases {
		d := maxDiff(got[i], g.Logits)
		worst = max(worst, d)
		if d > tolerance(tg) {
			t.Errorf("%s (%d tokens): logits %v, want %v (diff %.3g)", g.Case, len(g.InputIDs), got[i], g.Logits, d)
		}
		if l := c.Labels()[argmax(got[i])]; g.PredLabel != "" && l != g.PredLabel {
			t.Errorf("%s: label %s, want %s", g.Case, l, g.PredLabel)
		}
	}
	t.Logf("%s: %d cases, max |logit diff| %.3g", tg, len(cases), worst)
}

// TestGoldens runs the goldens of both fixtures, singly and as one padded
// batch, on every target. On the reference device sst2-mini runs its
// shorter cases only: its plain-Go GEMM is slow.
func TestGoldens(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.String(), func(t *testing.T) {
			for _, fx := range []struct{ dir, file string }{{tinyOddDir, "tiny-odd.jsonl"}, {sst2Dir, "sst2-mini-edge.jsonl"}} {
				cases := readJSONL(t, fx.file)
				if tg.sampled() && fx.dir == sst2Dir {
					if raceEnabled {
						continue // the plain run checks it; tiny-odd covers the race build
					}
					cases = shorter(cases, 24)
				}
				c := load(t, fx.dir, tg)
				checkCases(t, c, tg, cases, forward(t, c, cases, false))
				checkCases(t, c, tg, cases, forward(t, c, cases, true))
			}
		})
	}
}

func shorter(cases []goldenCase, n int) []goldenCase {
	var out []goldenCase
	for _, g := range cases {
		if len(g.InputIDs) <= n {
			out = append(out, g)
		}
	}
	return out
}

// TestPaddedBatchGolden runs the goldens' right-padded batch with its
// attention mask: the masked keys must be left out.
func TestPaddedBatchGolden(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.String(), func(t *testing.T) {
			for _, fx := range []struct{ dir, file string }{{tinyOddDir, "tiny-odd-batch.json"}, {sst2Dir, "sst2-mini-batch.json"}} {
				if tg.sampled() && fx.dir == sst2Dir {
					continue // 8 × 512 padded tokens: minutes in plain Go
				}
				var g struct {
					InputIDs      [][]int32   `json:"input_ids"`
					AttentionMask [][]int     `json:"attention_mask"`
					LogitsBatched [][]float64 `json:"logits_batched"`
				}
				data, err := os.ReadFile(filepath.Join(goldenDir, fx.file))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(data, &g); err != nil {
					t.Fatal(err)
				}
				c := load(t, fx.dir, tg)
				nl := len(c.Labels())
				batch := make([]distilbert.Sequence, len(g.InputIDs))
				for i, ids := range g.InputIDs {
					mask := make([]bool, len(ids))
					for j, v := range g.AttentionMask[i] {
						mask[j] = v != 0
					}
					batch[i] = distilbert.Sequence{IDs: ids, Mask: mask}
				}
				logits := make([]float32, len(batch)*nl)
				if err := c.Engine().Forward(batch, logits); err != nil {
					t.Fatal(err)
				}
				for i := range batch {
					if d := maxDiff(logits[i*nl:i*nl+nl], g.LogitsBatched[i]); d > tolerance(tg) {
						t.Errorf("%s row %d: logits %v, want %v (diff %.3g)", fx.file, i, logits[i*nl:i*nl+nl], g.LogitsBatched[i], d)
					}
				}
			}
		})
	}
}

// TestSST2Dev runs the 872 SST-2 dev sentences: in fp32 within 1e-4 of the
// goldens, in reduced precision with every label and the accuracy kept and
// logits within 2e-2. The reference device runs every 32nd sentence, one
// at a time (its plain-Go GEMM is slow; padding would make it slower).
func TestSST2Dev(t *testing.T) {
	cases := readJSONL(t, "sst2-mini-dev.jsonl")
	for _, tg := range targets(t) {
		t.Run(tg.String(), func(t *testing.T) {
			sub := cases
			if tg.sampled() {
				if raceEnabled {
					t.Skip("race build: the plain run checks it")
				}
				sub = nil
				for i := 0; i < len(cases); i += 32 {
					sub = append(sub, cases[i])
				}
			}
			c := load(t, sst2Dir, tg)
			got := forward(t, c, sub, tg.gpu)
			checkCases(t, c, tg, sub, got)
			correct, want := 0, 0
			for i, g := range sub {
				if argmax(got[i]) == g.Label {
					correct++
				}
				if c.Labels()[g.Label] == g.PredLabel {
					want++
				}
			}
			t.Logf("%s: accuracy %d/%d (PyTorch float32 %d/%d)", tg, correct, len(sub), want, len(sub))
			if correct != want {
				t.Errorf("accuracy %d/%d, PyTorch float32 %d/%d", correct, len(sub), want, len(sub))
			}
		})
	}
}

// TestChunking: a batch larger than one chunk's tokens runs in chunks, in
// order, with the same logits as one sequence at a time.
func TestChunking(t *testing.T) {
	if testing.Short() && len(gpuDevices(t)) > 0 {
		t.Skip("short, on a GPU machine: the reference device's tests run in CI")
	}
	cases := readJSONL(t, "tiny-odd.jsonl")
	tg := target{"cudaref", "fp32", false}
	c := load(t, tinyOddDir, tg)
	c.Engine().(*engine).chunkTokens = 1024
	var many []goldenCase
	for len(many)*64 <= 3*1024 {
		many = append(many, cases...)
	}
	got := forward(t, c, many, true)
	checkCases(t, c, tg, many, got)
}

func TestRounding(t *testing.T) {
	for _, tc := range []struct {
		in      float32
		f16, bf float32
	}{
		{1, 1, 1},
		{1 + 1.0/2048, 1, 1},                                // a tie: to even
		{1 + 3.0/2048, 1 + 2.0/1024, 1},                     // a tie: to even, up
		{65504, 65504, 65536},                               // the largest half
		{65520, float32(math.Inf(1)), 65536},                // rounds past it
		{1.0 / (1 << 24), 1.0 / (1 << 24), 1.0 / (1 << 24)}, // the smallest subnormal half
		{1.0 / (1 << 26), 0, 1.0 / (1 << 26)},
		{-2.5, -2.5, -2.5},
		{1 + 1.0/256, 1 + 1.0/256, 1}, // bf16's tie
		{1 + 3.0/256, 1 + 3.0/256, 1 + 4.0/256},
	} {
		if got := roundF16(tc.in); got != tc.f16 {
			t.Errorf("roundF16(%g) = %g, want %g", tc.in, got, tc.f16)
		}
		if got := roundBF16(tc.in); got != tc.bf {
			t.Errorf("roundBF16(%g) = %g, want %g", tc.in, got, tc.bf)
		}
	}
	// Every half converts back exactly.
	for h := range 1 << 16 {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN
		}
		if got := f32ToF16(f16ToF32(uint16(h))); got != uint16(h) {
			t.Fatalf("half %#04x → %g → %#04x", h, f16ToF32(uint16(h)), got)
		}
	}
}

// TestKernelsCompile checks kernels.cu's C++ with the host compiler, the
// CUDA keywords and intrinsics declared away, so that a typo fails here
// rather than at NVRTC on a GPU machine. (Types and templates are checked;
// PTX inline assembly is not: TestKernelsPTX does that.)
func TestKernelsCompile(t *testing.T) {
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++")
	}
	emu := filepath.Join(t.TempDir(), "cuda.h")
	if err := os.WriteFile(emu, []byte(`#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__
struct uint3 { unsigned x, y, z; };
extern uint3 threadIdx, blockIdx, blockDim;
float __shfl_xor_sync(unsigned, float, int);
unsigned __float_as_uint(float);
float __uint_as_float(unsigned);
float __int_as_float(int);
float erff(float); float expf(float); float fmaxf(float, float); float sqrtf(float);
void __syncthreads();
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(cxx, "-std=c++14", "-fsyntax-only", "-Wall", "-include", emu, "-x", "c++", "kernels.cu").CombinedOutput()
	if err != nil {
		t.Fatalf("kernels.cu: %v\n%s", err, out)
	}
}

// TestKernelsPTX compiles kernels.cu as CUDA with clang, for the oldest
// architecture current toolkits support, so that what the host compiler
// cannot check (device attributes, the inline PTX and its operand
// constraints, extern "C" linkage) fails here rather than at NVRTC on a
// GPU machine. The PTX's entry points must be exactly kernelNames, and
// each launch in gpu.go must pass the parameters its kernel declares.
// NVRTC's implicit declarations are given by a prelude: the math functions
// are declared only, which PTX leaves as external calls.
func TestKernelsPTX(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("no clang (scripts/install-test-deps.sh cc installs it)")
	}
	dir := t.TempDir()
	prelude := filepath.Join(dir, "nvrtc.h")
	if err := os.WriteFile(prelude, []byte(`#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __forceinline__ __inline__ __attribute__((always_inline))
#include <__clang_cuda_builtin_vars.h>
__device__ float erff(float);
__device__ float expf(float);
__device__ float fmaxf(float, float);
__device__ float sqrtf(float);
static __device__ __forceinline__ float __shfl_xor_sync(unsigned m, float v, int o) {
	return __nvvm_shfl_sync_bfly_f32(m, v, o, 0x1f);
}
static __device__ __forceinline__ unsigned __float_as_uint(float x) { return __builtin_bit_cast(unsigned, x); }
static __device__ __forceinline__ float __uint_as_float(unsigned x) { return __builtin_bit_cast(float, x); }
static __device__ __forceinline__ float __int_as_float(int x) { return __builtin_bit_cast(float, x); }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ptx := filepath.Join(dir, "kernels.ptx")
	out, err := exec.Command(clang, "-x", "cuda", "--cuda-device-only", "--cuda-gpu-arch=sm_75",
		"-nocudainc", "-nocudalib", "-Xclang", "-target-feature", "-Xclang", "+ptx70",
		"-std=c++17", "-O2", "-Wall", "-Werror", "-include", prelude, "-S", "-o", ptx, "kernels.cu").CombinedOutput()
	if err != nil {
		t.Fatalf("kernels.cu: %v\n%s", err, out)
	}
	text, err := os.ReadFile(ptx)
	if err != nil {
		t.Fatal(err)
	}
	// entries: each entry point's parameter types (.u64, .u32, .f32).
	entries := map[string][]string{}
	param := regexp.MustCompile(`\.param (\.\w+) `)
	for _, m := range regexp.MustCompile(`(?m)^\.visible \.entry (\w+)\(([^)]*)\)`).FindAllSubmatch(text, -1) {
		params := []string{}
		for _, pm := range param.FindAllSubmatch(m[2], -1) {
			params = append(params, string(pm[1]))
		}
		entries[string(m[1])] = params
	}
	t.Run("entries", func(t *testing.T) {
		for _, n := range kernelNames {
			if _, ok := entries[n]; !ok {
				t.Errorf("kernel %s is not an entry point of kernels.cu", n)
			}
		}
		for n := range entries {
			if !slices.Contains(kernelNames, n) {
				t.Errorf("kernels.cu's entry point %s is missing from kernelNames", n)
			}
		}
	})
	t.Run("launches", func(t *testing.T) {
		launched := map[string]bool{}
		for _, l := range kernelLaunches(t, "gpu.go") {
			launched[l.kernel] = true
			want, ok := entries[l.kernel]
			if !ok {
				t.Errorf("%s: launches %s, which kernels.cu lacks", l.pos, l.kernel)
			} else if !slices.Equal(l.params, want) {
				t.Errorf("%s: launches %s with %v; its parameters are %v", l.pos, l.kernel, l.params, want)
			}
		}
		for _, n := range kernelNames {
			if !launched[n] {
				t.Errorf("kernel %s is never launched", n)
			}
		}
	})
}

// kernelLaunch is one d.launch or d.launch2 call in gpu.go: the kernel,
// and the PTX type each argument fills (p and uint64: .u64, i: .u32,
// f: .f32; see dbg_launch).
type kernelLaunch struct {
	pos    string
	kernel string
	params []string
}

// kernelLaunches reads the launches from the Go source, so that a kernel
// whose parameters change without its call site fails without a GPU. A
// kernel named "base"+variant[...] stands for its three variants.
func kernelLaunches(t *testing.T, file string) []kernelLaunch {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The arguments before the kernel's own: grid, block and shared bytes,
	// and launch2's second grid dimension.
	skip := map[string]int{"launch": 4, "launch2": 5}
	var out []kernelLaunch
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || skip[sel.Sel.Name] == 0 || len(call.Args) < skip[sel.Sel.Name] {
			return true
		}
		pos := fset.Position(call.Pos()).String()
		var names []string
		switch k := call.Args[0].(type) {
		case *ast.BasicLit:
			names = []string{strings.Trim(k.Value, `"`)}
		case *ast.BinaryExpr:
			base, ok := k.X.(*ast.BasicLit)
			if !ok {
				t.Errorf("%s: kernel name %s not read", pos, types.ExprString(k))
				return true
			}
			for _, v := range variant {
				names = append(names, strings.Trim(base.Value, `"`)+v)
			}
		default:
			// launch passing its own kernel on to launch2.
			return true
		}
		var params []string
		for _, a := range call.Args[skip[sel.Sel.Name]:] {
			conv, _ := a.(*ast.CallExpr)
			var fn string
			if conv != nil {
				if id, ok := conv.Fun.(*ast.Ident); ok {
					fn = id.Name
				}
			}
			switch fn {
			case "p", "uint64":
				params = append(params, ".u64")
			case "i":
				params = append(params, ".u32")
			case "f":
				params = append(params, ".f32")
			default:
				t.Errorf("%s: argument %s is not p, i, f or uint64", pos, types.ExprString(a))
			}
		}
		for _, k := range names {
			out = append(out, kernelLaunch{pos, k, params})
		}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("no kernel launches found in %s", file)
	}
	return out
}

// TestOutOfDeviceMemory: a batch whose workspace does not fit runs in
// smaller chunks, with the same logits; a single sequence that cannot fit
// is an error that says so.
func TestOutOfDeviceMemory(t *testing.T) {
	cases := readJSONL(t, "tiny-odd.jsonl")
	tg := target{"cudaref", "fp32", false}
	c := load(t, tinyOddDir, tg)
	e := c.Engine().(*engine)
	ref := e.dev.(*refDevice)
	// Room for the weights and about a hundred tokens' activations.
	ref.capacity = ref.used + 100_000
	checkCases(t, c, tg, cases, forward(t, c, cases, true))
	if e.ws.tokens > 128 {
		t.Errorf("workspace for %d tokens: the chunks did not shrink", e.ws.tokens)
	}
	// A fresh engine, no workspace yet, room for 100 elements beside its weights.
	c2 := load(t, tinyOddDir, tg)
	e2 := c2.Engine().(*engine)
	e2.dev.(*refDevice).capacity = e2.dev.(*refDevice).used + 100
	err := e2.Forward([]distilbert.Sequence{{IDs: cases[len(cases)-1].InputIDs}}, make([]float32, len(c.Labels())))
	if !errors.Is(err, errDeviceMemory) {
		t.Errorf("a sequence that cannot fit: %v", err)
	}
}
