// Package hub fetches model checkpoints from the Hugging Face Hub into the
// Hub's shared cache, with the same HTTP protocol and on-disk layout as the
// huggingface_hub Python library, so a model downloaded here is reused by
// Python tools and the other way round.
//
// Layout under the cache directory (see CacheDir):
//
//	models--{org}--{name}/blobs/{etag}                  file contents, by ETag
//	models--{org}--{name}/refs/{revision}               the commit a branch or tag resolved to
//	models--{org}--{name}/snapshots/{commit}/{file}     relative symlink to ../../blobs/{etag}
//	.locks/models--{org}--{name}/{etag}.lock            held while a blob is written
//
// Only the files the engine reads are fetched: config.json, the tokenizer
// files and one weights file (model.safetensors, else pytorch_model.bin).
// Blobs are written as {etag}.incomplete, resumed with a Range request after
// an interruption, checked against their SHA-256 (the ETag of LFS files) and
// renamed only when complete.
package hub
