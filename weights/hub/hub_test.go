package hub

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/weights/hub/hubtest"
)

// testRepo is a repository with every kind of file the Hub holds: what
// the engine reads, and what it must leave alone.
func testRepo(id string) *hubtest.Repo {
	weights := make([]byte, 3<<20+12345)
	rand.NewChaCha8([32]byte{1, 2}).Read(weights)
	return &hubtest.Repo{ID: id, Files: map[string][]byte{
		"config.json":           []byte(`{"architectures": ["DistilBertForSequenceClassification"]}`),
		"tokenizer.json":        []byte(`{"model": {"type": "WordPiece"}}`),
		"tokenizer_config.json": []byte(`{"do_lower_case": true}`),
		"vocab.txt":             []byte("[PAD]\n[UNK]\n"),
		"model.safetensors":     weights,
		"pytorch_model.bin":     []byte("a pickle the engine must not fetch when safetensors exist"),
		"README.md":             []byte("# a model card"),
		"flax_model.msgpack":    []byte("not for us"),
	}}
}

func newTestClient(t *testing.T, s *hubtest.Server) *Client {
	return &Client{Endpoint: s.URL(), CacheDir: t.TempDir(), retryDelay: time.Millisecond, IdleTimeout: 10 * time.Second}
}

func mustID(t *testing.T, s string) ID {
	t.Helper()
	id, err := ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDownloadCacheLayout(t *testing.T) {
	repo := testRepo("org/model")
	repo.Private = true
	s := hubtest.New(t, "hf_secret", repo)
	c := newTestClient(t, s)
	c.Token = "hf_secret"
	var progress bytes.Buffer
	c.Progress = &progress
	snap, err := c.Download(context.Background(), mustID(t, "org/model"))
	if err != nil {
		t.Fatal(err)
	}
	commit := repo.Commit()
	repoDir := filepath.Join(c.CacheDir, "models--org--model")
	if snap.Commit != commit || snap.Dir != filepath.Join(repoDir, "snapshots", commit) {
		t.Fatalf("snapshot %+v, want commit %s", snap, commit)
	}
	if ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err != nil || string(ref) != commit {
		t.Errorf("refs/main = %q, %v; want %s", ref, err, commit)
	}
	want := []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"}
	entries, _ := os.ReadDir(snap.Dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("snapshot holds %v, want %v", got, want)
	}
	for _, name := range want {
		data := repo.Files[name]
		etag := hubtest.GitBlobSHA1(data)
		if hubtest.IsLFS(name) {
			etag = hubtest.SHA256(data)
		}
		link := filepath.Join(snap.Dir, name)
		target, err := os.Readlink(link)
		if err != nil {
			t.Errorf("%s is not a symlink: %v", name, err)
			continue
		}
		if target != filepath.Join("..", "..", "blobs", etag) {
			t.Errorf("%s -> %s, want the relative ../../blobs/%s", name, target, etag)
		}
		if b, err := os.ReadFile(link); err != nil || !bytes.Equal(b, data) {
			t.Errorf("%s: contents differ (%v)", name, err)
		}
	}
	blobs, _ := os.ReadDir(filepath.Join(repoDir, "blobs"))
	if len(blobs) != len(want) {
		t.Errorf("%d blobs, want %d (no .incomplete left)", len(blobs), len(want))
	}
	if _, err := os.Stat(filepath.Join(c.CacheDir, ".locks", "models--org--model")); err != nil {
		t.Errorf("no lock folder: %v", err)
	}
	// The token goes to the Hub only, never to the CDN the LFS redirect
	// leads to; the CDN URL's signature never shows in progress output.
	var hubAuth, cdnGets int
	for _, r := range s.Requests() {
		switch r.Server {
		case "hub":
			if r.Authorization == "Bearer hf_secret" {
				hubAuth++
			}
		case "cdn":
			cdnGets++
			if r.Authorization != "" {
				t.Errorf("token sent to the CDN: %+v", r)
			}
		}
		if strings.Contains(r.Path, "pytorch_model.bin") || strings.Contains(r.Path, "README") || strings.Contains(r.Path, "msgpack") {
			t.Errorf("fetched a file the engine does not read: %s", r.Path)
		}
	}
	if hubAuth == 0 || cdnGets != 1 {
		t.Errorf("%d authorized Hub requests, %d CDN requests (want >0, 1)", hubAuth, cdnGets)
	}
	if strings.Contains(progress.String(), "secret") {
		t.Errorf("progress shows a secret:\n%s", progress.String())
	}
	if !strings.Contains(progress.String(), "model.safetensors: 3.0 MiB downloaded") {
		t.Errorf("no plain progress line per file:\n%s", progress.String())
	}

	// A second download finds everything in place: no file is fetched again.
	s.ResetRequests()
	progress.Reset()
	if _, err := c.Download(context.Background(), mustID(t, "org/model")); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Requests() {
		if r.Method == "GET" && r.Server == "cdn" || strings.Contains(r.Path, "/resolve/") && r.Method == "GET" {
			t.Errorf("second download fetched %s %s again", r.Method, r.Path)
		}
	}
	if strings.Count(progress.String(), "already in the cache") != len(want) {
		t.Errorf("second run's progress:\n%s", progress.String())
	}

	// By commit hash, the same snapshot; no new ref is written for it.
	snap2, err := c.Download(context.Background(), mustID(t, "org/model@"+commit))
	if err != nil || snap2.Dir != snap.Dir {
		t.Errorf("by commit: %+v, %v", snap2, err)
	}
	if _, err := os.Stat(filepath.Join(repoDir, "refs", commit)); err == nil {
		t.Error("a ref was written for a commit hash")
	}
}

func TestDownloadPytorchWhenNoSafetensors(t *testing.T) {
	repo := testRepo("legacy-model")
	delete(repo.Files, "model.safetensors")
	s := hubtest.New(t, "", repo)
	c := newTestClient(t, s)
	snap, err := c.Download(context.Background(), mustID(t, "legacy-model"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(snap.Dir, "pytorch_model.bin")); err != nil || !bytes.Equal(b, repo.Files["pytorch_model.bin"]) {
		t.Errorf("pytorch_model.bin: %v", err)
	}
	if !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(snap.Dir))), "models--legacy-model") {
		t.Errorf("cache folder %s", snap.Dir)
	}
}

