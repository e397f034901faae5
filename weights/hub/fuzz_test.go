package hub

import (
	"strings"
	"testing"
)

// The Hub's answers are untrusted input: none of their parsers may panic,
// and what they accept must be safe to use as a path.

func FuzzParseModelInfo(f *testing.F) {
	f.Add([]byte(`{"id":"a/b","sha":"0123456789abcdef0123456789abcdef01234567","siblings":[{"rfilename":"config.json"},{"rfilename":"model.safetensors"}]}`))
	f.Add([]byte(`{"sha": 5}`))
	f.Add([]byte(`{"siblings": [null, {"rfilename": "../../etc/passwd"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		mi, err := ParseModelInfo(data)
		if err != nil {
			return
		}
		if !isCommitHash(mi.Commit) {
			t.Fatalf("accepted commit %q", mi.Commit)
		}
		files, err := SelectFiles(mi.Files)
		if err != nil {
			return
		}
		for _, f := range files {
			if strings.ContainsAny(f, `/\`) || f == "." || f == ".." {
				t.Fatalf("selected %q", f)
			}
		}
	})
}

func FuzzNormalizeETag(f *testing.F) {
	for _, s := range []string{`"abc"`, `W/"0123"`, `"../../x"`, "", `W/`, "\"a\x00b\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		etag, err := NormalizeETag(raw)
		if err != nil {
			return
		}
		if etag == "" || etag == "." || etag == ".." || strings.ContainsAny(etag, "/\\.\x00\"") || len(etag) > 128 {
			t.Fatalf("NormalizeETag(%q) = %q", raw, etag)
		}
	})
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"org/name", "name@v1", "a/b@refs/pr/1", "../x", "a/b@..", "/abs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		for _, part := range append(strings.Split(id.Repo, "/"), strings.Split(id.Revision, "/")...) {
			if part == "" || part == "." || part == ".." || strings.ContainsAny(part, "\\\x00 ") {
				t.Fatalf("ParseID(%q) = %+v", s, id)
			}
		}
		if strings.Contains(repoFolder(id.Repo), "/") {
			t.Fatalf("cache folder %q", repoFolder(id.Repo))
		}
		if again, err := ParseID(id.String()); err != nil || again != id {
			t.Fatalf("%q round-trips to %+v, %v", id.String(), again, err)
		}
	})
}

func FuzzContentRangeStart(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 5-9/*", "bytes */10", "bytes -1-2/3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := contentRangeStart(s); err == nil && n < 0 {
			t.Fatalf("contentRangeStart(%q) = %d", s, n)
		}
	})
}
