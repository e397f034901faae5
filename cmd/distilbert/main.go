// Command distilbert runs DistilBERT sentiment models: predict, tokenize
// and inspect, with the embedded sst2-mini model unless --model is given.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `distilbert: DistilBERT inference in one static binary

Usage:
  distilbert predict     [model flags] [TEXT...] [--input FILE.jsonl] [--output FILE] [--ids]
  distilbert tokenize    [model flags] [TEXT...] [--input FILE.jsonl] [--output FILE]
  distilbert inspect     [model flags] [--json]
  distilbert bench       [model flags] [--seq 16,64,128] [--batch 1,8,32] [--threads 1,2] [--min-time 1s] [--min-iters 5] [--cpuprofile FILE] [--json]
  distilbert serve       [model flags] [--addr HOST:PORT] [--max-batch-size N] [--api-keys-file F] ... (serve --help)
  distilbert download    ID [--revision REV] [--cache-dir DIR]
  distilbert healthcheck [--addr HOST:PORT] [--path /readyz] [--timeout 3s] [--tls]
  distilbert version
  distilbert help

Model flags (every command that loads a model):
  --model DIR|ID       checkpoint directory or Hub id ORG/NAME[@REVISION] (default: the embedded sst2-mini)
  --model-sha256 HEX   refuse weights with another SHA-256
  --quantize int8      int8 encoder (default none; $DISTILBERT_QUANTIZE)
  --device DEVICE      cpu, auto, or cuda[:N] in a -tags cuda build (default cpu; $DISTILBERT_DEVICE)
  --gpu-precision P    fp32, tf32, fp16 or bf16 on a GPU (default fp32; $DISTILBERT_GPU_PRECISION)

A Hub id is read from the Hugging Face cache, downloaded first unless
HF_HUB_OFFLINE=1 (HF_ENDPOINT, HF_TOKEN and HF_HUB_CACHE apply). Input lines
are JSON objects {"text": "..."}; with no TEXT and no --input, lines are read
from stdin. 'distilbert CMD --help' lists a command's flags.

Environment, read once at start-up:
  DISTILBERT_KERNELS=generic|avx2|avx512|neon            force the float32 kernels
  DISTILBERT_INT8_KERNELS=go|avx2|avx-vnni|avx512-vnni|neon-sdot  force the int8 kernel
  DISTILBERT_SPIN=0|DURATION   how long idle kernel threads spin (default 100us)
  DISTILBERT_HUGEPAGES=0       keep packed weights off transparent huge pages
`

// usageError marks errors that should print the usage hint (exit code 2).
type usageError struct{ error }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "predict":
		err = cmdPredict(rest, stdin, stdout)
	case "tokenize":
		err = cmdTokenize(rest, stdin, stdout)
	case "inspect":
		err = cmdInspect(rest, stdout)
	case "bench":
		err = cmdBench(rest, stdout)
	case "serve":
		err = cmdServe(rest, stdout)
	case "download":
		err = cmdDownload(rest, stdout, stderr)
	case "healthcheck":
		err = cmdHealthcheck(rest, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "distilbert", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Errorf("unknown command %q", cmd)}
	}
	if err == nil {
		return 0
	}
	var help helpRequest
	if errors.As(err, &help) {
		fmt.Fprintf(stdout, "Usage: distilbert %s [flags]\n\nFlags:\n", help.fs.Name())
		help.fs.SetOutput(stdout)
		help.fs.PrintDefaults()
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	// One line on stderr, whatever the error's own layout.
	fmt.Fprintln(stderr, "distilbert: "+strings.Join(strings.Fields(err.Error()), " "))
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "run 'distilbert help' for usage")
		return 2
	}
	return 1
}

// helpRequest is a subcommand's -h/--help: run prints that command's flags.
type helpRequest struct{ fs *flag.FlagSet }

func (h helpRequest) Error() string { return flag.ErrHelp.Error() }
func (h helpRequest) Unwrap() error { return flag.ErrHelp }

// parseInterspersed parses flags that may come before, between or after
// positional arguments ("predict good --ids bad"); "--" ends flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, helpRequest{fs}
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
