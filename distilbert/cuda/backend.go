//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/distilbert-go/distilbert/distilbert"
)

func init() {
	// Above the CPU, so that --device auto takes a GPU that answers.
	distilbert.RegisterBackend(distilbert.Backend{Name: "cuda", AutoPriority: 10, Open: Open})
}

// Open opens the engine on the GPU spec.Device names ("cuda" is "cuda:0").
func Open(spec distilbert.EngineSpec) (distilbert.Engine, error) {
	ordinal := 0
	if _, n, ok := strings.Cut(spec.Device, ":"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("cuda: device %q: want cuda or cuda:N", spec.Device)
		}
		ordinal = v
	}
	dev, err := openGPU(ordinal)
	if err != nil {
		return nil, err
	}
	d := dev.desc
	info := distilbert.EngineInfo{
		Backend: "cuda", Device: "cuda:" + strconv.Itoa(ordinal), DeviceName: d.name, DeviceMemory: d.memory,
		Kernels: fmt.Sprintf("cuda sm_%d%d, cuBLAS %d, driver %d", d.ccMajor, d.ccMinor, d.blas, d.driver),
	}
	// DISTILBERT_CUDA_GRAPHS=0 launches every kernel each pass, to measure
	// what the graphs save.
	e, err := newEngine(dev, spec, info, engineOptions{graphs: os.Getenv("DISTILBERT_CUDA_GRAPHS") != "0"})
	if err != nil {
		dev.close()
		return nil, err
	}
	return e, nil
}
