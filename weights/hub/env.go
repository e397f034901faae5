package hub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DefaultEndpoint is the public Hub, used when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// Env is what the Hub's environment variables say, as huggingface_hub reads
// them.
type Env struct {
	Endpoint string // HF_ENDPOINT, without a trailing slash
	Token    string // HF_TOKEN, else the token file `huggingface-cli login` writes
	CacheDir string // HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
	Offline  bool   // HF_HUB_OFFLINE=1: never touch the network
}

// maxTokenFileSize bounds the token file read: tokens are a few dozen bytes.
const maxTokenFileSize = 4096

// ReadEnv reads the Hub's environment variables through getenv (os.Getenv in
// production). It fails only on a malformed HF_ENDPOINT or an unreadable
// token file.
func ReadEnv(getenv func(string) string) (Env, error) {
	e := Env{Endpoint: strings.TrimRight(strings.TrimSpace(getenv("HF_ENDPOINT")), "/")}
	if e.Endpoint == "" {
		e.Endpoint = DefaultEndpoint
	}
	if !strings.HasPrefix(e.Endpoint, "https://") && !strings.HasPrefix(e.Endpoint, "http://") {
		return e, fmt.Errorf("hub: HF_ENDPOINT %q is not an http(s) URL", e.Endpoint)
	}
	e.Offline = truthy(getenv("HF_HUB_OFFLINE"))

	home := getenv("HF_HOME")
	if home == "" {
		xdg := getenv("XDG_CACHE_HOME")
		if xdg == "" {
			if h := getenv("HOME"); h != "" {
				xdg = filepath.Join(h, ".cache")
			} else if h, err := os.UserHomeDir(); err == nil {
				xdg = filepath.Join(h, ".cache")
			}
		}
		if xdg != "" {
			home = filepath.Join(xdg, "huggingface")
		}
	}
	switch {
	case getenv("HF_HUB_CACHE") != "":
		e.CacheDir = getenv("HF_HUB_CACHE")
	case getenv("HUGGINGFACE_HUB_CACHE") != "": // the older name, still honoured by huggingface_hub
		e.CacheDir = getenv("HUGGINGFACE_HUB_CACHE")
	case home != "":
		e.CacheDir = filepath.Join(home, "hub")
	}

	e.Token = strings.TrimSpace(getenv("HF_TOKEN"))
	if e.Token == "" {
		e.Token = strings.TrimSpace(getenv("HUGGING_FACE_HUB_TOKEN"))
	}
	if e.Token == "" {
		path := getenv("HF_TOKEN_PATH")
		if path == "" && home != "" {
			path = filepath.Join(home, "token")
		}
		if path != "" {
			tok, err := readTokenFile(path)
			if err != nil {
				return e, err
			}
			e.Token = tok
		}
	}
	return e, nil
}

// readTokenFile reads the token `huggingface-cli login` saved; a missing
// file means no token. Its contents never appear in errors.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("hub: token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFileSize+1))
	if err != nil {
		return "", fmt.Errorf("hub: token file %s: %w", path, err)
	}
	if len(b) > maxTokenFileSize {
		return "", fmt.Errorf("hub: token file %s is larger than %d bytes", path, maxTokenFileSize)
	}
	return string(bytes.TrimSpace(b)), nil
}

// truthy is huggingface_hub's reading of boolean variables.
func truthy(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}
