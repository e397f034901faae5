package main

import (
	"fmt"

	"github.com/distilbert-go/distilbert/distilbert"
)

// modelFingerprint names what a model computes, for the shared cache's
// keys: the SHA-256 of its weights (hashed at load), the quantization,
// the device and the arithmetic. Replicas share results only when all
// four agree.
func modelFingerprint(c *distilbert.Classifier) string {
	info := c.Engine().Info()
	return fmt.Sprintf("sha256:%s quantization:%s device:%s precision:%s",
		c.WeightsSHA256(), info.Quantization, info.Device, info.Precision)
}