// A renamed repository (or a legacy id without an organisation) answers
// with a relative redirect, which keeps the token: it is the same host.
func TestRenamedRepository(t *testing.T) {
	repo := testRepo("org/model")
	repo.Private = true
	s := hubtest.New(t, "hf_secret", repo)
	s.Rename("model", "org/model")
	c := newTestClient(t, s)
	c.Token = "hf_secret"
	snap, err := c.Download(context.Background(), mustID(t, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.CacheDir, "models--model", "snapshots", repo.Commit()); snap.Dir != want {
		t.Errorf("snapshot in %s, want %s", snap.Dir, want)
	}
	redirected := 0
	for _, r := range s.Requests() {
		if r.Server == "hub" && strings.Contains(r.Path, "org/model") {
			redirected++
		}
	}
	if redirected == 0 {
		t.Error("no request followed the rename")
	}
}

func TestResumeAfterCut(t *testing.T) {
	repo := testRepo("org/model")
	weights := repo.Files["model.safetensors"]
	s := hubtest.New(t, "", repo)
	c := newTestClient(t, s)
	c.Attempts = 1
	half := int64(len(weights) / 2)
	s.CutNext(weights, half)
	id := mustID(t, "org/model")
	_, err := c.Download(context.Background(), id)
	if err == nil || !strings.Contains(err.Error(), "running the command again resumes") {
		t.Fatalf("cut connection: %v", err)
	}
	partial := filepath.Join(c.CacheDir, "models--org--model", "blobs", hubtest.SHA256(weights)+".incomplete")
	st, err := os.Stat(partial)
	if err != nil || st.Size() != half {
		t.Fatalf("partial file after the cut: %v, %v; want %d bytes", st, err, half)
	}
	if _, err := c.Cached(id); !errors.Is(err, ErrNotCached) {
		t.Errorf("half a download is a snapshot: %v", err)
	}

	// The next run asks only for the rest.
	s.ResetRequests()
	snap, err := c.Download(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ranges []string
	for _, r := range s.Requests() {
		if r.Server == "cdn" {
			ranges = append(ranges, r.Range)
		}
	}
	if len(ranges) != 1 || ranges[0] != "bytes="+strconv.FormatInt(half, 10)+"-" {
		t.Errorf("CDN requests' ranges %q, want one bytes=%d-", ranges, half)
	}
	if b, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors")); !bytes.Equal(b, weights) {
		t.Error("resumed file differs")
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf(".incomplete left behind: %v", err)
	}

	// With retries, one run survives a cut by resuming on its own.
	c2 := newTestClient(t, s)
	s.CutNext(weights, 1000)
	s.ResetRequests()
	if _, err := c2.Download(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	ranges = ranges[:0]
	for _, r := range s.Requests() {
		if r.Server == "cdn" {
			ranges = append(ranges, r.Range)
		}
	}
	if strings.Join(ranges, ",") != ",bytes=1000-" {
		t.Errorf("retry ranges %q", ranges)
	}
}

// Concurrent downloads into one cache (processes or goroutines) take turns
// on each blob through its lock file and all end with the same snapshot.
func TestConcurrentDownloads(t *testing.T) {
	repo := testRepo("org/model")
	s := hubtest.New(t, "", repo)
	cache := t.TempDir()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			c := &Client{Endpoint: s.URL(), CacheDir: cache, retryDelay: time.Millisecond}
			_, err := c.Download(context.Background(), mustID(t, "org/model"))
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	snap, err := (&Client{CacheDir: cache}).Cached(mustID(t, "org/model"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors")); !bytes.Equal(b, repo.Files["model.safetensors"]) {
		t.Error("weights differ after concurrent downloads")
	}
	entries, _ := os.ReadDir(snap.Dir)
	if len(entries) != 5 {
		t.Errorf("snapshot has %d entries (temporary links left?)", len(entries))
	}
}

func TestChecksumMismatch(t *testing.T) {
	repo := testRepo("org/model")
	s := hubtest.New(t, "", repo)
	s.Corrupt(repo.Files["model.safetensors"])
	c := newTestClient(t, s)
	id := mustID(t, "org/model")
	_, err := c.Download(context.Background(), id)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("corrupt download: %v", err)
	}
	blobs := filepath.Join(c.CacheDir, "models--org--model", "blobs")
	entries, _ := os.ReadDir(blobs)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), hubtest.SHA256(repo.Files["model.safetensors"])) {
			t.Errorf("corrupt data kept as %s", e.Name())
		}
	}
	if _, err := c.Cached(id); err == nil {
		t.Error("a snapshot without verified weights counts as cached")
	}
}

