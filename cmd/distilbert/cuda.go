//go:build cuda

package main

// The GPU backend: --device cuda[:N] and auto's first choice.
import _ "github.com/distilbert-go/distilbert/distilbert/cuda"
