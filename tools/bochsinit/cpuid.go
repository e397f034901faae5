package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/klauspost/cpuid/v2"
	"golang.org/x/sys/cpu"
)

// cpuidMain prints what the CPU reports, the check that the emulated CPU
// has the features the AVX-512 kernels need:
//
//	scripts/bochs-run.sh bin/bochsinit cpuid
//
// An argument is the exit status to end with (to test that it propagates).
func cpuidMain(args []string) int {
	fmt.Printf("brand: %s\n", cpuid.CPU.BrandName)
	fmt.Printf("GOMAXPROCS=%d NumCPU=%d\n", runtime.GOMAXPROCS(0), runtime.NumCPU())
	for _, f := range []cpuid.FeatureID{
		cpuid.AVX2, cpuid.FMA3, cpuid.F16C,
		cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.AVX512DQ, cpuid.AVX512CD,
		cpuid.AVX512VNNI, cpuid.AVX512BF16, cpuid.AVX512FP16, cpuid.AVX512VBMI, cpuid.AVX512VBMI2,
		cpuid.AVX512IFMA, cpuid.AVX512BITALG, cpuid.AVX512VPOPCNTDQ, cpuid.AVX512VP2INTERSECT,
		cpuid.AVXVNNI, cpuid.AMXTILE,
	} {
		fmt.Printf("cpuid %-20s %v\n", f, cpuid.CPU.Supports(f))
	}
	x := cpu.X86
	// x/sys/cpu, unlike klauspost/cpuid, obeys GODEBUG=cpu.NAME=off.
	fmt.Printf("GODEBUG=%s\n", os.Getenv("GODEBUG"))
	fmt.Printf("x/sys/cpu AVX512F=%v BW=%v VL=%v DQ=%v VNNI=%v BF16=%v\n",
		x.HasAVX512F, x.HasAVX512BW, x.HasAVX512VL, x.HasAVX512DQ, x.HasAVX512VNNI, x.HasAVX512BF16)
	if len(args) > 0 {
		n, err := strconv.Atoi(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "cpuid: want an exit status, got", args[0])
			return 2
		}
		return n
	}
	return 0
}