func TestHTTPErrors(t *testing.T) {
	private := testRepo("org/private")
	private.Private = true
	gated := testRepo("org/gated")
	s := hubtest.New(t, "hf_good", private, gated, testRepo("org/public"))
	gated.Gated = true
	c := newTestClient(t, s)
	for _, tc := range []struct {
		id, token string
		want      error
		msg       string
	}{
		{"org/private", "", ErrUnauthorized, "HF_TOKEN"},
		{"org/private", "hf_bad", ErrNotFound, "not found"},
		{"org/missing", "", ErrUnauthorized, "does not exist or is private"},
		{"org/missing", "hf_good", ErrNotFound, "repository org/missing was not found"},
		{"org/public@v9", "", ErrNotFound, `revision "v9" of org/public was not found`},
		{"org/gated", "hf_good", ErrGated, "accept its conditions"},
	} {
		c.Token = tc.token
		_, err := c.Download(context.Background(), mustID(t, tc.id))
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s with token %q: %v; want %v mentioning %q", tc.id, tc.token, err, tc.want, tc.msg)
		}
		if err != nil && tc.token != "" && strings.Contains(err.Error(), tc.token) {
			t.Errorf("error shows the token: %v", err)
		}
	}
}

func TestOffline(t *testing.T) {
	repo := testRepo("org/model")
	s := hubtest.New(t, "", repo)
	c := newTestClient(t, s)
	c.Offline = true
	id := mustID(t, "org/model")
	if _, err := c.Resolve(context.Background(), id); !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("offline, empty cache: %v", err)
	}
	if len(s.Requests()) != 0 {
		t.Fatalf("offline client made requests: %v", s.Requests())
	}
	c.Offline = false
	online, err := c.Resolve(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	c.Offline = true
	s.ResetRequests()
	for _, rev := range []string{"org/model", "org/model@main", "org/model@" + repo.Commit()} {
		snap, err := c.Resolve(context.Background(), mustID(t, rev))
		if err != nil || snap.Dir != online.Dir || snap.Commit != repo.Commit() {
			t.Errorf("offline %s: %+v, %v", rev, snap, err)
		}
	}
	if _, err := c.Resolve(context.Background(), mustID(t, "org/model@v2")); !errors.Is(err, ErrNotCached) {
		t.Errorf("offline, uncached revision: %v", err)
	}
	if len(s.Requests()) != 0 {
		t.Errorf("offline client made requests: %v", s.Requests())
	}
	// An unreachable Hub falls back to the cache; a refusal does not.
	c.Offline = false
	s.Hub.Close()
	var progress bytes.Buffer
	c.Progress = &progress
	if snap, err := c.Resolve(context.Background(), id); err != nil || snap.Dir != online.Dir || !strings.Contains(progress.String(), "cannot be reached") {
		t.Errorf("unreachable hub: %+v, %v, %q", snap, err, progress.String())
	}
}

