//go:build !nodefaultmodel

package defaultmodel

import (
	_ "embed"
	"unsafe"
)

// The weights are embedded as a string, not through embed.FS, because
// embed.FS.ReadFile returns a copy: as a string they stay in the binary's
// read-only data and the safetensors reader views them in place.
//
//go:embed sst2-mini/model.safetensors
var safetensors string

// Safetensors returns the embedded model.safetensors bytes. They live in
// read-only memory: callers must never write to them.
func Safetensors() ([]byte, error) {
	return unsafe.Slice(unsafe.StringData(safetensors), len(safetensors)), nil
}
