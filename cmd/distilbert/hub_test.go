package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/weights/hub/hubtest"
)

const tinyOdd = "../../testdata/models/tiny-odd"

// tinyOddRepo serves tiny-odd's files as the Hub repository org/tiny.
func tinyOddRepo(t *testing.T) *hubtest.Repo { return dirRepo(t, "org/tiny", tinyOdd) }

// dirRepo serves a checkpoint directory's files as a Hub repository.
func dirRepo(t *testing.T, id, dir string) *hubtest.Repo {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	repo := &hubtest.Repo{ID: id, Files: map[string][]byte{}}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		repo.Files[e.Name()] = b
	}
	return repo
}

// hubEnv points the Hub settings at a fake Hub and an empty cache.
func hubEnv(t *testing.T, endpoint string) string {
	cache := t.TempDir()
	t.Setenv("HF_ENDPOINT", endpoint)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	return cache
}

// A model downloaded by `distilbert download` is then read by --model ID
// with HF_HUB_OFFLINE=1 and predicts exactly what its directory does.
func TestDownloadThenPredictOffline(t *testing.T) {
	repo := tinyOddRepo(t)
	s := hubtest.New(t, "", repo)
	cache := hubEnv(t, s.URL())

	code, out, errs := runCLI(t, "", "download", "org/tiny")
	if code != 0 {
		t.Fatalf("download: exit %d: %s", code, errs)
	}
	snapDir := filepath.Join(cache, "models--org--tiny", "snapshots", repo.Commit())
	if strings.TrimSpace(out) != snapDir {
		t.Errorf("download printed %q, want %s", out, snapDir)
	}
	if !strings.Contains(errs, "model.safetensors: 5.8 MiB downloaded") {
		t.Errorf("download's progress lines:\n%s", errs)
	}
	if target, err := os.Readlink(filepath.Join(snapDir, "model.safetensors")); err != nil || !strings.HasPrefix(target, "../../blobs/") {
		t.Errorf("snapshot weights: %q, %v", target, err)
	}

	t.Setenv("HF_HUB_OFFLINE", "1")
	s.ResetRequests()
	texts := []string{"a charming and often affecting journey", "unflinchingly bleak", "Crème brûlée 😀"}
	code, fromHub, errs := runCLI(t, "", append([]string{"predict", "--ids", "--model", "org/tiny"}, texts...)...)
	if code != 0 {
		t.Fatalf("predict --model org/tiny offline: exit %d: %s", code, errs)
	}
	_, fromDir, _ := runCLI(t, "", append([]string{"predict", "--ids", "--model", tinyOdd}, texts...)...)
	if fromHub != fromDir || len(decodeLines[predictLine](t, fromHub)) != len(texts) {
		t.Errorf("--model org/tiny gives\n%s\n--model DIR gives\n%s", fromHub, fromDir)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("offline predict made %d requests", n)
	}

	// inspect names the repository, not the snapshot's commit, and lists
	// each file's SHA-256.
	code, out, errs = runCLI(t, "", "inspect", "--json", "--model", "org/tiny")
	var in struct {
		Model         string
		WeightsSHA256 string `json:"weights_sha256"`
		Hub           struct{ Repo, Revision, Commit string }
		Files         []struct {
			Name, SHA256 string
			Bytes        int64
		}
	}
	if err := json.Unmarshal([]byte(out), &in); code != 0 || err != nil {
		t.Fatalf("inspect: exit %d, %v: %s", code, err, errs)
	}
	wantSHA := hubtest.SHA256(repo.Files["model.safetensors"])
	if in.Model != "org/tiny" || in.Hub.Repo != "org/tiny" || in.Hub.Revision != "main" || in.Hub.Commit != repo.Commit() || in.WeightsSHA256 != wantSHA {
		t.Errorf("inspect: %+v", in)
	}
	for _, f := range in.Files {
		if f.SHA256 != hubtest.SHA256(repo.Files[f.Name]) || f.Bytes != int64(len(repo.Files[f.Name])) {
			t.Errorf("inspect file %+v", f)
		}
	}
	if len(in.Files) != 6 { // config, weights, four tokenizer files (no README)
		t.Errorf("inspect lists %d files: %+v", len(in.Files), in.Files)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"predict", "--model", "org/tiny", "--model-sha256", strings.Repeat("0", 64), "x"}, 1, "not the expected"},
		{[]string{"predict", "--model", "org/tiny@v2", "x"}, 1, "distilbert download org/tiny@v2"},
		{[]string{"predict", "--model", "org/absent", "x"}, 1, "HF_HUB_OFFLINE"},
		{[]string{"download", "org/tiny@v1", "--revision", "v2"}, 2, "revision given twice"},
		{[]string{"download", "../x"}, 2, "repository id"},
		{[]string{"download"}, 2, "one model id"},
	} {
		code, _, errs := runCLI(t, "", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d mentioning %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	if code, _, errs := runCLI(t, "", "predict", "--model", "org/tiny", "--model-sha256", strings.ToUpper(wantSHA), "x"); code != 0 {
		t.Errorf("right --model-sha256 refused: %s", errs)
	}
}

// --model ID downloads what the cache lacks when online.
func TestModelIDDownloadsOnDemand(t *testing.T) {
	s := hubtest.New(t, "", tinyOddRepo(t))
	cache := hubEnv(t, s.URL())
	code, out, errs := runCLI(t, "", "tokenize", "--model", "org/tiny@main", "Hello, world!")
	if code != 0 || strings.TrimSpace(out) != `{"input_ids":[101,7592,1010,2088,999,102]}` {
		t.Fatalf("tokenize --model org/tiny@main: exit %d, %s %s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(cache, "models--org--tiny", "refs", "main")); err != nil {
		t.Error(err)
	}
	other := t.TempDir()
	code, out, errs = runCLI(t, "", "download", "--cache-dir", other, "org/tiny", "--revision", "main")
	if want := filepath.Join(other, "models--org--tiny", "snapshots"); code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("download --cache-dir: exit %d, %q, %s", code, out, errs)
	}
	code, _, errs = runCLI(t, "", "predict", "--model", "org/missing", "x")
	if code != 1 || !strings.Contains(errs, "not a directory, and as a Hub id") || !strings.Contains(errs, "HF_TOKEN") {
		t.Errorf("unknown repository: exit %d, %s", code, errs)
	}
}

// A repository with only pytorch_model.bin is fetched and read as such.
func TestModelIDPyTorchOnly(t *testing.T) {
	const dir = "../../testdata/models/tiny-pt"
	s := hubtest.New(t, "", dirRepo(t, "org/tiny-pt", dir))
	hubEnv(t, s.URL())
	text := "a charming and often affecting journey"
	code, fromHub, errs := runCLI(t, "", "predict", "--model", "org/tiny-pt", text)
	if code != 0 {
		t.Fatalf("predict --model org/tiny-pt: exit %d: %s", code, errs)
	}
	if _, fromDir, _ := runCLI(t, "", "predict", "--model", dir, text); fromHub != fromDir {
		t.Errorf("--model org/tiny-pt gives %s, the directory %s", fromHub, fromDir)
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	code, out, errs := runCLI(t, "", "inspect", "--model", "org/tiny-pt")
	if code != 0 || !strings.Contains(out, "format       pytorch-zip") || !strings.Contains(out, "pytorch_model.bin") {
		t.Errorf("inspect: exit %d, %s\n%s", code, errs, out)
	}
}

// inspect lists the embedded model's files too, with the weights' digest.
func TestInspectEmbeddedFiles(t *testing.T) {
	code, out, errs := runCLI(t, "", "inspect", "--json")
	var in struct {
		WeightsSHA256 string `json:"weights_sha256"`
		Files         []struct {
			Name, SHA256 string
			Bytes        int64
		}
	}
	if err := json.Unmarshal([]byte(out), &in); code != 0 || err != nil {
		t.Fatalf("inspect: exit %d, %v: %s", code, err, errs)
	}
	found := false
	for _, f := range in.Files {
		if f.Name == "model.safetensors" {
			found = f.SHA256 == in.WeightsSHA256 && len(f.SHA256) == 64 && f.Bytes > 40<<20
		} else if len(f.SHA256) != 64 || f.Bytes == 0 {
			t.Errorf("file %+v", f)
		}
	}
	if !found || len(in.Files) < 5 {
		t.Errorf("inspect files %+v, weights %s", in.Files, in.WeightsSHA256)
	}
}

// serve refuses weights with the wrong SHA-256 before it listens.
func TestServeRefusesWrongSHA256(t *testing.T) {
	done := make(chan struct{})
	var code int
	var errs string
	go func() {
		defer close(done)
		code, _, errs = runCLI(t, "", "serve", "--addr", "127.0.0.1:0", "--model", tinyOdd, "--model-sha256", strings.Repeat("ab", 32))
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("serve with a wrong --model-sha256 is still running")
	}
	if code != 1 || !strings.Contains(errs, "refusing to load") {
		t.Errorf("exit %d, %q", code, errs)
	}
}
