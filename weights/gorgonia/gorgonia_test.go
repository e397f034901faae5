package gorgonia

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/distilbert-go/distilbert/weights"
)

func TestDense(t *testing.T) {
	var buf bytes.Buffer
	err := weights.Write(&buf, []weights.WriteTensor{
		{Name: "a", DType: "F32", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 0.1}},
		{Name: "scalar", DType: "F32", Shape: []int{}, Data: []float32{42}},
		{Name: "empty", DType: "F32", Shape: []int{0, 4}, Data: []float32{}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := weights.Parse("sample", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Tensor("a")
	d := Dense(a)
	if !slices.Equal(d.Shape(), []int{2, 3}) {
		t.Fatalf("shape %v", d.Shape())
	}
	if v, err := d.At(1, 2); err != nil || v.(float32) != 0.1 {
		t.Errorf("At(1,2) = %v, %v", v, err)
	}
	if back := d.Data().([]float32); &back[0] != &a.Data[0] {
		t.Error("Dense copied the data")
	}
	s, _ := f.Tensor("scalar")
	if d := Dense(s); d == nil || d.Dims() != 0 || d.Data().(float32) != 42 {
		t.Errorf("scalar Dense = %v", d)
	}
	if e, _ := f.Tensor("empty"); Dense(e) != nil {
		t.Error("empty tensor: want nil Dense")
	}
}

// A real checkpoint's tensors wrap with their shapes.
func TestDenseCheckpoint(t *testing.T) {
	f, err := weights.Open(filepath.Join("..", "..", "testdata", "models", "tiny-odd", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, _ := f.Tensor("classifier.weight")
	if d := Dense(c); d == nil || !slices.Equal(d.Shape(), []int{3, 48}) {
		t.Errorf("Dense = %v", d)
	}
}
