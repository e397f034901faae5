package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/distilbert/defaultmodel"
	"github.com/distilbert-go/distilbert/weights/hub"
)

// modelFlags are --model and --model-sha256, shared by every command that
// loads a model.
type modelFlags struct {
	spec   string // a directory or a Hub id
	sha256 string
}

const modelUsage = "checkpoint directory, or Hugging Face Hub id ORG/NAME[@REVISION] resolved in the Hub cache (default: embedded sst2-mini)"

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.spec, "model", "", modelUsage)
	fs.StringVar(&m.sha256, "model-sha256", "", "refuse to load unless the weights file's SHA-256 is this hex digest")
}

// resolveModel turns --model into a checkpoint directory and the options
// that name it. An existing path wins; otherwise a valid Hub id is looked
// up in the Hub cache, downloaded first unless HF_HUB_OFFLINE is set.
// Anything else is left to distilbert.Load's "no such directory" error.
func resolveModel(spec string) (string, []distilbert.Option, error) {
	if _, err := os.Stat(spec); err == nil || !errors.Is(err, os.ErrNotExist) {
		return spec, nil, nil
	}
	id, err := hub.ParseID(spec)
	if err != nil {
		return spec, nil, nil
	}
	env, err := hub.ReadEnv(os.Getenv)
	if err != nil {
		return "", nil, err
	}
	c := hub.NewClient(env)
	c.Progress, c.Terminal = progressOutput(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	snap, err := c.Resolve(ctx, id)
	if err != nil {
		return "", nil, fmt.Errorf("--model %s is not a directory, and as a Hub id: %w", spec, err)
	}
	return snap.Dir, []distilbert.Option{
		distilbert.WithName(id.Repo),
		distilbert.WithHubSource(distilbert.HubSource{Repo: id.Repo, Revision: id.Revision, Commit: snap.Commit}),
	}, nil
}

// progressOutput says whether w is a terminal, where a redrawn bar makes
// sense; elsewhere (logs, pipes) progress is a line per file.
func progressOutput(w io.Writer) (io.Writer, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return w, false
	}
	st, err := f.Stat()
	return w, err == nil && st.Mode()&os.ModeCharDevice != 0
}

// cmdDownload fetches a model into the Hub cache and prints its snapshot
// directory, which --model also accepts.
func cmdDownload(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("download")
	revision := fs.String("revision", "", "branch, tag or commit (default main, or the id's @REVISION)")
	cacheDir := fs.String("cache-dir", "", "Hub cache directory (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{errors.New("download takes one model id, e.g. distilbert download distilbert/distilbert-base-uncased-finetuned-sst-2-english")}
	}
	id, err := hub.ParseID(rest[0])
	if err != nil {
		return usageError{err}
	}
	if *revision != "" {
		if id.Revision != hub.DefaultRevision && id.Revision != *revision {
			return usageError{fmt.Errorf("revision given twice: %s and --revision %s", rest[0], *revision)}
		}
		if err := hub.ValidateRevision(*revision); err != nil {
			return usageError{err}
		}
		id.Revision = *revision
	}
	env, err := hub.ReadEnv(os.Getenv)
	if err != nil {
		return err
	}
	c := hub.NewClient(env)
	if *cacheDir != "" {
		c.CacheDir = *cacheDir
	}
	c.Progress, c.Terminal = progressOutput(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	snap, err := c.Resolve(ctx, id)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, snap.Dir)
	return err
}

// fileDigest is one checkpoint file as inspect lists it.
type fileDigest struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// checkpointDigests hashes every regular file of a checkpoint (following
// the Hub cache's symlinks); for the embedded model, the embedded files
// plus the weights.
func checkpointDigests(dir string, c *distilbert.Classifier) ([]fileDigest, error) {
	var fsys fs.FS
	if dir == "" {
		fsys = defaultmodel.FS()
	} else {
		fsys = os.DirFS(dir)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []fileDigest
	for _, e := range entries {
		st, err := fs.Stat(fsys, e.Name())
		if err != nil || !st.Mode().IsRegular() {
			continue // a dangling link or a folder: not a file Load reads
		}
		f, err := fsys.Open(e.Name())
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, fileDigest{Name: e.Name(), Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	if dir == "" {
		data, err := defaultmodel.Safetensors()
		if err != nil {
			return nil, err
		}
		out = append(out, fileDigest{Name: "model.safetensors", Bytes: int64(len(data)), SHA256: c.WeightsSHA256()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
