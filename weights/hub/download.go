package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/distilbert-go/distilbert/weights"
)

// Snapshot is one revision of a model in the cache.
type Snapshot struct {
	ID     ID
	Commit string // the commit hash the revision resolved to
	Dir    string // snapshots/{commit}: a checkpoint directory for distilbert.Load
}

// Resolve returns the cached snapshot of id, downloading what is missing
// first unless the client is offline. When the Hub cannot be reached (a
// network error, not a refusal) a snapshot already in the cache is used,
// as huggingface_hub does.
func (c *Client) Resolve(ctx context.Context, id ID) (Snapshot, error) {
	if c.Offline {
		s, err := c.Cached(id)
		if err != nil {
			return s, fmt.Errorf("%w (HF_HUB_OFFLINE is set, so nothing is downloaded)", err)
		}
		return s, nil
	}
	s, err := c.Download(ctx, id)
	if err != nil && isNetworkError(err) && ctx.Err() == nil {
		if cached, cerr := c.Cached(id); cerr == nil {
			c.say("hub: %s cannot be reached (%v); using the cached snapshot %s", c.Endpoint, err, cached.Commit)
			return cached, nil
		}
	}
	return s, err
}

// Cached finds id in the cache without any network access.
func (c *Client) Cached(id ID) (Snapshot, error) {
	if c.CacheDir == "" {
		return Snapshot{}, errors.New("hub: no cache directory (set HF_HUB_CACHE or HOME)")
	}
	repoDir := filepath.Join(c.CacheDir, repoFolder(id.Repo))
	notCached := func(why string) error {
		return fmt.Errorf("hub: %s is %w at %s (%s): run 'distilbert download %s' first", id, ErrNotCached, c.CacheDir, why, id)
	}
	commit := ""
	if isCommitHash(id.Revision) {
		if st, err := os.Stat(filepath.Join(repoDir, "snapshots", id.Revision)); err == nil && st.IsDir() {
			commit = id.Revision
		}
	}
	if commit == "" {
		b, err := weights.ReadFileLimited(filepath.Join(repoDir, "refs", filepath.FromSlash(id.Revision)), 1024)
		if errors.Is(err, os.ErrNotExist) {
			return Snapshot{}, notCached("no refs/" + id.Revision)
		} else if err != nil {
			return Snapshot{}, fmt.Errorf("hub: cache: %w", err)
		}
		commit = string(bytes.TrimSpace(b))
		if !isCommitHash(commit) {
			return Snapshot{}, fmt.Errorf("hub: cache: %s/refs/%s does not hold a commit hash", repoDir, id.Revision)
		}
	}
	dir := filepath.Join(repoDir, "snapshots", commit)
	if !hasCheckpoint(func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, name))
		return err == nil && st.Mode().IsRegular()
	}) {
		return Snapshot{}, notCached("snapshot " + commit + " lacks config.json, the tokenizer or the weights")
	}
	return Snapshot{ID: id, Commit: commit, Dir: dir}, nil
}

// Download fetches the files of id the engine reads into the cache (those
// already there are kept), links them into the snapshot folder and records
// the revision's commit under refs/.
func (c *Client) Download(ctx context.Context, id ID) (Snapshot, error) {
	if c.Offline {
		return Snapshot{}, errors.New("hub: HF_HUB_OFFLINE is set: downloads are disabled")
	}
	if c.CacheDir == "" {
		return Snapshot{}, errors.New("hub: no cache directory (set HF_HUB_CACHE or HOME)")
	}
	info, err := c.modelInfo(ctx, id)
	if err != nil {
		return Snapshot{}, err
	}
	files, err := SelectFiles(info.Files)
	if err != nil {
		return Snapshot{}, fmt.Errorf("%s: %w", id, err)
	}
	repoDir := filepath.Join(c.CacheDir, repoFolder(id.Repo))
	snap := Snapshot{ID: id, Commit: info.Commit, Dir: filepath.Join(repoDir, "snapshots", info.Commit)}
	c.say("fetching %s (commit %s) into %s", id, info.Commit, repoDir)
	for _, f := range files {
		meta, err := c.head(ctx, id.Repo, info.Commit, f)
		if err != nil {
			return snap, err
		}
		if meta.commit != "" && meta.commit != info.Commit {
			return snap, fmt.Errorf("hub: %s was served from commit %s, not %s", f, meta.commit, info.Commit)
		}
		limit := int64(MaxMetadataSize)
		if f == "model.safetensors" || f == "pytorch_model.bin" {
			limit = c.maxFileSize()
		}
		if meta.size > limit {
			return snap, fmt.Errorf("hub: %s is %d bytes, more than the %d allowed: %w", f, meta.size, limit, ErrTooLarge)
		}
		if err := c.fetchBlob(ctx, id.Repo, repoDir, f, meta, limit); err != nil {
			return snap, err
		}
		if err := linkSnapshotFile(snap.Dir, f, filepath.Join(repoDir, "blobs", meta.etag)); err != nil {
			return snap, err
		}
	}
	if id.Revision != info.Commit {
		if err := writeRef(repoDir, id.Revision, info.Commit); err != nil {
			return snap, err
		}
	}
	return snap, nil
}

