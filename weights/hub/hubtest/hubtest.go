// Package hubtest is a fake Hugging Face Hub for tests: the model API,
// resolve URLs answering HEAD and GET with the Hub's headers, and a second
// server standing in for the LFS CDN that the Hub redirects to. Faults
// (a cut connection, corrupt bytes) can be injected per file.
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Repo is one model repository the fake Hub serves.
type Repo struct {
	ID      string            // "org/name"
	Files   map[string][]byte // file name → contents
	Private bool              // answer 401 unless the server's token is sent
	Gated   bool              // answer 403 GatedRepo for its files
	commit  string
}

// Commit is the repository's fake commit hash, derived from its files.
func (r *Repo) Commit() string {
	if r.commit == "" {
		h := sha1.New()
		names := make([]string, 0, len(r.Files))
		for n := range r.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(h, "%s\x00%d\x00", n, len(r.Files[n]))
			h.Write(r.Files[n])
		}
		r.commit = hex.EncodeToString(h.Sum(nil))
	}
	return r.commit
}

// IsLFS says which files the Hub keeps in LFS (served by the CDN).
func IsLFS(name string) bool {
	return strings.HasSuffix(name, ".safetensors") || strings.HasSuffix(name, ".bin")
}

// SHA256 is the hex SHA-256 of b: the ETag of an LFS file.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// GitBlobSHA1 is git's object id of b: the ETag of a regular file.
func GitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Request is one request either server received.
type Request struct {
	Server        string // "hub" or "cdn"
	Method, Path  string
	Range         string
	Authorization string
}

// Server is the fake Hub and its CDN.
type Server struct {
	Hub, CDN *httptest.Server
	token    string

	mu      sync.Mutex
	repos   map[string]*Repo
	blobs   map[string][]byte // sha256 → contents, for the CDN
	cuts    map[string]int64  // sha256 → cut the next GET after this many bytes of the file
	corrupt map[string]bool   // sha256 → serve with one byte flipped
	renamed map[string]string // old repository id → new one
	log     []Request
}

// New starts the fake Hub; token is what private repositories want
// ("" for none). The servers are closed when the test ends.
func New(t testing.TB, token string, repos ...*Repo) *Server {
	s := &Server{token: token, repos: map[string]*Repo{}, blobs: map[string][]byte{}, cuts: map[string]int64{}, corrupt: map[string]bool{}, renamed: map[string]string{}}
	for _, r := range repos {
		r.Commit() // computed now: handlers run concurrently
		s.repos[r.ID] = r
		for n, b := range r.Files {
			if IsLFS(n) {
				s.blobs[SHA256(b)] = b
			}
		}
	}
	// The CDN first: the Hub's handlers read s.CDN as soon as it serves.
	s.CDN = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	s.Hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	t.Cleanup(func() {
		s.Hub.Close()
		s.CDN.Close()
	})
	return s
}

// URL is the Hub endpoint, for HF_ENDPOINT.
func (s *Server) URL() string { return s.Hub.URL }

// CutNext makes the next GET of an LFS file end abruptly after `after`
// bytes of the file (counted from its start).
func (s *Server) CutNext(contents []byte, after int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cuts[SHA256(contents)] = after
}

// Corrupt makes every GET of an LFS file serve one byte changed.
func (s *Server) Corrupt(contents []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt[SHA256(contents)] = true
}

