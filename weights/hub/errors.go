package hub

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Errors a caller may test for with errors.Is.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrGated        = errors.New("gated repository")
	ErrNotFound     = errors.New("not found")
	ErrChecksum     = errors.New("checksum mismatch")
	ErrDiskFull     = errors.New("disk full")
	ErrNotCached    = errors.New("not in the cache")
	ErrTooLarge     = errors.New("too large")
)

// HTTPError is a refused Hub request, with what the Hub said about it in
// its X-Error-Code and X-Error-Message headers.
type HTTPError struct {
	Status  int
	Code    string // X-Error-Code, e.g. RepoNotFound, GatedRepo
	Message string // X-Error-Message, cleaned to one short line
	URL     string // without its query, which may hold a signature
	hint    string
	kind    error
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hub: %s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.hint != "" {
		b.WriteString("; " + e.hint)
	}
	return b.String()
}

// Unwrap lets errors.Is match ErrUnauthorized, ErrGated and ErrNotFound.
func (e *HTTPError) Unwrap() error { return e.kind }

// retryable reports whether the same request may succeed later.
func (e *HTTPError) retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// httpError describes a non-2xx response. repo and file name what was asked
// for; hadToken says whether the request carried a token.
func httpError(resp *http.Response, repo, file string, hadToken bool) *HTTPError {
	e := &HTTPError{
		Status:  resp.StatusCode,
		Code:    cleanHeader(resp.Header.Get("X-Error-Code"), 64),
		Message: cleanHeader(resp.Header.Get("X-Error-Message"), 300),
		URL:     redactURL(resp.Request.URL),
	}
	what := "repository " + repo
	if file != "" {
		what = file + " in " + what
	}
	switch {
	case e.Code == "GatedRepo":
		e.kind = ErrGated
		e.hint = "the repository " + repo + " is gated: accept its conditions on the Hub with your account, then set HF_TOKEN to a token of that account"
	case e.Status == http.StatusUnauthorized:
		// The Hub answers 401 for private and for missing repositories
		// alike, so as not to reveal which exist.
		e.kind = ErrUnauthorized
		if hadToken {
			e.hint = "the token in HF_TOKEN was refused or has no access to " + repo + " (or the repository does not exist)"
		} else {
			e.hint = repo + " does not exist or is private: check the id, or set HF_TOKEN to a token with access"
		}
	case e.Code == "RepoNotFound" || e.Code == "RevisionNotFound" || e.Code == "EntryNotFound" || e.Status == http.StatusNotFound:
		e.kind = ErrNotFound
		e.hint = what + " was not found"
		if !hadToken && e.Code == "RepoNotFound" {
			e.hint += " (if it is private, set HF_TOKEN)"
		}
	case e.Status == http.StatusForbidden:
		e.kind = ErrGated
		e.hint = "access to " + repo + " is forbidden: if the repository is gated, accept its conditions on the Hub and set HF_TOKEN"
	}
	return e
}

// cleanHeader makes a server-supplied header safe to print: printable
// ASCII on one line, at most max bytes.
func cleanHeader(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			b.WriteString("...")
			break
		}
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// redactURL drops the query and any user info: signed CDN URLs carry
// credentials there.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.RawQuery, c.ForceQuery, c.User, c.Fragment = "", false, nil, ""
	return c.String()
}
