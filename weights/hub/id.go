package hub

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultRevision is the branch a repository id without @REVISION means.
const DefaultRevision = "main"

// maxRepoIDLen is the Hub's own limit on repository ids.
const maxRepoIDLen = 96

// ID names a model on the Hub: a repository and a revision (branch, tag or
// commit hash).
type ID struct {
	Repo     string // "org/name" or, for legacy models, "name"
	Revision string // never empty after ParseID
}

// String is the id as ParseID accepts it; @main is left out.
func (id ID) String() string {
	if id.Revision == "" || id.Revision == DefaultRevision {
		return id.Repo
	}
	return id.Repo + "@" + id.Revision
}

// ParseID parses "ORG/NAME", "NAME" or either with "@REVISION".
func ParseID(s string) (ID, error) {
	repo, rev, found := strings.Cut(s, "@")
	if !found {
		rev = DefaultRevision
	}
	if err := ValidateRepo(repo); err != nil {
		return ID{}, err
	}
	if err := ValidateRevision(rev); err != nil {
		return ID{}, err
	}
	return ID{Repo: repo, Revision: rev}, nil
}

// ValidateRepo applies the Hub's rules for repository ids: one or two parts
// of ASCII letters, digits, '_', '-' and '.', each starting and ending with a
// letter, digit or '_', no "--" or "..", at most 96 characters. The rules
// also keep the id safe to use in URLs and cache folder names.
func ValidateRepo(repo string) error {
	if repo == "" {
		return errors.New("hub: empty repository id")
	}
	if len(repo) > maxRepoIDLen {
		return fmt.Errorf("hub: repository id %.40q... is longer than %d characters", repo, maxRepoIDLen)
	}
	if strings.Contains(repo, "--") || strings.Contains(repo, "..") {
		return fmt.Errorf("hub: repository id %q may not contain \"--\" or \"..\"", repo)
	}
	parts := strings.Split(repo, "/")
	if len(parts) > 2 {
		return fmt.Errorf("hub: repository id %q has more than one '/' (want ORG/NAME)", repo)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("hub: repository id %q has an empty part (want ORG/NAME)", repo)
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !isWordByte(c) && c != '-' && c != '.' {
				return fmt.Errorf("hub: repository id %q: character %q is not allowed (letters, digits, '_', '-', '.')", repo, c)
			}
		}
		if !isWordByte(p[0]) || !isWordByte(p[len(p)-1]) {
			return fmt.Errorf("hub: repository id %q: each part must start and end with a letter, digit or '_'", repo)
		}
	}
	return nil
}

// ValidateRevision accepts branch, tag and commit names that are safe as a
// path under refs/: segments of letters, digits, '_', '-' and '.' separated
// by single slashes ("refs/pr/1"), without "." or ".." segments.
func ValidateRevision(rev string) error {
	if rev == "" {
		return errors.New("hub: empty revision")
	}
	if len(rev) > 200 {
		return fmt.Errorf("hub: revision %.40q... is longer than 200 characters", rev)
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("hub: revision %q: empty, \".\" or \"..\" path segment", rev)
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isWordByte(c) && c != '-' && c != '.' {
				return fmt.Errorf("hub: revision %q: character %q is not allowed", rev, c)
			}
		}
	}
	return nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// isCommitHash reports whether s is a full git commit id (40 lowercase hex).
func isCommitHash(s string) bool {
	return len(s) == 40 && isLowerHex(s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// repoFolder is the cache folder of a model repository.
func repoFolder(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}