// Rename makes the Hub answer requests for oldID with a relative 307
// redirect to newID's URL, as it does for renamed repositories and for
// legacy ids without an organisation.
func (s *Server) Rename(oldID, newID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renamed[oldID] = newID
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

func (s *Server) record(server string, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{Server: server, Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), Authorization: r.Header.Get("Authorization")})
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Error-Code", code)
	w.Header().Set("X-Error-Message", msg)
	http.Error(w, msg, status)
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	s.record("hub", r)
	path := r.URL.Path
	s.mu.Lock()
	for oldID, newID := range s.renamed {
		for _, format := range []string{"/api/models/%s/", "/%s/resolve/"} {
			if rest, ok := strings.CutPrefix(path, fmt.Sprintf(format, oldID)); ok {
				s.mu.Unlock()
				w.Header().Set("Location", fmt.Sprintf(format, newID)+rest)
				w.WriteHeader(http.StatusTemporaryRedirect)
				return
			}
		}
	}
	s.mu.Unlock()
	if rest, ok := strings.CutPrefix(path, "/api/models/"); ok {
		repoID, rev, ok := cutLast(rest, "/revision/")
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		repo := s.authorize(w, r, repoID)
		if repo == nil {
			return
		}
		if rev != "main" && rev != repo.Commit() {
			hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
			return
		}
		type sibling struct {
			RFilename string `json:"rfilename"`
		}
		info := struct {
			ID       string    `json:"id"`
			SHA      string    `json:"sha"`
			Private  bool      `json:"private"`
			Gated    any       `json:"gated"`
			Siblings []sibling `json:"siblings"`
		}{ID: repo.ID, SHA: repo.Commit(), Private: repo.Private, Gated: false}
		if repo.Gated {
			info.Gated = "manual"
		}
		for n := range repo.Files {
			info.Siblings = append(info.Siblings, sibling{n})
		}
		sort.Slice(info.Siblings, func(i, j int) bool { return info.Siblings[i].RFilename < info.Siblings[j].RFilename })
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(info)
		return
	}
	// /{repo}/resolve/{rev}/{file}
	repoID, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/resolve/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	rev, file, ok := strings.Cut(rest, "/")
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	repo := s.authorize(w, r, repoID)
	if repo == nil {
		return
	}
	if repo.Gated {
		hubError(w, http.StatusForbidden, "GatedRepo", "Access to model "+repo.ID+" is restricted. You must have access to it and be authenticated to access it.")
		return
	}
	if rev != "main" && rev != repo.Commit() {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	data, ok := repo.Files[file]
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", file+" does not exist")
		return
	}
	h := w.Header()
	h.Set("X-Repo-Commit", repo.Commit())
	if IsLFS(file) {
		sum := SHA256(data)
		h.Set("X-Linked-Etag", `"`+sum+`"`)
		h.Set("X-Linked-Size", strconv.Itoa(len(data)))
		h.Set("ETag", `"`+GitBlobSHA1([]byte("version https://git-lfs.github.com/spec/v1\noid sha256:"+sum))+`"`)
		// Signed CDN URLs carry credentials in the query.
		h.Set("Location", s.CDN.URL+"/blobs/"+sum+"?X-Amz-Signature=secret")
		w.WriteHeader(http.StatusFound)
		return
	}
	etag := `"` + GitBlobSHA1(data) + `"`
	if file == "config.json" {
		etag = "W/" + etag // as a proxy that re-encodes would send
	}
	h.Set("ETag", etag)
	serveBytes(w, r, data, -1, false)
}

// authorize finds the repository and checks the token; it answers the
// request itself and returns nil when it is refused.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, id string) *Repo {
	repo := s.repos[id]
	authed := s.token != "" && r.Header.Get("Authorization") == "Bearer "+s.token
	if repo == nil || (repo.Private && !authed) {
		if r.Header.Get("Authorization") == "" {
			// The Hub does not say whether a repository exists to
			// anonymous callers.
			hubError(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
			return nil
		}
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		return nil
	}
	return repo
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	s.record("cdn", r)
	sum, ok := strings.CutPrefix(r.URL.Path, "/blobs/")
	s.mu.Lock()
	data, found := s.blobs[sum]
	cut, hasCut := s.cuts[sum]
	if hasCut && r.Method == http.MethodGet {
		delete(s.cuts, sum)
	} else {
		cut = -1
	}
	corrupt := s.corrupt[sum]
	s.mu.Unlock()
	if !ok || !found || r.URL.Query().Get("X-Amz-Signature") != "secret" {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		return
	}
	serveBytes(w, r, data, cut, corrupt)
}

// serveBytes answers HEAD and GET, honouring "Range: bytes=N-". A cut
// ends the connection after that many bytes of the file; corrupt flips
// the file's middle byte.
func serveBytes(w http.ResponseWriter, r *http.Request, data []byte, cut int64, corrupt bool) {
	if corrupt {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0x5a
	}
	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		if n >= int64(len(data)) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)-int(start)))
	w.Header().Set("Accept-Ranges", "bytes")
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	}
	if r.Method == http.MethodHead {
		return
	}
	body := data[start:]
	if cut >= start && cut < int64(len(data)) {
		w.Write(body[:cut-start])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection mid-body
	}
	w.Write(body)
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
