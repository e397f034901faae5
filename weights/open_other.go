//go:build !unix

package weights

import (
	"fmt"
	"os"
)

// Open reads the safetensors file at path into memory and parses it. (On
// unix systems it memory-maps the file instead.)
func Open(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %v", err)
	}
	return Parse(path, data)
}

// OpenPyTorch reads a torch.save checkpoint (pytorch_model.bin) into memory
// and parses it with ParsePyTorch.
func OpenPyTorch(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %v", err)
	}
	return ParsePyTorch(path, data)
}
