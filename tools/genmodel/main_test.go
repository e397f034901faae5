package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/weights"
)

func tinyOptions() options {
	o := defaultOptions()
	o.Dim, o.Heads, o.Layers, o.Hidden, o.Positions = 32, 2, 1, 40, 16
	o.Labels = []string{"neg", "neu", "pos"}
	return o
}

func TestGenerateLoadPredict(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir, tinyOptions()); err != nil {
		t.Fatal(err)
	}
	c, err := distilbert.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	preds, err := c.Predict(context.Background(), []string{"a charming and often affecting journey", ""})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range preds {
		if len(p.Logits) != 3 || p.Label == "" {
			t.Fatalf("prediction %+v", p)
		}
		for _, v := range p.Logits {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("non-finite logits %v", p.Logits)
			}
		}
	}
	if preds[0].Logits[0] == preds[1].Logits[0] {
		t.Errorf("different texts gave the same logits %v", preds[0].Logits)
	}

	f, err := weights.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ln, err := f.Float32("distilbert.transformer.layer.0.sa_layer_norm.weight", 32)
	if err != nil {
		t.Fatal(err)
	}
	bias, err := f.Float32("distilbert.transformer.layer.0.ffn.lin1.bias", 40)
	if err != nil {
		t.Fatal(err)
	}
	var sum2 float64
	for i := range ln {
		if ln[i] != 1 {
			t.Fatalf("LayerNorm weight[%d] = %v, want 1", i, ln[i])
		}
	}
	for _, v := range bias {
		sum2 += float64(v) * float64(v)
	}
	if std := math.Sqrt(sum2 / float64(len(bias))); std < 0.01 || std > 0.03 {
		t.Errorf("lin1 bias std %.4f, want about 0.02", std)
	}
}

func TestDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	o := tinyOptions()
	for _, dir := range []string{a, b} {
		if err := generate(dir, o); err != nil {
			t.Fatal(err)
		}
	}
	o.Seed = 2
	if err := generate(c, o); err != nil {
		t.Fatal(err)
	}
	read := func(dir, name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, name := range append([]string{"config.json", "model.safetensors"}, tokenizerFiles...) {
		if !bytes.Equal(read(a, name), read(b, name)) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
	if bytes.Equal(read(a, "model.safetensors"), read(c, "model.safetensors")) {
		t.Error("seeds 1 and 2 gave the same weights")
	}
}

func TestBadOptions(t *testing.T) {
	o := tinyOptions()
	o.Heads = 3
	if err := generate(t.TempDir(), o); err == nil {
		t.Error("dim 32 with 3 heads: no error")
	}
	if err := run([]string{"--dim", "8"}, new(bytes.Buffer)); err == nil {
		t.Error("no --out: no error")
	}
}
