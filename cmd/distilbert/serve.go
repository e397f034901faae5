package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/server"
)

// cmdServe runs the HTTP service until SIGTERM or SIGINT, then drains.
// Every flag also reads DISTILBERT_<FLAG> (e.g. DISTILBERT_MAX_QUEUE) when
// not given on the command line; API keys come from --api-keys-file and/or
// DISTILBERT_API_KEYS (comma-separated).
func cmdServe(args []string, stdout io.Writer) error {
	fs := newFlagSet("serve")
	var model modelFlags
	model.register(fs)
	var ef engineFlags
	ef.register(fs, false) // DISTILBERT_QUANTIZE, _DEVICE, _GPU_PRECISION via ApplyEnv
	cfg := server.DefaultConfig()
	cfg.Version = version
	var keysFile string
	cfg.RegisterFlags(fs, &keysFile)
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, "Usage: distilbert serve [--model DIR|ID] [--model-sha256 HEX] [--addr HOST:PORT] [flags]\n\n"+
			"Every flag can also be set as DISTILBERT_<NAME> (e.g. DISTILBERT_MAX_QUEUE=64); the command line wins.\n"+
			"API keys: --api-keys-file and/or DISTILBERT_API_KEYS=key1,key2.\n\nFlags:\n")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return flag.ErrHelp // printed here, with more than the flags
	}
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("serve takes no arguments, got %q", rest[0])}
	}
	if err := server.ApplyEnv(fs, os.LookupEnv); err != nil {
		return usageError{err}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	cfg.APIKeys, err = server.LoadAPIKeys(keysFile, os.Getenv("DISTILBERT_API_KEYS"))
	if err != nil {
		return err
	}
	cfg.AdminKeys, err = server.LoadAPIKeys(cfg.AdminKeysFile, os.Getenv("DISTILBERT_ADMIN_KEYS"))
	if err != nil {
		return fmt.Errorf("admin keys: %w", err)
	}
	c, err := loadClassifier(model, ef)
	if err != nil {
		return err
	}
	given := map[string]bool{} // on the command line or in the environment
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	engineBatching(&cfg, given, c.Engine().Info())
	// A reload reads --model again with the same options: a directory's
	// new files, or a Hub id's newest revision.
	cfg.Loader = func() (*distilbert.Classifier, error) { return loadClassifier(model, ef) }
	cfg.OwnModel = true
	s, err := server.New(c, cfg)
	if err != nil {
		c.Close()
		return err
	}
	defer func() {
		// Past the shutdown grace a batch may still be running on the
		// model: the process exit releases it then, not an unmap under it.
		if s.EngineIdle() {
			s.Close()
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			s.Reload() // logs its outcome; a failure keeps the model serving
		}
	}()
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	go func() {
		// Ctrl-C drains without the shutdown delay, which is for load
		// balancers. After the first signal, a second one kills at once.
		sig := <-sigs
		signal.Stop(sigs)
		if sig == os.Interrupt {
			cancel(server.ErrInterrupted)
		} else {
			cancel(nil)
		}
	}()
	return s.Run(ctx)
}

// Batch limits an engine gets when --max-batch-size and --max-batch-tokens
// are not given: its own, up to these (a GPU takes far more than the CPU's
// 32 and 8192, but a bigger batch only adds latency past them).
const (
	servingBatchSequences = 256
	servingBatchTokens    = 32768
)

// engineBatching sets the batch limits that were not given to what the
// engine takes, so that serve --device cuda batches like a GPU wants.
func engineBatching(cfg *server.Config, given map[string]bool, info distilbert.EngineInfo) {
	seqs, tokens := info.BatchLimits()
	if !given["max-batch-size"] {
		cfg.MaxBatchSize = min(seqs, servingBatchSequences)
	}
	if !given["max-batch-tokens"] {
		cfg.MaxBatchTokens = min(tokens, servingBatchTokens)
	}
}
