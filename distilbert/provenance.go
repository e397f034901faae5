package distilbert

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/distilbert-go/distilbert/weights"
)

// HubSource says which Hugging Face Hub revision a checkpoint came from.
type HubSource struct {
	Repo     string `json:"repo"`     // "org/name"
	Revision string `json:"revision"` // as asked for: branch, tag or commit
	Commit   string `json:"commit"`   // the commit it resolved to
}

// provenanceOptions are the load options about where a model came from
// and what its weights must hash to.
type provenanceOptions struct {
	name       string
	hub        *HubSource
	wantSHA256 string // expected weights digest, hex; "" for no check
	digest     string // the weights' digest, computed at load
}

// provenance is what a loaded Classifier knows about its origin.
type provenance struct {
	weightsSHA256 string
	hub           *HubSource
}

// WithName sets the model's name in /info, metrics and logs (by default the
// checkpoint directory's base name), e.g. to a Hub repository id instead of
// the snapshot folder's commit hash.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithHubSource records the Hub revision a checkpoint directory holds.
func WithHubSource(s HubSource) Option { return func(o *options) { o.hub = &s } }

// WithWeightsSHA256 makes loading fail unless the weights file's SHA-256 is
// the given hex digest.
func WithWeightsSHA256(hexDigest string) Option {
	return func(o *options) { o.wantSHA256 = hexDigest }
}

// WeightsSHA256 is the hex SHA-256 of the weights file the model was loaded
// from: a stable identity of the weights (caches key on it).
func (c *Classifier) WeightsSHA256() string { return c.prov.weightsSHA256 }

// HubSource is the Hub revision the model was loaded from, nil if it was
// not loaded from the Hub's cache.
func (c *Classifier) HubSource() *HubSource {
	if c.prov.hub == nil {
		return nil
	}
	s := *c.prov.hub
	return &s
}

// SumsFile is the name of the optional checksum file beside the weights, in
// sha256sum's format.
const SumsFile = "SHA256SUMS"

// maxSumsFile bounds the checksum file: a line per file of a checkpoint.
const maxSumsFile = 1 << 20

// weightsFileNames are the weights files a checkpoint directory may hold,
// in the order Load prefers them.
var weightsFileNames = []string{"model.safetensors", "pytorch_model.bin"}

// weightsPath returns the weights file Load reads from dir, or "" if none.
func weightsPath(dir string) string {
	for _, n := range weightsFileNames {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// verifyDir hashes dir's weights file and checks it against the expected
// digest, if one is given, and against dir/SHA256SUMS, if there is one
// (every file it lists that exists, as `sha256sum -c --ignore-missing`; it
// must list the weights). It returns the weights' digest, "" when dir has
// no weights file (Load reports that).
func verifyDir(dir, want string) (string, error) {
	path := weightsPath(dir)
	if path == "" {
		return "", nil
	}
	digest, err := fileSHA256(path)
	if err != nil {
		return "", err
	}
	if err := checkDigest(path, digest, want); err != nil {
		return "", err
	}
	data, err := weights.ReadFileLimited(filepath.Join(dir, SumsFile), maxSumsFile)
	if errors.Is(err, os.ErrNotExist) {
		return digest, nil
	} else if err != nil {
		return "", err
	}
	sums, err := ParseSHA256Sums(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(dir, SumsFile), err)
	}
	weightsName := filepath.Base(path)
	if _, ok := sums[weightsName]; !ok {
		return "", fmt.Errorf("%s does not list %s: refusing unverifiable weights", filepath.Join(dir, SumsFile), weightsName)
	}
	for name, sum := range sums {
		p := filepath.Join(dir, name)
		got := digest
		if name != weightsName {
			if got, err = fileSHA256(p); errors.Is(err, os.ErrNotExist) {
				continue
			} else if err != nil {
				return "", err
			}
		}
		if got != sum {
			return "", fmt.Errorf("%s: SHA-256 is %s but %s says %s: the file is corrupt or not the one published", p, got, SumsFile, sum)
		}
	}
	return digest, nil
}

// checkDigest compares a digest with the one asked for (--model-sha256).
func checkDigest(what, got, want string) error {
	if want == "" {
		return nil
	}
	w := strings.ToLower(strings.TrimSpace(want))
	if !isSHA256Hex(w) {
		return fmt.Errorf("expected weights SHA-256 %q is not 64 hex digits", want)
	}
	if got != w {
		return fmt.Errorf("%s: SHA-256 is %s, not the expected %s: refusing to load these weights", what, got, w)
	}
	return nil
}

// ParseSHA256Sums reads sha256sum's output format: "HEX  NAME" or
// "HEX *NAME" per line; blank lines and # comments are skipped. Names must
// be plain file names (no directories), so a checksum file cannot point
// outside its folder.
func ParseSHA256Sums(data []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxSumsFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < 66 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*') {
			return nil, fmt.Errorf("line %d: want \"<64 hex digits>  <file name>\"", n)
		}
		sum, name := strings.ToLower(line[:64]), line[66:]
		if !isSHA256Hex(sum) {
			return nil, fmt.Errorf("line %d: %.64q is not a SHA-256 in hex", n, line[:64])
		}
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
			return nil, fmt.Errorf("line %d: %.80q is not a plain file name", n, name)
		}
		if prev, ok := sums[name]; ok && prev != sum {
			return nil, fmt.Errorf("line %d: %q is listed twice with different sums", n, name)
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return sums, nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// fileSHA256 is the hex SHA-256 of a file's contents.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func bytesSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
