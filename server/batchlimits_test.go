package server

import (
	"strings"
	"testing"

	"github.com/distilbert-go/distilbert/distilbert"
)

// The service's batch flags are checked against the engine's own limits:
// the CPU's by default, a GPU's (which declares larger ones) when it runs.
func TestBatchLimitsFollowTheEngine(t *testing.T) {
	c := DefaultConfig()
	c.MaxBatchSize, c.MaxBatchTokens = 256, 32768
	cpu := distilbert.EngineInfo{Device: "cpu"}
	err := c.checkBatchLimits(cpu)
	if err == nil || !strings.Contains(err.Error(), "--max-batch-size 256 is more than one engine call takes (32)") ||
		!strings.Contains(err.Error(), "--max-batch-tokens 32768") {
		t.Errorf("CPU engine: %v", err)
	}
	gpu := distilbert.EngineInfo{Device: "cuda:0", MaxBatchSequences: 1024, MaxBatchTokens: 131072}
	if err := c.checkBatchLimits(gpu); err != nil {
		t.Errorf("GPU engine: %v", err)
	}
}