// fetchBlob makes sure blobs/{etag} holds the file: downloaded into
// {etag}.incomplete (resumed if one is there), verified, then renamed.
func (c *Client) fetchBlob(ctx context.Context, repo, repoDir, file string, meta fileMeta, limit int64) error {
	blob := filepath.Join(repoDir, "blobs", meta.etag)
	if blobComplete(blob, meta.size) {
		c.say("%s: already in the cache", file)
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fmt.Errorf("hub: cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(c.CacheDir, ".locks", filepath.Base(repoDir), meta.etag+".lock"),
		func() { c.say("%s: waiting for another process downloading it", file) })
	if err != nil {
		return fmt.Errorf("hub: lock for %s: %w", file, err)
	}
	defer unlock()
	if blobComplete(blob, meta.size) { // another process finished it meanwhile
		c.say("%s: already in the cache", file)
		return nil
	}
	partial := blob + ".incomplete"
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("hub: cache: %w", err)
	}
	defer f.Close()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("hub: cache: %w", err)
	}
	if off > limit || (meta.size >= 0 && off > meta.size) {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("hub: cache: %w", err)
		}
		off = 0
	}
	if meta.size >= 0 {
		if err := c.checkSpace(filepath.Dir(blob), meta.size-off); err != nil {
			return fmt.Errorf("hub: %s: %w", file, err)
		}
	}
	var sum hash.Hash
	if isSHA256(meta.etag) {
		sum = sha256.New()
		if off > 0 {
			if _, err := io.Copy(sum, io.NewSectionReader(f, 0, off)); err != nil {
				return fmt.Errorf("hub: cache: reading %s: %w", partial, err)
			}
		}
	}
	p := c.newProgress(file, meta.size, off)
	t := transfer{c: c, repo: repo, file: file, url: meta.location, f: f, off: off, size: meta.size, limit: limit, sum: sum, p: p}
	for attempt := 1; ; attempt++ {
		err = t.get(ctx)
		if err == nil && meta.size >= 0 && t.off < meta.size {
			err = fmt.Errorf("connection closed after %d of %d bytes: %w", t.off, meta.size, io.ErrUnexpectedEOF)
		}
		if err == nil {
			break
		}
		if t.corrupt {
			f.Close()
			os.Remove(partial)
		}
		if !isTransient(err) || ctx.Err() != nil || attempt >= c.attempts() {
			p.abort()
			if isTransient(err) && !t.corrupt {
				return fmt.Errorf("hub: downloading %s: %w (%d bytes kept in %s: running the command again resumes)", file, err, t.off, partial)
			}
			return fmt.Errorf("hub: downloading %s: %w", file, err)
		}
		p.retry(err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("hub: downloading %s: %w", file, ctx.Err())
		case <-time.After(c.backoff(attempt)):
		}
	}
	if sum != nil {
		if got := hex.EncodeToString(sum.Sum(nil)); got != meta.etag {
			p.abort()
			f.Close()
			os.Remove(partial)
			return fmt.Errorf("hub: %s: %w: the download's SHA-256 is %s, the Hub says %s (the partial file was removed; run the command again)",
				file, ErrChecksum, got, meta.etag)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("hub: cache: %w", spaceError(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("hub: cache: %w", spaceError(err))
	}
	if err := os.Rename(partial, blob); err != nil {
		return fmt.Errorf("hub: cache: %w", err)
	}
	p.done()
	return nil
}

func blobComplete(path string, size int64) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && (size < 0 || st.Size() == size)
}

// backoff is the pause before retry number attempt: 1s, 2s, 4s, at most 8s.
func (c *Client) backoff(attempt int) time.Duration {
	base := c.retryDelay
	if base <= 0 {
		base = time.Second
	}
	return min(base<<(attempt-1), 8*base)
}

// checkSpace refuses to start a download the disk cannot hold.
func (c *Client) checkSpace(dir string, need int64) error {
	free := c.freeSpace
	if free == nil {
		free = freeBytes
	}
	avail, err := free(dir)
	if err != nil || avail < 0 {
		return nil // unknown: the write itself reports a full disk
	}
	if avail < need {
		return fmt.Errorf("%w: %d bytes are needed in %s but only %d are free", ErrDiskFull, need, dir, avail)
	}
	return nil
}

// spaceError names a full disk as such.
func spaceError(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: %v (free some space, then run the command again to resume)", ErrDiskFull, err)
	}
	return err
}

// errIdle ends a transfer that stalled.
var errIdle = errors.New("no data received")

// transfer is one file's download across attempts.
type transfer struct {
	c     *Client
	repo  string // for messages
	file  string
	url   string
	f     *os.File
	off   int64 // bytes in f so far
	size  int64 // announced size; -1 unknown
	limit int64
	sum   hash.Hash
	p     *progress
	// corrupt marks an error after which the partial file cannot be
	// trusted (the server sent more than it announced).
	corrupt bool
}

