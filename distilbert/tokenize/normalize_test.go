package tokenize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// pieces returns the tokens between [CLS] and [SEP].
func pieces(tk *Tokenizer, text string) []string {
	enc := tk.Encode(text)
	var out []string
	for _, id := range enc.IDs[1 : len(enc.IDs)-1] {
		out = append(out, tk.Token(id))
	}
	return out
}

func wantPieces(t *testing.T, tk *Tokenizer, text string, want ...string) {
	t.Helper()
	if got := pieces(tk, text); !slices.Equal(got, want) {
		t.Errorf("%q:\n got  %q\n want %q", text, got, want)
	}
}

// customVocab builds a tokenizer from a small vocab.txt.
func customVocab(t *testing.T, config string, extra ...string) *Tokenizer {
	t.Helper()
	lines := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	lines = append(lines, extra...)
	fsys := fstest.MapFS{"vocab.txt": {Data: []byte(strings.Join(lines, "\n") + "\n")}}
	if config != "" {
		fsys["tokenizer_config.json"] = &fstest.MapFile{Data: []byte(config)}
	}
	tk, err := Load(fsys, 32)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestCleanDropsControlFormatPrivate(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	// Dropped characters vanish without splitting the word.
	for _, c := range []string{"\x00", "\x01", "\x07", "\x1b", "\x7f", "\u0085", "\u009f",
		"\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\U000E0001", // Cf
		"\ue000", "\U000F0000", "\U0010FFFD", // Co
		"\ufffd", "\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", // U+FFFD and invalid UTF-8
		"\v", "\f", // Cc even though White_Space: removed before the space mapping
	} {
		wantPieces(t, tk, "hel"+c+"lo", "hello")
	}
	// Unassigned (Cn) and noncharacters are kept: the word becomes [UNK].
	for _, c := range []string{"\u0378", "\U000FFFFE", "\U0010FFFF", "\U000E0080"} {
		wantPieces(t, tk, "hel"+c+"lo", "[UNK]")
	}
}

func TestCleanWhitespace(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	for _, sp := range []string{" ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u1680", "\u2000", "\u2007",
		"\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "  \t\n "} {
		wantPieces(t, tk, sp+"good"+sp+"movie"+sp, "good", "movie")
	}
	// Not White_Space: U+180E (Cf, dropped), U+200B (Cf, dropped), U+001C..U+001F (Cc, dropped).
	for _, c := range []string{"\u180e", "\u200b", "\x1c", "\x1f"} {
		wantPieces(t, tk, "good"+c+"movie", "good", "##mo", "##vie")
	}
	wantPieces(t, tk, "")
	wantPieces(t, tk, " \t\n\u3000 ")
}

func TestChineseCharsSplit(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	wantPieces(t, tk, "a東b", "a", "東", "b")
	wantPieces(t, tk, "東京", "東", "京")
	// Kana and Hangul are not CJK ideographs: they stay in the word.
	wantPieces(t, tk, "のmix", "の", "##mi", "##x")
	// CJK compatibility ideograph U+F9xx is split off before NFD maps it to
	// a unified ideograph: U+F907 -> U+9F9C.
	if norm.NFD.String("\uf907") != "\u9f9c" {
		t.Fatal("precondition: U+F907 decomposes to U+9F9C")
	}
	ref := pieces(tk, "a\u9f9cb")
	wantPieces(t, tk, "a\uf907b", ref...)
	// HF's table starts the extension E range at U+2B920, not U+2B820.
	if !isChinese(0x2b920) || isChinese(0x2b820) || isChinese(0x2b91f) || !isChinese(0x2b81f) {
		t.Error("CJK range boundaries differ from HF bert.rs")
	}
	wantPieces(t, tk, "a\U0002B820b", "[UNK]")
	wantPieces(t, tk, "a\U0002B920b", "a", "[UNK]", "b")
	for _, r := range []rune{0x33ff, 0x4dc0, 0x4dff, 0xa000, 0xf8ff, 0xfb00, 0x1ffff, 0x2a6e0, 0x2ceb0, 0x2f7ff, 0x2fa20} {
		if isChinese(r) {
			t.Errorf("%U is not a CJK ideograph for HF", r)
		}
	}
}

func TestStripAccents(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	wantPieces(t, tk, "Café", "cafe")
	wantPieces(t, tk, "Cafe\u0301", "cafe")               // decomposed input
	wantPieces(t, tk, "\u0301leading", "leading")         // lone leading mark
	wantPieces(t, tk, "a \u0301\u0302\u0303 b", "a", "b") // marks alone vanish
	wantPieces(t, tk, "naïve Ångström", "naive", "ang", "##strom")
	wantPieces(t, tk, "\u212b", "a") // ANGSTROM SIGN: singleton decomposition then Mn removed
	wantPieces(t, tk, "ΐ", "ι")      // two marks
	// Hangul syllables decompose into conjoining jamo (Lo, kept).
	wantPieces(t, tk, "한", "ᄒ", "##ᅡ", "##ᆫ")
	for r := rune(hangulSBase); r < hangulSBase+hangulSCount; r += 97 {
		var buf [8]decomposed
		var got []rune
		for _, d := range decompose(buf[:0], r) {
			got = append(got, d.r)
		}
		if want := []rune(norm.NFD.String(string(r))); !slices.Equal(got, want) {
			t.Fatalf("Hangul %U: %U, want %U", r, got, want)
		}
	}
}

// TestDecomposeAgainstGo cross-checks the NFD tables probed from the
// library with x/text's NFD (a newer Unicode version) on every code point.
// Unicode never changes a decomposition or a combining class once
// assigned, so the two may differ only where the library has no
// decomposition or class at all (characters assigned after its tables), and
// the library's class ranks must order characters as Go's classes do.
func TestDecomposeAgainstGo(t *testing.T) {
	var buf [8]decomposed
	rankOfClass := map[uint8]uint8{}
	var newerDecomp, newerClass []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		ds := decompose(buf[:0], r)
		var got strings.Builder
		for _, d := range ds {
			got.WriteRune(d.r)
		}
		if want := norm.NFD.String(string(r)); got.String() != want {
			if got.String() != string(r) {
				t.Fatalf("%U: decomposes to %+q, Go %+q", r, got.String(), want)
			}
			newerDecomp = append(newerDecomp, r)
		}
		if len(ds) != 1 {
			continue // the classes of its parts are checked on their own
		}
		ccc := cccOfGo(r)
		switch {
		case ds[0].ccc == 0 && ccc != 0:
			newerClass = append(newerClass, r)
		case ds[0].ccc != 0 && ccc == 0:
			t.Fatalf("%U is a non-starter for HF, not for Go", r)
		case ds[0].ccc != 0:
			if rank, ok := rankOfClass[ccc]; ok && rank != ds[0].ccc {
				t.Fatalf("%U: class %d has ranks %d and %d", r, ccc, rank, ds[0].ccc)
			}
			rankOfClass[ccc] = ds[0].ccc
		}
	}
	classes := make([]int, 0, len(rankOfClass))
	for ccc := range rankOfClass {
		classes = append(classes, int(ccc))
	}
	slices.Sort(classes)
	for i := 1; i < len(classes); i++ {
		if rankOfClass[uint8(classes[i-1])] >= rankOfClass[uint8(classes[i])] {
			t.Errorf("class %d ranks %d, class %d ranks %d", classes[i-1], rankOfClass[uint8(classes[i-1])],
				classes[i], rankOfClass[uint8(classes[i])])
		}
	}
	if len(classes) < 50 || len(newerDecomp)+len(newerClass) > 1000 {
		t.Errorf("%d classes; %d decompositions and %d non-starters newer than the library's NFD tables",
			len(classes), len(newerDecomp), len(newerClass))
	}
	t.Logf("%d combining classes; only in Go's NFD: decompositions of %U, non-starters %U",
		len(classes), newerDecomp, newerClass)
}

