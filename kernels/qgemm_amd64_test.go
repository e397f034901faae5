//go:build amd64 && !purego

package kernels

import (
	"testing"

	"github.com/klauspost/cpuid/v2"
)

func TestInt8AVX2Kernel(t *testing.T) {
	if !avx2.Supported() {
		t.Skip("no AVX2")
	}
	checkQMicro(t, qKernelAVX2)
}

func TestInt8VNNIKernel(t *testing.T) {
	if !avx512.Supported() || !cpuid.CPU.Supports(cpuid.AVX512VNNI) {
		t.Skip("no AVX-512 VNNI")
	}
	if avx512.Int8Kernel() != "avx512-vnni" {
		t.Fatal("the CPU has AVX-512 VNNI but avx512 does not use its int8 kernel")
	}
	checkQMicro(t, qKernelVNNI)
}

func TestInt8AVXVNNIKernel(t *testing.T) {
	if !avx2.Supported() || !cpuid.CPU.Supports(cpuid.AVXVNNI) {
		t.Skip("no AVX-VNNI")
	}
	if avx2.Int8Kernel() != "avx-vnni" {
		t.Fatal("the CPU has AVX-VNNI but avx2 does not use its int8 kernel")
	}
	checkQMicro(t, qKernelAVXVNNI)
}