// get requests the rest of the file (a Range request when some is there)
// and appends it to f.
func (t *transfer) get(parent context.Context) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	hdr := http.Header{"Accept-Encoding": {"identity"}}
	if t.off > 0 {
		hdr.Set("Range", "bytes="+strconv.FormatInt(t.off, 10)+"-")
	}
	idle := t.c.idleTimeout()
	timer := time.AfterFunc(idle, func() { cancel(fmt.Errorf("%w for %v", errIdle, idle)) })
	defer timer.Stop()
	resp, _, err := t.c.do(ctx, http.MethodGet, t.url, hdr, true)
	if err != nil {
		return idleCause(ctx, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, err := contentRangeStart(resp.Header.Get("Content-Range"))
		if err != nil || start != t.off {
			// Not the part asked for: start again from zero.
			if err := t.restart(); err != nil {
				return err
			}
			return fmt.Errorf("server answered Range bytes=%d- with Content-Range %.60q: %w", t.off, resp.Header.Get("Content-Range"), io.ErrUnexpectedEOF)
		}
	case http.StatusOK:
		if t.off > 0 { // the server ignored the Range header
			if err := t.restart(); err != nil {
				return err
			}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if t.size >= 0 && t.off == t.size {
			return nil // it was complete already
		}
		if err := t.restart(); err != nil {
			return err
		}
		return fmt.Errorf("server refused Range bytes=%d-: %w", t.off, io.ErrUnexpectedEOF)
	default:
		e := httpError(resp, t.repo, t.file, false)
		if e.Status == http.StatusForbidden && e.Code == "" {
			// A storage server's refusal, not the Hub's: signed links expire.
			e.kind, e.hint = nil, "the storage server refused the download link (signed links expire): run the command again"
		}
		return e
	}
	if _, err := t.f.Seek(t.off, io.SeekStart); err != nil {
		return err
	}
	max := t.limit
	if t.size >= 0 {
		max = t.size
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		timer.Reset(idle)
		if n > 0 {
			if t.off+int64(n) > max {
				t.corrupt = true
				if t.size >= 0 {
					return fmt.Errorf("the server sent more than the %d bytes it announced", t.size)
				}
				return fmt.Errorf("the file is larger than the %d bytes allowed: %w", t.limit, ErrTooLarge)
			}
			if _, err := t.f.Write(buf[:n]); err != nil {
				return spaceError(err)
			}
			if t.sum != nil {
				t.sum.Write(buf[:n])
			}
			t.off += int64(n)
			t.p.set(t.off)
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return idleCause(ctx, rerr)
		}
	}
}

// restart empties the partial file when the server sends the whole file.
func (t *transfer) restart() error {
	if err := t.f.Truncate(0); err != nil {
		return err
	}
	t.off = 0
	if t.sum != nil {
		t.sum.Reset()
	}
	t.p.set(0)
	return nil
}

// idleCause reports a stall as such rather than as a cancelled context.
func idleCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, errIdle) {
		return cause
	}
	return err
}

// contentRangeStart parses "bytes START-END/TOTAL".
func contentRangeStart(h string) (int64, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !ok {
		return 0, errors.New("not a byte range")
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, errors.New("not a byte range")
	}
	n, err := strconv.ParseInt(start, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("bad range start")
	}
	return n, nil
}

// isTransient reports errors after which trying again may succeed.
func isTransient(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.retryable()
	}
	return errors.Is(err, errIdle) || errors.Is(err, io.ErrUnexpectedEOF) || isNetworkError(err)
}

// isNetworkError reports a failure to reach or talk to the server, as
// opposed to the server's refusal.
func isNetworkError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// linkSnapshotFile points snapshots/{commit}/{file} at its blob with a
// relative symlink, so the cache can be moved as a whole.
func linkSnapshotFile(snapDir, file, blob string) error {
	link := filepath.Join(snapDir, filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return fmt.Errorf("hub: cache: %w", err)
	}
	target, err := filepath.Rel(filepath.Dir(link), blob)
	if err != nil {
		return fmt.Errorf("hub: cache: %w", err)
	}
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	tmp := tempName(link)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("hub: cache: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("hub: cache: %w", err)
	}
	return nil
}

// writeRef records which commit a branch or tag resolved to.
func writeRef(repoDir, rev, commit string) error {
	path := filepath.Join(repoDir, "refs", filepath.FromSlash(rev))
	if b, err := weights.ReadFileLimited(path, 1024); err == nil && string(bytes.TrimSpace(b)) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("hub: cache: %w", err)
	}
	tmp := tempName(path)
	if err := os.WriteFile(tmp, []byte(commit), 0o644); err != nil {
		return fmt.Errorf("hub: cache: %w", spaceError(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("hub: cache: %w", err)
	}
	return nil
}

// tempName is a name beside path that no other writer (process or
// goroutine) picks, for a write followed by an atomic rename.
func tempName(path string) string {
	return fmt.Sprintf("%s.tmp-%d-%d", path, os.Getpid(), rand.Uint64())
}