func cccOfGo(r rune) uint8 { return norm.NFD.PropertiesString(string(r)).CCC() }

// TestNonStarterAssumption checks what the bounded pending buffer relies
// on: non-starters that accent stripping keeps (ccc > 0, not Mn) are never
// whitespace or punctuation and lowercase to themselves.
func TestNonStarterAssumption(t *testing.T) {
	n := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		if combiningRank(r) == 0 || isMn(r) {
			continue
		}
		n++
		if l1, l2 := toLower(r); isWhitespace(r) || isPunct(r) || l1 != r || l2 >= 0 {
			t.Errorf("%U breaks the non-starter assumption", r)
		}
	}
	if n == 0 {
		t.Error("expected some non-Mn non-starters (e.g. U+1D165)")
	}
}

// TestCanonicalReordering uses non-Mn non-starters (Mc with ccc > 0), which
// survive accent stripping and are reordered by NFD.
func TestCanonicalReordering(t *testing.T) {
	const (
		stem  = "\U0001D165" // ccc 216
		flag  = "\U0001D16D" // ccc 226
		acute = "\u0301"     // Mn, ccc 230
		vsU   = "\u0941"     // DEVANAGARI VOWEL SIGN U: Mn with ccc 0, a starter
	)
	if norm.NFD.PropertiesString(vsU).CCC() != 0 || !isMn([]rune(vsU)[0]) {
		t.Fatal("precondition: U+0941 is Mn with ccc 0")
	}
	tk := customVocab(t, "", "a"+stem+flag, "a"+flag+stem, "x")
	// flag (226) before stem (216) is reordered.
	wantPieces(t, tk, "a"+flag+stem, "a"+stem+flag)
	wantPieces(t, tk, "a"+flag+acute+stem, "a"+stem+flag)
	// A zero-width space is removed by clean_text before NFD: still reordered.
	wantPieces(t, tk, "a"+flag+"\u200b"+stem, "a"+stem+flag)
	wantPieces(t, tk, "a"+flag+"\x00"+stem, "a"+stem+flag)
	// A starter blocks reordering even though stripping then removes it.
	wantPieces(t, tk, "a"+flag+vsU+stem, "a"+flag+stem)
	// Long runs of non-starters: the word is [UNK] past 100 characters.
	wantPieces(t, tk, "a"+strings.Repeat(flag, 99), "[UNK]")
	wantPieces(t, tk, "a"+strings.Repeat(flag, 200)+" x", "[UNK]", "x")
	wantPieces(t, tk, "a"+strings.Repeat(flag, 5000)+" x", "[UNK]", "x")
}

