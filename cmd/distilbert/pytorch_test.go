package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestInspectPyTorch: inspect and predict read a directory that holds only
// pytorch_model.bin, and inspect names the checkpoint's format.
func TestInspectPyTorch(t *testing.T) {
	const dir = "../../testdata/models/tiny-pt"
	code, out, errs := runCLI(t, "", "inspect", "--json", "--model", dir)
	var in struct {
		Format  string                  `json:"format"`
		Tensors []struct{ Name string } `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(out), &in); code != 0 || err != nil {
		t.Fatalf("inspect --json: exit %d, %v\n%s%s", code, err, out, errs)
	}
	if in.Format != "pytorch-zip" || len(in.Tensors) != 40 {
		t.Errorf("inspect --json: format %q, %d tensors", in.Format, len(in.Tensors))
	}
	code, out, _ = runCLI(t, "", "inspect", "--model", dir)
	if code != 0 || !strings.Contains(out, "format       pytorch-zip\n") {
		t.Errorf("inspect: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "", "inspect")
	if code != 0 || !strings.Contains(out, "format       safetensors\n") {
		t.Errorf("inspect of the embedded model: exit %d\n%s", code, out)
	}
	code, out, errs = runCLI(t, "", "predict", "--model", dir, "good")
	if code != 0 || !strings.Contains(out, "POSITIVE") {
		t.Errorf("predict: exit %d\n%s%s", code, out, errs)
	}
}
