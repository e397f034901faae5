package kernels

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// The registry holds every float32 implementation built for this
// architecture; each per-ISA file registers its own from init, and tests
// iterate Available() so that every path this CPU runs is tested (as Go's
// crypto/internal/impl does). The int8 micro-kernels are a static list per
// architecture (int8Kernels, in the qgemm_*.go files).

var (
	registryMu sync.Mutex
	registry   []*Impl
)

// register adds an implementation; called from init functions.
func register(im *Impl) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry = append(registry, im)
	sort.SliceStable(registry, func(i, j int) bool { return registry[i].priority > registry[j].priority })
}

// All returns every registered implementation, best first, supported or not.
func All() []*Impl {
	registryMu.Lock()
	defer registryMu.Unlock()
	return append([]*Impl(nil), registry...)
}

// Available returns the implementations this CPU supports, best first,
// each with its default int8 kernel.
func Available() []*Impl {
	var out []*Impl
	for _, im := range All() {
		if im.Supported() {
			out = append(out, im)
		}
	}
	return out
}

// Best returns the best implementation this CPU supports.
func Best() *Impl { return Available()[0] } // generic is always supported

// Lookup returns the implementation with the given name if this CPU supports it.
func Lookup(name string) (*Impl, error) {
	var names []string
	for _, im := range All() {
		names = append(names, im.name)
		if im.name == name {
			if !im.Supported() {
				return nil, fmt.Errorf("kernels: %q is not supported by this CPU (features: %s)", name, strings.Join(CPUFeatures(), " "))
			}
			return im, nil
		}
	}
	if plannedNames[name] {
		return nil, fmt.Errorf("kernels: %q is not built for %s/%s (available here: %s)", name, runtime.GOOS, runtime.GOARCH, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("kernels: unknown implementation %q (known: %s)", name, strings.Join(names, ", "))
}

// plannedNames are the implementation names DISTILBERT_KERNELS documents,
// whatever this build contains, for a precise error message.
var plannedNames = map[string]bool{"generic": true, "avx2": true, "avx512": true, "neon": true}

// int8Kernel is one int8 micro-kernel (with its input quantizer).
type int8Kernel struct {
	name      string // what DISTILBERT_INT8_KERNELS selects
	kind      qKernel
	supported func() bool
	peak      peakLoop // its instruction's peak loop (none for "go")
}

// int8Go is the portable int8 kernel, which every architecture lists last.
var int8Go = int8Kernel{name: "go", kind: qKernelGo, supported: func() bool { return true }}

// plannedInt8Names are the int8 kernel names DISTILBERT_INT8_KERNELS
// documents, whatever this build contains.
var plannedInt8Names = map[string]bool{"go": true, "avx2": true, "avx-vnni": true, "avx512-vnni": true, "neon-sdot": true}

func lookupInt8(name string) (int8Kernel, bool) {
	for _, k := range int8Kernels {
		if k.name == name {
			return k, true
		}
	}
	return int8Kernel{}, false
}

// Int8Kernels returns the names of the int8 micro-kernels this CPU runs,
// best first ("go", the portable one, last).
func Int8Kernels() []string {
	var out []string
	for _, k := range int8Kernels {
		if k.supported() {
			out = append(out, k.name)
		}
	}
	return out
}

// Int8Kernel names the int8 micro-kernel that linear layers with
// quantized weights run on im: "avx2", "avx-vnni", "avx512-vnni", "neon-sdot"
// or "go".
func (im *Impl) Int8Kernel() string {
	for _, k := range int8Kernels {
		if k.kind == im.qkernel {
			return k.name
		}
	}
	return int8Go.name
}

// WithInt8Kernel returns a copy of im whose int8 linear layers run on the
// named micro-kernel; im itself is unchanged. Every int8 kernel gives the
// same results bit for bit, so the choice is only about speed.
func (im *Impl) WithInt8Kernel(name string) (*Impl, error) {
	k, ok := lookupInt8(name)
	if !ok {
		var names []string
		for _, k := range int8Kernels {
			names = append(names, k.name)
		}
		if plannedInt8Names[name] {
			return nil, fmt.Errorf("kernels: int8 kernel %q is not built for %s/%s (available here: %s)", name, runtime.GOOS, runtime.GOARCH, strings.Join(names, ", "))
		}
		return nil, fmt.Errorf("kernels: unknown int8 kernel %q (known: %s)", name, strings.Join(names, ", "))
	}
	if !k.supported() {
		return nil, fmt.Errorf("kernels: int8 kernel %q is not supported by this CPU (features: %s)", name, strings.Join(CPUFeatures(), " "))
	}
	v := *im
	v.qkernel = k.kind
	return &v, nil
}
