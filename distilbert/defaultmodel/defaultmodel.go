// Package defaultmodel embeds the small sst2-mini sentiment model so that
// the binary works offline with no download. It is a 4-layer, dim-256
// DistilBERT-architecture model trained from scratch on SST-2 (82.1% dev
// accuracy), not the 91%-accurate distilbert-base-uncased-finetuned-sst-2.
package defaultmodel

import (
	"embed"
	"io/fs"
)

// Name identifies the embedded model in outputs and metrics.
const Name = "sst2-mini"

//go:embed sst2-mini/config.json sst2-mini/tokenizer.json sst2-mini/tokenizer_config.json sst2-mini/vocab.txt sst2-mini/special_tokens_map.json sst2-mini/README.md
var files embed.FS

// FS returns the model directory (config.json, tokenizer files) without
// model.safetensors; see Safetensors.
func FS() fs.FS {
	sub, err := fs.Sub(files, "sst2-mini")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
