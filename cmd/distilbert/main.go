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
  distilbert predict  [--model DIR|ID] [TEXT...] [--input FILE.jsonl] [--output FILE] [--ids]
  distilbert tokenize [--model DIR|ID] [TEXT...] [--input FILE.jsonl] [--output FILE]
  distilbert inspect  [--model DIR|ID] [--json]
  distilbert bench    [--model DIR|ID] [--seq 16,64,128] [--batch 1,8,32] [--threads N] [--min-time 1s] [--json]
  distilbert serve    [--model DIR|ID] [--addr HOST:PORT] [--max-batch-size N] [--api-keys-file F] ... (serve --help)
  distilbert download ID [--revision REV] [--cache-dir DIR]
  distilbert healthcheck [--addr HOST:PORT] [--path /readyz] [--timeout 3s] [--tls]
  distilbert version

Without --model the embedded sst2-mini model is used. A Hub ID (ORG/NAME or
ORG/NAME@REVISION) is read from the Hugging Face cache, downloaded first
unless HF_HUB_OFFLINE=1 (HF_ENDPOINT, HF_TOKEN and HF_HUB_CACHE apply);
--model-sha256 HEX refuses weights with another SHA-256. Input lines are JSON
objects {"text": "..."}; with no TEXT and no --input, lines are read from stdin.
Set DISTILBERT_KERNELS=generic|avx2|avx512|neon to force a kernel path, and
DISTILBERT_SPIN=0 to stop idle kernel threads from spinning (default 100us),
DISTILBERT_HUGEPAGES=0 to keep weights off transparent huge pages.
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
