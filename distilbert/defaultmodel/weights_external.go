//go:build nodefaultmodel

package defaultmodel

import (
	"fmt"
	"os"
)

// WeightsEnv names the model.safetensors of sst2-mini for a binary built
// with -tags nodefaultmodel: such a binary is 44 MB smaller, for
// deployments that always pass --model, and still runs the embedded-model
// code paths (and the tests) when pointed at the file.
const WeightsEnv = "DISTILBERT_DEFAULT_WEIGHTS"

// Safetensors reads the file named by WeightsEnv.
func Safetensors() ([]byte, error) {
	path := os.Getenv(WeightsEnv)
	if path == "" {
		return nil, fmt.Errorf("this binary was built without the embedded model (-tags nodefaultmodel): pass --model DIR, or set %s to sst2-mini's model.safetensors", WeightsEnv)
	}
	return os.ReadFile(path)
}
