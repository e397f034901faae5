package tokenize

import (
	"slices"
	"strings"
	"testing"
)

// nastySeeds are inputs meant to break a tokenizer.
var nastySeeds = []string{
	"", " ", "\x00", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xffb\xfe",
	"\u0301", "\u0301\u0302\u0303", "e\u0301\u0327", "\u0344\u0345", "\U0001D16D\U0001D165\u0301",
	"a\U0001D16D\u0941\U0001D165", "\u1100\u1161\u11a8", "\uac00\u11a8", "한국어",
	"[CLS][SEP][PAD][UNK][MASK]", "[CLS]", "[SEP", "[[MASK]]", "x[UNK]y", "[SE\x00P]", "[MASK]\u0301",
	"\u200b\u200c\u200d\ufeff\u00ad", "\u2028\u2029\u3000\u00a0", "\ue000\U000F0000\U0010FFFF",
	"İIıi", "ΣΟΦΊΑ", "ǅǈǋ", "ß ẞ ŉ ǰ ΐ", "\u212a\u212b\u2126", "\u037e\u0387\u1fef",
	"東\uf907\U0002B820\U0002B920", "👨\u200d👩\u200d👧", "❤️", "ＡＢＣ", "ﬁ",
	strings.Repeat("a", 101), strings.Repeat("é", 100), strings.Repeat("\u0301", 300),
	strings.Repeat("\U0001D16D", 40) + "a", strings.Repeat("[SEP]", 600), strings.Repeat("! ", 600),
	strings.Repeat("good ", 600), strings.Repeat("東", 600), strings.Repeat("\xff", 100),
}

// FuzzEncode checks that Encode never panics, keeps its invariants, agrees
// with the naive reference pipeline and with the vocab.txt route, and
// treats invalid UTF-8 as U+FFFD.
func FuzzEncode(f *testing.F) {
	for _, name := range []string{"tokenizer-hf.jsonl", "sst2-mini-edge.jsonl"} {
		for _, c := range readGolden(f, name) {
			f.Add(c.Text)
		}
	}
	for _, s := range nastySeeds {
		f.Add(s)
	}
	tk := loadRoute(f, sst2Dir, "json")
	tv := loadRoute(f, sst2Dir, "vocab")
	tiny := loadRoute(f, tinyOddDir, "json")
	ref, refTiny := newReference(tk), newReference(tiny)
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []*Tokenizer{tk, tiny} {
			enc := k.Encode(s)
			ids := enc.IDs
			if len(ids) < 2 || len(ids) > k.MaxLen() || ids[0] != k.Special().CLS || ids[len(ids)-1] != k.Special().SEP {
				t.Fatalf("bad shape: %v", ids)
			}
			for _, id := range ids {
				if id < 0 || int(id) >= k.VocabSize() {
					t.Fatalf("id %d out of range", id)
				}
			}
			if enc.Truncated != (len(ids) == k.MaxLen() && enc.Truncated) {
				t.Fatalf("truncated but short: %d", len(ids))
			}
		}
		enc := tk.Encode(s)
		if len(s) <= 1<<14 {
			for _, c := range []struct {
				k *Tokenizer
				r *reference
			}{{tk, ref}, {tiny, refTiny}} {
				want, wantTr := c.r.encode(s, c.k.MaxLen())
				got := c.k.Encode(s)
				if !slices.Equal(got.IDs, want) || got.Truncated != wantTr {
					t.Fatalf("%+q:\n got       %v %v\n reference %v %v", s, got.IDs, got.Truncated, want, wantTr)
				}
			}
		}
		if v := tv.Encode(s); !slices.Equal(v.IDs, enc.IDs) || v.Truncated != enc.Truncated {
			t.Fatalf("vocab.txt route differs: %v vs %v", v.IDs, enc.IDs)
		}
		if r := tk.Encode(strings.ToValidUTF8(s, "\ufffd")); !slices.Equal(r.IDs, enc.IDs) {
			t.Fatalf("invalid UTF-8 is not U+FFFD: %v vs %v", enc.IDs, r.IDs)
		}
	})
}

// TestReferenceAgreesWithGoldens makes sure the reference used by the fuzz
// test is itself right.
func TestReferenceAgreesWithGoldens(t *testing.T) {
	for _, c := range []struct{ file, dir string }{
		{"tokenizer-hf.jsonl", sst2Dir}, {"sst2-mini-edge.jsonl", sst2Dir},
		{"tiny-odd.jsonl", tinyOddDir}, {"sst2-mini-dev.jsonl", sst2Dir},
	} {
		tk := loadRoute(t, c.dir, "json")
		ref := newReference(tk)
		for _, g := range readGolden(t, c.file) {
			ids, tr := ref.encode(g.Text, tk.MaxLen())
			if !slices.Equal(ids, g.InputIDs) || (g.Truncated != nil && tr != *g.Truncated) {
				t.Errorf("reference wrong on %s %q", c.file, g.Text)
			}
		}
	}
}

// TestNastySeedsAgainstReference runs the fuzz seeds as a plain test.
func TestNastySeedsAgainstReference(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	ref := newReference(tk)
	for _, s := range nastySeeds {
		want, wantTr := ref.encode(s, tk.MaxLen())
		got := tk.Encode(s)
		if !slices.Equal(got.IDs, want) || got.Truncated != wantTr {
			t.Errorf("%+q:\n got       %v %v\n reference %v %v", s, got.IDs, got.Truncated, want, wantTr)
		}
	}
}
