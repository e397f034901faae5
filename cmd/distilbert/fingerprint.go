package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/distilbert/defaultmodel"
)

// modelFingerprint names what a model computes, for the shared cache's
// keys: the SHA-256 of its weights, the quantization, the device and the
// arithmetic. When the classifier can report its weights' digest itself
// (Classifier.WeightsSHA256), this can read it from there instead.
func modelFingerprint(c *distilbert.Classifier, dir string) (string, error) {
	h := sha256.New()
	if dir == "" {
		data, err := defaultmodel.Safetensors()
		if err != nil {
			return "", err
		}
		h.Write(data)
	} else {
		f, err := os.Open(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("fingerprint: %w", err)
		}
	}
	q := c.Model().Quantization()
	precision := "F32"
	if q == distilbert.QuantInt8 {
		precision = "I8"
	}
	return fmt.Sprintf("sha256:%s quantization:%s device:cpu precision:%s", hex.EncodeToString(h.Sum(nil)), q, precision), nil
}
