package hub

import (
	"fmt"
	"slices"
	"strings"
)

// Files the engine reads: the configuration, the tokenizer (whichever of
// these the repository has) and one weights file.
var (
	configFile     = "config.json"
	tokenizerFiles = []string{"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}
	// weightsFiles in order of preference: safetensors needs no unpickling.
	weightsFiles = []string{"model.safetensors", "pytorch_model.bin"}
)

// SelectFiles picks from a repository's file list what a checkpoint
// directory needs, or says what is missing.
func SelectFiles(repoFiles []string) ([]string, error) {
	has := func(f string) bool { return slices.Contains(repoFiles, f) }
	if !has(configFile) {
		return nil, fmt.Errorf("hub: the repository has no %s (is it a transformers model?)", configFile)
	}
	out := []string{configFile}
	tok := false
	for _, f := range tokenizerFiles {
		if has(f) {
			out = append(out, f)
			tok = tok || f == "tokenizer.json" || f == "vocab.txt"
		}
	}
	if !tok {
		return nil, fmt.Errorf("hub: the repository has neither tokenizer.json nor vocab.txt")
	}
	for _, f := range weightsFiles {
		if has(f) {
			return append(out, f), nil
		}
	}
	var other []string
	for _, f := range repoFiles {
		if strings.HasSuffix(f, ".safetensors") || strings.HasSuffix(f, ".bin") || strings.HasSuffix(f, ".index.json") ||
			strings.HasSuffix(f, ".h5") || strings.HasSuffix(f, ".msgpack") || strings.HasSuffix(f, ".onnx") {
			other = append(other, f)
		}
	}
	if len(other) > 0 {
		return nil, fmt.Errorf("hub: the repository has no model.safetensors or pytorch_model.bin (it has %s; sharded and non-PyTorch checkpoints are not supported)",
			strings.Join(other[:min(len(other), 5)], ", "))
	}
	return nil, fmt.Errorf("hub: the repository has no model.safetensors or pytorch_model.bin")
}

// hasCheckpoint reports whether a snapshot folder holds what Load needs.
func hasCheckpoint(names func(string) bool) bool {
	if !names(configFile) || !(names("tokenizer.json") || names("vocab.txt")) {
		return false
	}
	for _, w := range weightsFiles {
		if names(w) {
			return true
		}
	}
	return false
}
