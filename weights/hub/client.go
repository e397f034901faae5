package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client downloads models from a Hub endpoint into a cache directory.
// The zero value is not usable: fill Endpoint and CacheDir (NewClient does
// from an Env).
type Client struct {
	Endpoint string // e.g. https://huggingface.co, no trailing slash
	Token    string // sent as a Bearer token to Endpoint's host only
	CacheDir string
	Offline  bool // resolve from the cache only

	// HTTP is the client for every request; its redirects are handled here
	// (CheckRedirect is overridden on a copy). Nil: one with connect,
	// TLS and response-header timeouts.
	HTTP *http.Client
	// Progress receives progress on downloads; nil: none. With Terminal a
	// bar is redrawn in place, else one line per file.
	Progress io.Writer
	Terminal bool

	// IdleTimeout aborts a transfer that receives nothing for this long
	// (default 60s); the next attempt resumes it.
	IdleTimeout time.Duration
	// Attempts is how often a transfer is tried before giving up (default
	// 5); each retry resumes where the previous one stopped.
	Attempts int
	// MaxFileSize bounds each file's size (default 64 GiB for weights);
	// configuration and tokenizer files are held to MaxMetadataSize.
	MaxFileSize int64

	// freeSpace reports the bytes available under a directory; tests
	// replace it to simulate a full disk.
	freeSpace func(dir string) (int64, error)
	// retryDelay is the first pause between attempts (default 1s).
	retryDelay time.Duration

	httpOnce sync.Once
	hc       *http.Client // HTTP with redirects left to do
}

const (
	defaultMaxFileSize = 64 << 30
	// MaxMetadataSize bounds config.json, the tokenizer files and API
	// answers: the largest real tokenizer.json files are a few tens of MB.
	MaxMetadataSize = 256 << 20
	maxAPIResponse  = 64 << 20
	maxRedirects    = 10
)

// NewClient makes a client from the environment's settings.
func NewClient(e Env) *Client {
	return &Client{Endpoint: e.Endpoint, Token: e.Token, CacheDir: e.CacheDir, Offline: e.Offline}
}

func (c *Client) httpClient() *http.Client {
	c.httpOnce.Do(func() {
		base := c.HTTP
		if base == nil {
			base = &http.Client{Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				TLSHandshakeTimeout:   30 * time.Second,
				ResponseHeaderTimeout: 60 * time.Second,
				IdleConnTimeout:       90 * time.Second,
				ForceAttemptHTTP2:     true,
			}}
		}
		hc := *base
		// Redirects are followed by hand so that the token never goes to
		// another host (net/http would send it to subdomains).
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		c.hc = &hc
	})
	return c.hc
}

func (c *Client) idleTimeout() time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return 60 * time.Second
}

func (c *Client) attempts() int {
	if c.Attempts > 0 {
		return c.Attempts
	}
	return 5
}

func (c *Client) maxFileSize() int64 {
	if c.MaxFileSize > 0 {
		return c.MaxFileSize
	}
	return defaultMaxFileSize
}

// endpointURL is the endpoint as a URL, for host comparisons.
func (c *Client) endpointURL() (*url.URL, error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hub: endpoint %q is not an http(s) URL", c.Endpoint)
	}
	return u, nil
}

// sameOrigin reports whether the token may go to u: same scheme and host
// (with port) as the endpoint.
func sameOrigin(u, endpoint *url.URL) bool {
	return strings.EqualFold(u.Scheme, endpoint.Scheme) && strings.EqualFold(u.Host, endpoint.Host)
}

