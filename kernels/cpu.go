package kernels

import (
	"runtime"

	"github.com/klauspost/cpuid/v2"
)

// CPUFeatures lists the CPU features that matter for kernel selection, as
// seen by cpuid, e.g. ["AVX2", "FMA3", "AVX512F"].
func CPUFeatures() []string {
	var out []string
	for _, f := range []cpuid.FeatureID{
		cpuid.SSE4, cpuid.AVX, cpuid.AVX2, cpuid.FMA3, cpuid.F16C,
		cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.AVX512DQ, cpuid.AVX512VNNI, cpuid.AVXVNNI,
		cpuid.ASIMD, cpuid.ASIMDDP, cpuid.SVE,
	} {
		if cpuid.CPU.Supports(f) {
			out = append(out, f.String())
		}
	}
	return out
}

// CPUInfo describes the processor for inspect and the service's /info.
type CPUInfo struct {
	Arch     string   `json:"arch"`
	Brand    string   `json:"brand"`
	Cores    int      `json:"physical_cores"`
	Threads  int      `json:"logical_cores"`
	Features []string `json:"features"`
}

// CPU returns what cpuid reports about this machine.
func CPU() CPUInfo {
	return CPUInfo{
		Arch:     runtime.GOARCH,
		Brand:    cpuid.CPU.BrandName,
		Cores:    cpuid.CPU.PhysicalCores,
		Threads:  cpuid.CPU.LogicalCores,
		Features: CPUFeatures(),
	}
}
