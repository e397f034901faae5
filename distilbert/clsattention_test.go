package distilbert

import (
	"math/rand/v2"
	"testing"

	"github.com/distilbert-go/distilbert/kernels"
)

// TestCLSAttentionMatchesFullLayer checks the last layer's key- and
// value-free attention (clsAttention) against the same layer computed in
// full (the traced path, which forms every key and value), on a batch of
// mixed lengths with padding, a one-token sequence and a fully masked one,
// on every kernel implementation, in float32 and int8, on the embedded
// model and on tiny-odd (odd head size).
func TestCLSAttentionMatchesFullLayer(t *testing.T) {
	for _, quant := range []Quantization{QuantNone, QuantInt8} {
		// float32 checks the algebra; int8 (the same code on quantized
		// weights) quantizes different operands on the two paths (the
		// layer's input rows on the full one, the heads' queries and
		// averaged inputs on the other), so it only has to stay well inside
		// int8's own distance from float32 (up to 0.2 on tiny-odd).
		tol := 1e-5
		if quant == QuantInt8 {
			tol = 5e-2
		}
		for _, model := range []string{"embedded", "tiny-odd"} {
			t.Run(string(quant)+"/"+model, func(t *testing.T) {
				forEachKernels(t, func(t *testing.T, im *kernels.Impl) {
					opts := []Option{WithKernels(im), WithQuantization(quant)}
					var c *Classifier
					var err error
					if model == "embedded" {
						c, err = LoadEmbedded(opts...)
					} else {
						c, err = Load(tinyOddDir, opts...)
					}
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					m := cpuModel(c)
					batch := clsTestBatch(m.Config.VocabSize)
					nl := len(m.Config.Labels)
					compact := make([]float32, len(batch)*nl)
					full := make([]float32, len(batch)*nl)
					if err := m.Forward(batch, compact); err != nil {
						t.Fatal(err)
					}
					if err := m.forward(batch, full, func(int, []float32) {}); err != nil {
						t.Fatal(err)
					}
					for i := range batch {
						got, want := compact[i*nl:i*nl+nl], full[i*nl:i*nl+nl]
						if d := maxDiff(got, float64s(want)); d > tol {
							t.Errorf("sequence %d (%d tokens): [CLS]-only %v, full layer %v (diff %.3g)", i, len(batch[i].IDs), got, want, d)
						}
					}
				})
			})
		}
	}
}

// clsTestBatch is a batch of random ids: lengths 1 to 40, one right-padded
// sequence, one with every key masked.
func clsTestBatch(vocab int) []Sequence {
	r := rand.New(rand.NewPCG(7, 7))
	ids := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(r.IntN(vocab))
		}
		return s
	}
	padded := make([]bool, 23)
	for i := range 17 {
		padded[i] = true
	}
	return []Sequence{
		{IDs: ids(40)},
		{IDs: ids(1)},
		{IDs: ids(23), Mask: padded},
		{IDs: ids(9), Mask: make([]bool, 9)},
		{IDs: ids(7)},
	}
}
