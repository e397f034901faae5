// Package distilbert is a DistilBertForSequenceClassification forward pass
// over Hugging Face checkpoints, and the text-in, label-out pipeline around
// it.
//
// Reading order: config.go (config.json), model.go (tensor names and shapes
// bound to a Model), forward.go (embeddings → layers → classifier head, one
// function each), pipeline.go (Classifier.Predict), load.go (directories and
// the embedded default model). Numeric work is done by the kernel set chosen
// in package kernels; the tokenizer lives in package tokenize.
//
// The forward pass stacks the sequences of a batch without padding, so
// linear layers run once over every token and attention runs per sequence;
// results equal running each sequence alone.
package distilbert
