//go:build !cuda

package cuda

import "testing"

// gpuDevices: a build without -tags cuda has no GPU backend.
func gpuDevices(t *testing.T) []string { return nil }
