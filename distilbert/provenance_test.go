package distilbert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// linkedCheckpoint makes a directory of symlinks to tiny-odd's files, as
// the Hub cache's snapshots are, so a test can add files beside them.
func linkedCheckpoint(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("../testdata/models/tiny-odd")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestProvenance(t *testing.T) {
	dir := linkedCheckpoint(t)
	want, err := fileSHA256(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	hub := HubSource{Repo: "org/tiny", Revision: "main", Commit: strings.Repeat("ab", 20)}
	c, err := Load(dir, WithName("org/tiny"), WithHubSource(hub), WithWeightsSHA256(strings.ToUpper(want)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Name() != "org/tiny" || c.WeightsSHA256() != want || c.HubSource() == nil || *c.HubSource() != hub {
		t.Errorf("name %q, sha %q, hub %+v; want org/tiny, %s, %+v", c.Name(), c.WeightsSHA256(), c.HubSource(), want, hub)
	}
	plain, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.Name() != filepath.Base(dir) || plain.HubSource() != nil || plain.WeightsSHA256() != want {
		t.Errorf("without options: name %q, hub %+v, sha %q", plain.Name(), plain.HubSource(), plain.WeightsSHA256())
	}

	emb, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	if got, err := fileSHA256("defaultmodel/sst2-mini/model.safetensors"); err == nil && emb.WeightsSHA256() != got {
		t.Errorf("embedded model's SHA-256 %s, file's %s", emb.WeightsSHA256(), got)
	}
	if _, err := LoadEmbedded(WithWeightsSHA256(want)); err == nil || !strings.Contains(err.Error(), "not the expected") {
		t.Errorf("embedded model with another model's SHA-256: %v", err)
	}
}

func TestWrongWeightsSHA256(t *testing.T) {
	dir := linkedCheckpoint(t)
	for _, bad := range []string{strings.Repeat("0", 64), "abc", strings.Repeat("g", 64)} {
		c, err := Load(dir, WithWeightsSHA256(bad))
		if err == nil {
			c.Close()
			t.Errorf("loaded with expected SHA-256 %q", bad)
		} else if !strings.Contains(err.Error(), "SHA-256") {
			t.Errorf("%q: unclear error %v", bad, err)
		}
	}
}

func TestSHA256SumsFile(t *testing.T) {
	dir := linkedCheckpoint(t)
	sum := func(name string) string {
		s, err := fileSHA256(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sum("model.safetensors") + "  model.safetensors\n" + sum("config.json") + " *config.json\n" +
		"# a comment\n\n" + strings.Repeat("1", 64) + "  tf_model.h5\n" // listed but absent: ignored
	for _, tc := range []struct{ sums, wantErr string }{
		{good, ""},
		{strings.ToUpper(sum("model.safetensors")) + "  model.safetensors\r\n", ""},
		{sum("config.json") + "  config.json\n", "does not list model.safetensors"},
		{good + strings.Repeat("2", 64) + "  vocab.txt\n", "vocab.txt: SHA-256 is"},
		{strings.Repeat("3", 64) + "  model.safetensors\n", "corrupt or not the one published"},
		{sum("model.safetensors") + " model.safetensors\n", "line 1"},
		{good + sum("config.json") + "  ../config.json\n", "not a plain file name"},
	} {
		if err := os.WriteFile(filepath.Join(dir, SumsFile), []byte(tc.sums), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(dir)
		if c != nil {
			c.Close()
		}
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("SHA256SUMS %q: %v; want error %q", tc.sums, err, tc.wantErr)
		}
	}
}

func FuzzParseSHA256Sums(f *testing.F) {
	f.Add([]byte(strings.Repeat("a", 64) + "  model.safetensors\n# x\n"))
	f.Add([]byte(strings.Repeat("A", 64) + " *../etc/passwd\n"))
	f.Add([]byte("\n\n" + strings.Repeat("0", 63)))
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := ParseSHA256Sums(data)
		if err != nil {
			return
		}
		for name, sum := range sums {
			if !isSHA256Hex(sum) || sum != strings.ToLower(sum) || name == "" || name == ".." || strings.ContainsAny(name, "/\\\x00") {
				t.Fatalf("accepted %q: %q", name, sum)
			}
		}
	})
}