// do sends a request, following redirects by hand: the token goes only to
// the endpoint's own origin, and once a redirect left it, never again.
// With followOffsite false a redirect to another origin is returned as is
// (HEAD requests read the LFS metadata off the redirect itself).
func (c *Client) do(ctx context.Context, method, rawURL string, header http.Header, followOffsite bool) (*http.Response, bool, error) {
	ep, err := c.endpointURL()
	if err != nil {
		return nil, false, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, false, fmt.Errorf("hub: bad URL: %v", err)
	}
	hc := c.httpClient()
	mayAuth := true
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
		if err != nil {
			return nil, false, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", "distilbert-go")
		mayAuth = mayAuth && sameOrigin(u, ep)
		sentToken := mayAuth && c.Token != ""
		if sentToken {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, sentToken, err
		}
		if !isRedirect(resp.StatusCode) {
			return resp, sentToken, nil
		}
		loc := resp.Header.Get("Location")
		if loc == "" {
			return resp, sentToken, nil
		}
		next, err := u.Parse(loc)
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") {
			resp.Body.Close()
			return nil, sentToken, fmt.Errorf("hub: %s redirected to an unusable location", redactURL(u))
		}
		if !followOffsite && !sameOrigin(next, ep) {
			return resp, sentToken, nil
		}
		drain(resp)
		if hop >= maxRedirects {
			return nil, sentToken, fmt.Errorf("hub: %s: more than %d redirects", redactURL(u), maxRedirects)
		}
		u = next
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// drain reads a little of a body we do not need so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// ModelInfo is the part of the Hub's model API answer used here.
type ModelInfo struct {
	Commit string   // "sha": the commit the revision resolves to
	Files  []string // "siblings[].rfilename"
}

// ParseModelInfo decodes GET /api/models/{repo}/revision/{rev}.
func ParseModelInfo(data []byte) (ModelInfo, error) {
	var raw struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			RFilename string `json:"rfilename"`
		} `json:"siblings"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return ModelInfo{}, fmt.Errorf("hub: model info is not valid JSON: %v", err)
	}
	if !isCommitHash(raw.SHA) {
		return ModelInfo{}, fmt.Errorf("hub: model info has no commit hash (sha %.50q)", raw.SHA)
	}
	mi := ModelInfo{Commit: raw.SHA, Files: make([]string, 0, len(raw.Siblings))}
	for _, s := range raw.Siblings {
		mi.Files = append(mi.Files, s.RFilename)
	}
	return mi, nil
}

// modelInfo asks the Hub which commit a revision is and which files it has.
func (c *Client) modelInfo(ctx context.Context, id ID) (ModelInfo, error) {
	u := c.Endpoint + "/api/models/" + id.Repo + "/revision/" + url.PathEscape(id.Revision)
	resp, sentToken, err := c.do(ctx, http.MethodGet, u, http.Header{"Accept": {"application/json"}}, false)
	if err != nil {
		return ModelInfo{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := httpError(resp, id.Repo, "", sentToken)
		if e.Code == "RevisionNotFound" {
			e.hint = "revision " + strconv.Quote(id.Revision) + " of " + id.Repo + " was not found"
		}
		return ModelInfo{}, e
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse+1))
	if err != nil {
		return ModelInfo{}, fmt.Errorf("hub: reading model info: %w", err)
	}
	if len(data) > maxAPIResponse {
		return ModelInfo{}, fmt.Errorf("hub: model info of %s is larger than %d bytes: %w", id.Repo, maxAPIResponse, ErrTooLarge)
	}
	return ParseModelInfo(data)
}

// fileMeta is what HEAD /{repo}/resolve/{rev}/{file} says about a file.
type fileMeta struct {
	commit   string // X-Repo-Commit
	etag     string // normalized X-Linked-Etag, else ETag
	size     int64  // X-Linked-Size, else Content-Length; -1 unknown
	location string // where to GET it (the LFS redirect's target, or the resolve URL)
}

func (c *Client) resolveURL(repo, rev, file string) string {
	return c.Endpoint + "/" + repo + "/resolve/" + url.PathEscape(rev) + "/" + escapePath(file)
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return strings.Join(parts, "/")
}

func (c *Client) head(ctx context.Context, repo, rev, file string) (fileMeta, error) {
	u := c.resolveURL(repo, rev, file)
	resp, sentToken, err := c.do(ctx, http.MethodHead, u, http.Header{"Accept-Encoding": {"identity"}}, false)
	if err != nil {
		return fileMeta{}, err
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK && !isRedirect(resp.StatusCode) {
		return fileMeta{}, httpError(resp, repo, file, sentToken)
	}
	h := resp.Header
	m := fileMeta{commit: h.Get("X-Repo-Commit"), location: resp.Request.URL.String(), size: -1}
	if isRedirect(resp.StatusCode) {
		loc, err := resp.Request.URL.Parse(h.Get("Location"))
		if err != nil {
			return fileMeta{}, fmt.Errorf("hub: %s: bad redirect", file)
		}
		m.location = loc.String()
	}
	raw := h.Get("X-Linked-Etag")
	if raw == "" {
		raw = h.Get("ETag")
	}
	if m.etag, err = NormalizeETag(raw); err != nil {
		return fileMeta{}, fmt.Errorf("hub: %s: %w", file, err)
	}
	sz := h.Get("X-Linked-Size")
	if sz == "" {
		sz = h.Get("Content-Length")
	}
	if sz != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(sz), 10, 64)
		if err != nil || n < 0 {
			return fileMeta{}, fmt.Errorf("hub: %s: bad size %.30q", file, sz)
		}
		m.size = n
	}
	if m.commit != "" && !isCommitHash(m.commit) {
		return fileMeta{}, fmt.Errorf("hub: %s: X-Repo-Commit %.50q is not a commit hash", file, m.commit)
	}
	return m, nil
}

// NormalizeETag strips the quotes and weak-validator prefix of an ETag and
// checks that what is left is safe as a file name (it names the blob).
func NormalizeETag(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	s = strings.TrimPrefix(s, "W/")
	s = strings.TrimPrefix(strings.TrimSuffix(s, `"`), `"`)
	if s == "" {
		return "", errors.New("the Hub sent no ETag")
	}
	if len(s) > 128 {
		return "", fmt.Errorf("ETag %.40q... is too long", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isWordByte(c) && c != '-' {
			return "", fmt.Errorf("ETag %q has a character (%q) that cannot name a cache file", s, c)
		}
	}
	return s, nil
}

// isSHA256 reports whether an ETag is an LFS object id: the file's SHA-256.
func isSHA256(etag string) bool { return len(etag) == 64 && isLowerHex(etag) }
