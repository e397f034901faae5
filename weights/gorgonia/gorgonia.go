// Package gorgonia is the boundary between checkpoint tensors and
// gorgonia.org/tensor for Go programs that compute with gorgonia: Dense
// wraps a tensor's float32 data without copying. It lives apart from
// package weights so that programs which only run the engine (the
// distilbert binary) do not link gorgonia and its dependencies.
package gorgonia

import (
	"gorgonia.org/tensor"

	"github.com/distilbert-go/distilbert/weights"
)

// Dense wraps t.Data in a gorgonia dense tensor of t's shape without
// copying. It returns nil for non-float dtypes and for tensors with no
// elements, which gorgonia cannot represent. The result aliases the
// checkpoint: it is read-only and valid while the weights.File is open.
func Dense(t *weights.Tensor) *tensor.Dense {
	if len(t.Data) == 0 || len(t.Data) != t.NumElements() {
		return nil
	}
	return tensor.New(tensor.WithShape(append([]int(nil), t.Shape...)...), tensor.WithBacking(t.Data))
}
