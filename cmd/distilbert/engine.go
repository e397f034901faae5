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

func deviceFlag(fs *flag.FlagSet) *string {
	return fs.String("device", deviceDefault(), deviceUsage)
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