func TestDiskFullAndSizeBounds(t *testing.T) {
	repo := testRepo("org/model")
	s := hubtest.New(t, "", repo)
	c := newTestClient(t, s)
	c.freeSpace = func(string) (int64, error) { return 1 << 20, nil }
	_, err := c.Download(context.Background(), mustID(t, "org/model"))
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("full disk: %v", err)
	}
	c = newTestClient(t, s)
	c.MaxFileSize = 1 << 20
	_, err = c.Download(context.Background(), mustID(t, "org/model"))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("file over MaxFileSize: %v", err)
	}
	if err := spaceError(&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}); !errors.Is(err, ErrDiskFull) {
		t.Errorf("ENOSPC is not reported as a full disk: %v", err)
	}
}

func TestCancel(t *testing.T) {
	repo := testRepo("org/model")
	s := hubtest.New(t, "", repo)
	c := newTestClient(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Download(ctx, mustID(t, "org/model")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled download: %v", err)
	}
}

func TestReadEnv(t *testing.T) {
	home := t.TempDir()
	env := func(kv ...string) func(string) string {
		m := map[string]string{"HOME": home}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		env           func(string) string
		cache, ep     string
		offline       bool
		token, errMsg string
	}{
		{env: env(), cache: filepath.Join(home, ".cache/huggingface/hub"), ep: DefaultEndpoint},
		{env: env("XDG_CACHE_HOME", "/x"), cache: "/x/huggingface/hub", ep: DefaultEndpoint},
		{env: env("HF_HOME", "/h", "XDG_CACHE_HOME", "/x"), cache: "/h/hub", ep: DefaultEndpoint},
		{env: env("HF_HUB_CACHE", "/c", "HF_HOME", "/h"), cache: "/c", ep: DefaultEndpoint},
		{env: env("HF_ENDPOINT", "http://mirror:8080/", "HF_HUB_OFFLINE", "1", "HF_TOKEN", " hf_x\n"),
			cache: filepath.Join(home, ".cache/huggingface/hub"), ep: "http://mirror:8080", offline: true, token: "hf_x"},
		{env: env("HF_HUB_OFFLINE", "true"), cache: filepath.Join(home, ".cache/huggingface/hub"), ep: DefaultEndpoint, offline: true},
		{env: env("HF_HUB_OFFLINE", "0"), cache: filepath.Join(home, ".cache/huggingface/hub"), ep: DefaultEndpoint},
		{env: env("HF_ENDPOINT", "ftp://x"), errMsg: "not an http(s) URL"},
	} {
		e, err := ReadEnv(tc.env)
		if tc.errMsg != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
				t.Errorf("want error %q, got %v", tc.errMsg, err)
			}
			continue
		}
		if err != nil || e.CacheDir != tc.cache || e.Endpoint != tc.ep || e.Offline != tc.offline || e.Token != tc.token {
			t.Errorf("got %+v, %v; want cache %s endpoint %s offline %v token %q", e, err, tc.cache, tc.ep, tc.offline, tc.token)
		}
	}
	// The token `huggingface-cli login` saved is used without HF_TOKEN.
	os.MkdirAll(filepath.Join(home, "hf"), 0o755)
	os.WriteFile(filepath.Join(home, "hf", "token"), []byte("hf_saved\n"), 0o600)
	if e, err := ReadEnv(env("HF_HOME", filepath.Join(home, "hf"))); err != nil || e.Token != "hf_saved" {
		t.Errorf("token file: %q, %v", e.Token, err)
	}
}

