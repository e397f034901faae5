package tokenize

import (
	"strings"
	"testing"
)

func benchWords(b *testing.B) [][]byte {
	var words [][]byte
	for _, c := range readGolden(b, "sst2-mini-dev.jsonl") {
		for _, w := range strings.Fields(strings.ToLower(c.Text)) {
			words = append(words, []byte(w))
		}
	}
	return words
}

// TestPieceTable checks every vocabulary entry and some absent keys.
func TestPieceTable(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	for tok, id := range tk.vocab {
		if tok == "" {
			continue
		}
		if got := tk.first.lookup([]byte(tok)); got != id {
			t.Fatalf("first %q: %d, want %d", tok, got, id)
		}
		if rest, ok := strings.CutPrefix(tok, "##"); ok && rest != "" {
			if got := tk.cont.lookup([]byte(rest)); got != id {
				t.Fatalf("cont %q: %d, want %d", rest, got, id)
			}
		}
	}
	for _, k := range []string{"", "goodx", "##goodx", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "\x00", "theee", "unaffable"} {
		if id, ok := tk.vocab[k]; ok {
			t.Fatalf("%q is in the vocabulary (%d)", k, id)
		}
		if got := tk.first.lookup([]byte(k)); got != -1 {
			t.Errorf("absent %q found: %d", k, got)
		}
	}
	keys := []string{"a", "abcdefgh", "abcdefghi", "abcdefgh\x00", strings.Repeat("z", 300)}
	pt, ok := newPieceTable(keys, []int32{1, 2, 3, 4, 1<<24 - 1})
	if !ok {
		t.Fatal("newPieceTable failed")
	}
	for i, k := range keys {
		if got := pt.lookup([]byte(k)); got != []int32{1, 2, 3, 4, 1<<24 - 1}[i] {
			t.Errorf("%q: %d", k, got)
		}
	}
	for _, k := range []string{"b", "abcdefg", "abcdefghj", "abcdefgh\x01", strings.Repeat("z", 299)} {
		if got := pt.lookup([]byte(k)); got != -1 {
			t.Errorf("absent %q found: %d", k, got)
		}
	}
}

// BenchmarkLookupMap and BenchmarkLookupTable compare a Go map with
// pieceTable on the words of the SST-2 dev set.
func BenchmarkLookupMap(b *testing.B) {
	tk := loadRoute(b, sst2Dir, "json")
	words := benchWords(b)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		if _, ok := tk.vocab[string(words[i%len(words)])]; ok {
			n++
		}
	}
}

func BenchmarkLookupTable(b *testing.B) {
	tk := loadRoute(b, sst2Dir, "json")
	words := benchWords(b)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		if tk.first.lookup(words[i%len(words)]) >= 0 {
			n++
		}
	}
}
