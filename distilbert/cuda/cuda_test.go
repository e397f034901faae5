//go:build cuda

package cuda

import (
	"sync"
	"testing"
)

var probe struct {
	once sync.Once
	err  error
	desc gpuDesc
}

// gpuDevices is cuda:0 when a driver and a GPU answer; otherwise the GPU
// targets are skipped with the reason, once.
func gpuDevices(t *testing.T) []string {
	probe.once.Do(func() {
		d, err := openGPU(0)
		if err != nil {
			probe.err = err
			return
		}
		probe.desc = d.desc
		d.close()
	})
	if probe.err != nil {
		t.Logf("no GPU targets: %v", probe.err)
		return nil
	}
	t.Logf("GPU: %+v", probe.desc)
	return []string{"cuda"}
}