func TestParseID(t *testing.T) {
	for in, want := range map[string]ID{
		"distilbert/distilbert-base-uncased-finetuned-sst-2-english": {"distilbert/distilbert-base-uncased-finetuned-sst-2-english", "main"},
		"gpt2":                   {"gpt2", "main"},
		"org/m.v1_2@v1.0":        {"org/m.v1_2", "v1.0"},
		"org/m@refs/pr/1":        {"org/m", "refs/pr/1"},
		"a/b@0123456789abcdef01": {"a/b", "0123456789abcdef01"},
	} {
		got, err := ParseID(in)
		if err != nil || got != want {
			t.Errorf("ParseID(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/abs/path", "./dir", "../x", "a/b/c", "a--b/c", "a/b..c", "-a/b", "a/b-", "a/b@", "a/b@../x",
		"a/b@x//y", "a b/c", "a/b@v 1", "a/b@/x", "org/" + strings.Repeat("x", 100), "c:\\models"} {
		if id, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) = %+v, want an error", bad, id)
		}
	}
}

func TestNormalizeETag(t *testing.T) {
	for in, want := range map[string]string{
		`"abc123"`: "abc123", `W/"abc123"`: "abc123", " abc ": "abc",
	} {
		if got, err := NormalizeETag(in); err != nil || got != want {
			t.Errorf("NormalizeETag(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", `""`, `"../x"`, `"a/b"`, `W/""`, strings.Repeat("a", 200)} {
		if got, err := NormalizeETag(bad); err == nil {
			t.Errorf("NormalizeETag(%q) = %q, want an error", bad, got)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	c := &Client{Progress: &out, Terminal: true}
	p := c.newProgress("model.safetensors", 10<<20, 0)
	p.start = time.Now().Add(-time.Second)
	p.set(5 << 20)
	p.set(10 << 20) // within the redraw interval: drawn by done
	p.done()
	s := out.String()
	for _, want := range []string{"\rmodel.safetensors", "50%", "5.0 MiB / 10.0 MiB", "MiB/s", "ETA", "100%", "\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar %q lacks %q", s, want)
		}
	}
	out.Reset()
	c.Terminal = false
	p = c.newProgress("config.json", 610, 0)
	p.set(610)
	p.done()
	if s := out.String(); strings.Contains(s, "\r") || !strings.HasPrefix(s, "config.json: 610 B downloaded in ") || strings.Count(s, "\n") != 1 {
		t.Errorf("plain progress %q", s)
	}
}
