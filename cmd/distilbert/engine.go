package main

import (
	"flag"
	"os"
	"sync"

	"github.com/distilbert-go/distilbert/kernels"
)

// --device is shared by every command that loads a model.
const (
	deviceEnv   = "DISTILBERT_DEVICE"
	deviceUsage = "where the forward pass runs: cpu, auto (the best device this binary and machine have), or cuda[:N] in a -tags cuda build; default $" + deviceEnv + " or cpu"
)

func deviceDefault() string {
	if d := os.Getenv(deviceEnv); d != "" {
		return d
	}
	return "cpu"
}

// --gpu-precision is shared likewise.
const (
	gpuPrecisionEnv   = "DISTILBERT_GPU_PRECISION"
	gpuPrecisionUsage = "arithmetic of the linear layers on a GPU: fp32 (parity with the CPU), tf32, fp16 or bf16; default $" + gpuPrecisionEnv + " or fp32"
)

// engineFlags choose the engine: --quantize, --device, --gpu-precision.
type engineFlags struct{ quantize, device, gpuPrecision string }

// register adds the flags with their environment twins as defaults;
// serve leaves the defaults empty and applies the environment itself.
func (f *engineFlags) register(fs *flag.FlagSet, envDefaults bool) {
	q, d, p := "", "cpu", ""
	if envDefaults {
		q, d, p = os.Getenv(quantizeEnv), deviceDefault(), os.Getenv(gpuPrecisionEnv)
	}
	fs.StringVar(&f.quantize, "quantize", q, quantizeUsage)
	fs.StringVar(&f.device, "device", d, deviceUsage)
	fs.StringVar(&f.gpuPrecision, "gpu-precision", p, gpuPrecisionUsage)
}

// configureKernels reads the kernel settings from the environment
// (DISTILBERT_KERNELS, DISTILBERT_INT8_KERNELS, DISTILBERT_SPIN,
// DISTILBERT_HUGEPAGES) and applies them, once per process.
var configureKernels = sync.OnceValues(func() (*kernels.Impl, error) {
	s, err := kernels.SettingsFromEnv(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return kernels.Configure(s)
})
