package server_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/weights/hub/hubtest"
)

// serve --model ORG/NAME downloads from the Hub into its cache and names
// the model by its repository id in /info and the metrics, with the
// weights' SHA-256 and the revision served.
func TestServeHubModel(t *testing.T) {
	t.Parallel()
	dir := "../testdata/models/tiny-odd"
	repo := &hubtest.Repo{ID: "org/tiny", Files: map[string][]byte{}}
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		repo.Files[name] = b
	}
	s := hubtest.New(t, "hf_test", repo)
	cache := t.TempDir()
	p := start(t, []string{"HF_ENDPOINT=" + s.URL(), "HF_HUB_CACHE=" + cache, "HF_TOKEN=hf_test", "HF_HUB_OFFLINE="}, "--model", "org/tiny")
	var info struct {
		Model         string
		WeightsSHA256 string `json:"weights_sha256"`
		Hub           struct{ Repo, Revision, Commit string }
	}
	p.get("/info").json(t, &info)
	if info.Model != "org/tiny" || info.WeightsSHA256 != hubtest.SHA256(repo.Files["model.safetensors"]) ||
		info.Hub.Repo != "org/tiny" || info.Hub.Revision != "main" || info.Hub.Commit != repo.Commit() {
		t.Errorf("/info: %+v", info)
	}
	if m := string(p.get("/metrics").body); !strings.Contains(m, `model="org/tiny"`) {
		t.Errorf("metrics do not name the model org/tiny")
	}
	if _, err := os.Stat(filepath.Join(cache, "models--org--tiny", "snapshots", repo.Commit(), "model.safetensors")); err != nil {
		t.Error(err)
	}
}

// A wrong --model-sha256 stops serve before it listens.
func TestServeWrongModelSHA256(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--model", "../testdata/models/tiny-odd",
		"--model-sha256", strings.Repeat("0", 64))
	cmd.Env = os.Environ()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("serve with a wrong --model-sha256 kept running")
	}
	if err == nil || strings.Contains(string(out), "listening") || !strings.Contains(string(out), "refusing to load") {
		t.Errorf("exit %v, output %s", err, out)
	}
}