func TestLowercase(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	wantPieces(t, tk, "HELLO World", "hello", "world")
	wantPieces(t, tk, "İstanbul", "istanbul") // NFD + strip before lowercase
	wantPieces(t, tk, "ΣΟΦΊΑ σοφία", "σ", "##ο", "##φ", "##ια", "σ", "##ο", "##φ", "##ια")
	wantPieces(t, tk, "ΟΔΟΣ", "ο", "##δ", "##ο", "##σ") // no final-sigma rule
	wantPieces(t, tk, "\u212a", "k")                    // KELVIN SIGN
	wantPieces(t, tk, "ẞ", "ß")

	// lowercase without accent stripping: U+0130 lowercases to "i\u0307".
	data, err := os.ReadFile(filepath.Join(sst2Dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tj := setNormalizer(t, data, map[string]any{"strip_accents": false})
	tk2, err := Load(fstest.MapFS{"tokenizer.json": {Data: tj}}, 512)
	if err != nil {
		t.Fatal(err)
	}
	if tk2.stripAccents || !tk2.lowercase {
		t.Fatal("strip_accents=false not honoured")
	}
	wantPieces(t, tk2, "İ", "[UNK]")
	wantPieces(t, tk2, "Café", "[UNK]")
	wantPieces(t, tk2, "CAFE", "cafe")
	ref := newReference(tk2)
	for _, s := range []string{"İstanbul", "İ", "Ångström Café", "ΣΟΦΊΑ"} {
		want, _ := ref.encode(s, 512)
		if got := tk2.Encode(s).IDs; !slices.Equal(got, want) {
			t.Errorf("%q: %v, reference %v", s, got, want)
		}
	}
}

// setNormalizer rewrites fields of the normalizer of a tokenizer.json.
func setNormalizer(t *testing.T, data []byte, fields map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	n := m["normalizer"].(map[string]any)
	for k, v := range fields {
		n[k] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDoLowerCaseFalse(t *testing.T) {
	// Cased vocabulary: do_lower_case=false keeps case AND accents (strip
	// accents follows lowercase), and does no NFD at all.
	tk := customVocab(t, `{"do_lower_case": false, "model_max_length": 512}`,
		"Café", "cafe", "Cafe", "e\u0301", "\uac00", "I", "\u0130")
	if tk.MaxLen() != 32 {
		t.Errorf("MaxLen %d, want min(32, 512)", tk.MaxLen())
	}
	wantPieces(t, tk, "Café", "Café")
	wantPieces(t, tk, "Cafe\u0301", "[UNK]") // not composed nor decomposed
	wantPieces(t, tk, "cafe Cafe", "cafe", "Cafe")
	wantPieces(t, tk, "\uac00", "\uac00") // Hangul not decomposed
	wantPieces(t, tk, "\u0130", "\u0130")
	// Cleaning and CJK splitting still apply.
	wantPieces(t, tk, "I\u200bI", "[UNK]")
	wantPieces(t, tk, "I\x00", "I")

	tk2 := customVocab(t, `{"do_lower_case": false, "strip_accents": true}`, "Cafe", "cafe")
	wantPieces(t, tk2, "Café", "Cafe")
	tk3 := customVocab(t, `{"do_lower_case": true, "strip_accents": false}`, "Cafe", "cafe", "café")
	wantPieces(t, tk3, "CAFÉ", "café")
	tk4 := customVocab(t, `{"tokenize_chinese_chars": false}`, "東京", "東")
	wantPieces(t, tk4, "東京", "東京")
}

func TestPunctuation(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	// All ASCII punctuation, including symbols that Unicode does not call P*.
	for c := byte(33); c < 127; c++ {
		if isASCIIPunct(c) != !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			t.Errorf("ASCII %q misclassified", c)
		}
	}
	wantPieces(t, tk, "a$b+c^d`e~f|g<h", "a", "$", "b", "+", "c", "^", "d", "`", "e", "~", "f", "|", "g", "<", "h")
	wantPieces(t, tk, "don't", "don", "'", "t")
	wantPieces(t, tk, "«a»—b…", "«", "a", "»", "—", "b", "…")
	// Unicode symbols (S*) are not punctuation: they stay in the word.
	wantPieces(t, tk, "€999", "€", "##9", "##9", "##9")
	wantPieces(t, tk, "a©b", "a", "##©", "##b")
	// Punctuation produced by NFD: U+037E GREEK QUESTION MARK -> ';'.
	wantPieces(t, tk, "a\u037eb", "a", ";", "b")
	// Unknown punctuation is [UNK] on its own.
	wantPieces(t, tk, "a\u2e3bb", "a", "[UNK]", "b")
}

func TestWordPiece(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	wantPieces(t, tk, "unaffable", "una", "##ffa", "##ble") // greedy, not best
	wantPieces(t, tk, strings.Repeat("a", 100), pieces(tk, strings.Repeat("a", 100))...)
	if p := pieces(tk, strings.Repeat("a", 100)); len(p) < 2 || p[0] == "[UNK]" {
		t.Errorf("100 chars should be split into pieces, got %q", p)
	}
	wantPieces(t, tk, strings.Repeat("a", 101), "[UNK]")
	wantPieces(t, tk, strings.Repeat("é", 100), pieces(tk, strings.Repeat("e", 100))...) // chars, not bytes
	wantPieces(t, tk, strings.Repeat("é", 101), "[UNK]")
	wantPieces(t, tk, "good"+strings.Repeat("\u0301", 500), "good") // stripped marks do not count
	wantPieces(t, tk, "hello☃world", "[UNK]")                       // unmatchable rest: whole word
	wantPieces(t, tk, "☃", "[UNK]")
}

func TestSpecialTokens(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	wantPieces(t, tk, "[CLS][SEP][PAD][UNK][MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")
	wantPieces(t, tk, "a[SEP]b", "a", "[SEP]", "b")
	wantPieces(t, tk, "good[MASK]ness", "good", "[MASK]", "ness")
	wantPieces(t, tk, "[[SEP]]", "[", "[SEP]", "]")
	wantPieces(t, tk, "[sep] [Sep] [SEP", "[", "sep", "]", "[", "sep", "]", "[", "sep")
	wantPieces(t, tk, "[SE\x00P]", "[", "sep", "]") // matched before cleaning only
	wantPieces(t, tk, "[SEP\u0301]", "[", "sep", "]")
	wantPieces(t, tk, "\u0301[SEP]\u0301", "[SEP]")
	wantPieces(t, tk, "é[SEP]é", "e", "[SEP]", "e")
	wantPieces(t, tk, "東[SEP]東", "東", "[SEP]", "東")
	wantPieces(t, tk, "\xff[SEP]\xff", "[SEP]")
}

func TestTruncation(t *testing.T) {
	tk := loadRoute(t, tinyOddDir, "json")
	for n := 0; n < 70; n++ {
		enc := tk.Encode(strings.Repeat("nice ", n))
		wantLen, wantTr := n+2, false
		if n > 62 {
			wantLen, wantTr = 64, true
		}
		if len(enc.IDs) != wantLen || enc.Truncated != wantTr || enc.IDs[len(enc.IDs)-1] != 102 {
			t.Errorf("%d words: len %d truncated %v", n, len(enc.IDs), enc.Truncated)
		}
	}
	// A word whose pieces cross the limit is cut inside.
	enc := tk.Encode(strings.Repeat("nice ", 61) + "unaffable")
	if len(enc.IDs) != 64 || !enc.Truncated || tk.Token(enc.IDs[62]) != "una" {
		t.Errorf("cut inside a word: %v %v", enc.IDs[60:], enc.Truncated)
	}
	// Specials count as pieces.
	enc = tk.Encode(strings.Repeat("[SEP]", 63))
	if len(enc.IDs) != 64 || !enc.Truncated {
		t.Errorf("63 specials: len %d truncated %v", len(enc.IDs), enc.Truncated)
	}
	enc = tk.Encode(strings.Repeat("[SEP]", 62) + "\u0301 \x00")
	if len(enc.IDs) != 64 || enc.Truncated {
		t.Errorf("62 specials + nothing: len %d truncated %v", len(enc.IDs), enc.Truncated)
	}
}

func TestHugeInputs(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	size := 10 << 20
	if raceEnabled {
		size = 1 << 20 // the race detector slows this down 10-30x
	}
	for name, text := range map[string]string{
		"words":     strings.Repeat("good movie ", size/11),
		"oneword":   strings.Repeat("a", size),
		"marks":     "a" + strings.Repeat("\u0301", size/2),
		"mc":        "a" + strings.Repeat("\U0001D16D", size/4),
		"cjk":       strings.Repeat("東", size/3),
		"invalid":   strings.Repeat("\xff", size),
		"controls":  strings.Repeat("\x00", size),
		"specials":  strings.Repeat("[MASK]", size/6),
		"spaces":    strings.Repeat(" ", size),
		"punct":     strings.Repeat("!", size),
		"hangul":    strings.Repeat("한국어", size/9),
		"emojiword": strings.Repeat("😀", size/4),
		"nonbmpmix": nonBMPMix(size / 4),
		"mixed":     strings.Repeat("x\u0301\U0001D16D한😀\u200b", size/16),
	} {
		start := time.Now()
		enc := tk.Encode(text)
		d := time.Since(start)
		if len(enc.IDs) > tk.MaxLen() || enc.IDs[0] != 101 || enc.IDs[len(enc.IDs)-1] != 102 {
			t.Errorf("%s: bad encoding of length %d", name, len(enc.IDs))
		}
		t.Logf("%-9s %5d ids truncated=%-5v %v", name, len(enc.IDs), enc.Truncated, d)
		if limit := 2 * time.Second; d > limit && !raceEnabled || d > 10*limit {
			t.Errorf("%s: %v", name, d)
		}
	}
}

// nonBMPMix returns n runes outside the BMP, mostly distinct from their
// neighbours (mathematical letters, emoji, musical symbols): one giant word
// that defeats encoder.flags' cache.
func nonBMPMix(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			sb.WriteRune(rune(0x1d400 + (i*7919)%0x3ff))
		case 1:
			sb.WriteRune(rune(0x1f300 + (i*104729)%0x2ff))
		default:
			sb.WriteRune(rune(0x1d100 + (i*31)%0xe0))
		}
	}
	return sb.String()
}

func TestInvalidUTF8IsReplacement(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	for _, s := range []string{"caf\xc3", "\xe2\x82", "a\xffb", "é\x80", "\xed\xa0\x80x", "[SEP\xff]", "\xf0\x9f\x98"} {
		a := tk.Encode(s).IDs
		b := tk.Encode(strings.ToValidUTF8(s, "\ufffd")).IDs
		if !slices.Equal(a, b) {
			t.Errorf("%q: %v vs replaced %v", s, a, b)
		}
		if utf8.ValidString(s) {
			t.Errorf("%q is valid", s)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sst2Dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := os.ReadFile(filepath.Join(sst2Dir, "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]fstest.MapFS{
		"empty":          {},
		"badjson":        {"tokenizer.json": {Data: []byte("{")}},
		"badconfig":      {"vocab.txt": {Data: vocab}, "tokenizer_config.json": {Data: []byte("[")}},
		"nonorm":         {"tokenizer.json": {Data: setNormalizer(t, data, map[string]any{"type": "NFKC"})}},
		"maxlen1":        {"vocab.txt": {Data: vocab}, "tokenizer_config.json": {Data: []byte(`{"model_max_length": 1}`)}},
		"nounk":          {"vocab.txt": {Data: []byte("[CLS]\n[SEP]\n")}},
		"missingspecial": {"vocab.txt": {Data: []byte("[UNK]\n[CLS]\n[SEP]\n")}, "tokenizer_config.json": {Data: []byte(`{"mask_token": "<mask>"}`)}},
	}
	for name, fsys := range bad {
		if _, err := Load(fsys, 512); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Load(fstest.MapFS{"vocab.txt": {Data: vocab}}, 0); err == nil {
		t.Error("no max length: no error")
	}
	tk, err := Load(fstest.MapFS{"vocab.txt": {Data: vocab}, "tokenizer_config.json": {Data: []byte(`{"model_max_length": 1e30}`)}}, 128)
	if err != nil || tk.MaxLen() != 128 {
		t.Errorf("model_max_length 1e30: %v %v", tk, err)
	}
	// BertProcessing instead of TemplateProcessing, no normalizer.
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["post_processor"] = map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]", 102}, "cls": []any{"[CLS]", 101}}
	m["normalizer"] = nil
	variant, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	tk, err = Load(fstest.MapFS{"tokenizer.json": {Data: variant}}, 512)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Special() != (SpecialIDs{101, 102, 0, 100, 103}) || tk.lowercase || tk.stripAccents || tk.cleanText || tk.chineseChars {
		t.Errorf("variant: %+v", tk.Special())
	}
	wantPieces(t, tk, "good movie\u00a0!", "good", "movie", "!") // the pre-tokenizer splits on White_Space too
	wantPieces(t, tk, "good\u200bmovie", "[UNK]")                // not cleaned: U+200B stays in the word
	wantPieces(t, tk, "Good", "[UNK]")
	wantPieces(t, tk, "good\tmovie", "good", "movie")

	tk, err = Load(fstest.MapFS{"vocab.txt": {Data: []byte("[UNK]\n[CLS]\n[SEP]\n")}, "tokenizer_config.json": {Data: []byte(`{"mask_token": null, "pad_token": null}`)}}, 8)
	if err != nil || tk.Special().MASK != -1 || tk.Special().PAD != -1 || tk.VocabSize() != 3 {
		t.Errorf("minimal vocab: %+v %v", tk, err)
	}
}
