package tokenize

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// hfCodepointsFile holds goldens of the Hugging Face tokenizers library over
// every Unicode scalar value, made by tools/tokgolden/golden.js.
const hfCodepointsFile = "testdata/hf-codepoints.jsonl.gz"

// hfPlaceholder stands for the probed code point in the golden's text form
// and words (clean_text removes it, so no real word contains it).
const hfPlaceholder = "\x00"

type hfGoldenHeader struct {
	Version         string `json:"version"`
	TokenizerSHA256 string `json:"tokenizer_sha256"`
	Form            string `json:"form"`
	Row             int    `json:"row"`
}

// hfGoldenLine is a row of code points (First, IDs of each, words as
// offset -> list where they differ from the form's) or an explicit text
// (Text, IDs[0], words a plain list). Words are decoded only for the lines
// a test expands.
type hfGoldenLine struct {
	First    *rune           `json:"first"`
	Text     string          `json:"text"`
	RawIDs   json.RawMessage `json:"ids"`
	RawWords json.RawMessage `json:"words"`
	ids      [][]int32
}

func readHFGoldens(tb testing.TB) (hfGoldenHeader, []hfGoldenLine) {
	tb.Helper()
	f, err := os.Open(hfCodepointsFile)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<24)
	var head hfGoldenHeader
	var lines []hfGoldenLine
	for n := 0; sc.Scan(); n++ {
		if n == 0 {
			if err := json.Unmarshal(sc.Bytes(), &head); err != nil {
				tb.Fatalf("%s header: %v", hfCodepointsFile, err)
			}
			continue
		}
		var l hfGoldenLine
		err := json.Unmarshal(sc.Bytes(), &l)
		if err == nil {
			if l.First != nil {
				l.ids, err = parseIDLists(l.RawIDs)
			} else {
				var ids []int32
				ids, err = parseIDList(l.RawIDs)
				l.ids = [][]int32{ids}
			}
		}
		if err != nil {
			tb.Fatalf("%s line %d: %v", hfCodepointsFile, n+1, err)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if head.Form == "" || head.Row <= 0 || len(lines) == 0 {
		tb.Fatalf("%s: no header or no lines", hfCodepointsFile)
	}
	return head, lines
}

// parseIDLists parses a JSON array of arrays of ids: encoding/json through
// reflection takes most of the test's time under the race detector.
func parseIDLists(b []byte) ([][]int32, error) {
	var out [][]int32
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, fmt.Errorf("ids: not an array")
	}
	b = bytes.TrimSpace(b[1 : len(b)-1])
	for len(b) > 0 {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return nil, fmt.Errorf("ids: unterminated array")
		}
		ids, err := parseIDList(b[:end+1])
		if err != nil {
			return nil, err
		}
		out = append(out, ids)
		b = bytes.TrimSpace(b[end+1:])
		if len(b) > 0 {
			if b[0] != ',' {
				return nil, fmt.Errorf("ids: %q after an array", b[0])
			}
			b = bytes.TrimSpace(b[1:])
		}
	}
	return out, nil
}

// parseIDList parses a JSON array of ids.
func parseIDList(b []byte) ([]int32, error) {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, fmt.Errorf("ids: %.20q is not an array", b)
	}
	ids := []int32{}
	if len(bytes.TrimSpace(b[1:len(b)-1])) == 0 {
		return ids, nil
	}
	for _, f := range bytes.Split(b[1:len(b)-1], []byte{','}) {
		v, err := strconv.ParseInt(string(bytes.TrimSpace(f)), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("ids: %w", err)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}

// hfCase is one golden text: what HF's encode gives (without [CLS] and
// [SEP]) and the words its normalizer and pre-tokenizer make.
type hfCase struct {
	r     rune // the probed code point, -1 for an explicit text
	text  string
	ids   []int32
	words []string
}

// forEachHFCase expands the goldens into their texts, in file order.
func forEachHFCase(tb testing.TB, head hfGoldenHeader, lines []hfGoldenLine, fn func(hfCase)) {
	tb.Helper()
	defaultWords := []string{hfPlaceholder, "a" + hfPlaceholder + "b"}
	for _, l := range lines {
		if l.First == nil {
			var words []string
			if err := json.Unmarshal(l.RawWords, &words); err != nil {
				tb.Fatalf("%+q: words: %v", l.Text, err)
			}
			fn(hfCase{-1, l.Text, l.ids[0], words})
			continue
		}
		var rowWords map[string][]string
		if l.RawWords != nil {
			if err := json.Unmarshal(l.RawWords, &rowWords); err != nil {
				tb.Fatalf("row %U: words: %v", *l.First, err)
			}
		}
		for i, ids := range l.ids {
			r := *l.First + rune(i)
			c := string(r)
			words, ok := rowWords[strconv.Itoa(i)]
			if !ok {
				words = defaultWords
			}
			ws := make([]string, len(words))
			for k, w := range words {
				ws[k] = strings.ReplaceAll(w, hfPlaceholder, c)
			}
			fn(hfCase{r, strings.ReplaceAll(head.Form, hfPlaceholder, c), ids, ws})
		}
	}
}

func (c hfCase) String() string {
	if c.r >= 0 {
		return fmt.Sprintf("%U %+q", c.r, c.text)
	}
	return fmt.Sprintf("%+q", c.text)
}

// TestHFEveryCodePoint checks Encode against the Hugging Face tokenizers
// library on every Unicode scalar value, alone and between two letters, and
// on texts that pair each non-starter with others.
func TestHFEveryCodePoint(t *testing.T) {
	head, lines := readHFGoldens(t)
	t.Run("complete", func(t *testing.T) { checkHFGoldensComplete(t, head, lines) })
	if raceEnabled {
		// The race detector slows this down about 20x; the plain run checks
		// every code point, this one a sixteenth of the rows.
		var some []hfGoldenLine
		for i, l := range lines {
			if l.First == nil || i%16 == 0 {
				some = append(some, l)
			}
		}
		lines = some
	}
	t.Run("ids", func(t *testing.T) { checkHFIDs(t, head, lines) })
	t.Run("words", func(t *testing.T) { checkHFWords(t, head, lines) })
}

// checkHFGoldensComplete checks that the goldens are whole (rows of every
// scalar value, in order, and the explicit texts) and made with the
// library version of the tables and this tokenizer.json.
func checkHFGoldensComplete(t *testing.T, head hfGoldenHeader, lines []hfGoldenLine) {
	if head.Version != hfTokenizersVersion {
		t.Errorf("goldens from tokenizers %s, tables from %s: regenerate both", head.Version, hfTokenizersVersion)
	}
	data, err := os.ReadFile(filepath.Join(sst2Dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != head.TokenizerSHA256 {
		t.Errorf("goldens made with another tokenizer.json (sha256 %s)", head.TokenizerSHA256)
	}
	next, texts := rune(0), 0
	for _, l := range lines {
		if l.First == nil {
			texts++
			continue
		}
		if next == 0xd800 {
			next = 0xe000
		}
		if *l.First != next || len(l.ids) != head.Row {
			t.Fatalf("row at %U (%d code points), want %U (%d)", *l.First, len(l.ids), next, head.Row)
		}
		next += rune(head.Row)
	}
	if next != unicode.MaxRune+1 {
		t.Errorf("rows end at %U", next)
	}
	if texts < 2000 {
		t.Errorf("only %d explicit texts", texts)
	}
}

// checkHFIDs compares the ids. Texts are joined with spaces into batches
// that stay within MaxLen (whitespace ends every word and every run of
// non-starters, so the ids of a batch are those of its texts one after the
// other); a batch that differs is checked text by text.
func checkHFIDs(t *testing.T, head hfGoldenHeader, lines []hfGoldenLine) {
	tk := loadRoute(t, sst2Dir, "json")
	var failed []string
	var batch []hfCase
	var text strings.Builder
	var want []int32
	flush := func() {
		got := tk.Encode(text.String()).IDs
		if !slices.Equal(got[1:len(got)-1], want) {
			for _, c := range batch {
				if got := tk.Encode(c.text).IDs; !slices.Equal(got[1:len(got)-1], c.ids) {
					failed = append(failed, fmt.Sprintf("%v: %v, want %v", c, got[1:len(got)-1], c.ids))
				}
			}
		}
		batch, want = batch[:0], want[:0]
		text.Reset()
	}
	total := 0
	forEachHFCase(t, head, lines, func(c hfCase) {
		if len(want)+len(c.ids) > tk.MaxLen()-2 {
			flush()
		}
		batch = append(batch, c)
		want = append(want, c.ids...)
		text.WriteString(c.text)
		text.WriteByte(' ')
		total++
	})
	flush()
	reportHFFailures(t, "ids", failed, total)
}

// checkHFWords checks the normalizer and pre-tokenizer alone, which the ids
// cannot show when a word is [UNK] either way (a lowercase mapping, an
// accent kept or removed inside an unknown word): for each group of texts,
// a tokenizer whose vocabulary is exactly HF's words must give back those
// words.
func checkHFWords(t *testing.T, head hfGoldenHeader, lines []hfGoldenLine) {
	var failed []string
	var group []hfCase
	check := func() {
		tk := wordsTokenizer(t, group)
		var text strings.Builder
		var want []string
		for _, c := range group {
			text.WriteString(c.text)
			text.WriteByte(' ')
			want = append(want, c.words...)
		}
		if got := pieces(tk, text.String()); !slices.Equal(got, want) {
			for _, c := range group {
				if got := pieces(tk, c.text); !slices.Equal(got, c.words) {
					failed = append(failed, fmt.Sprintf("%v: %+q, want %+q", c, got, c.words))
				}
			}
		}
		group = group[:0]
	}
	total := 0
	forEachHFCase(t, head, lines, func(c hfCase) {
		group = append(group, c)
		if len(group) == 4096 { // a few thousand words per vocabulary: Load costs more than Encode
			check()
		}
		total++
	})
	if len(group) > 0 {
		check()
	}
	reportHFFailures(t, "words", failed, total)
}

// wordsTokenizer loads a tokenizer with bert-base-uncased's normalizer
// (vocab.txt defaults) whose vocabulary is the words of cases.
func wordsTokenizer(t *testing.T, cases []hfCase) *Tokenizer {
	t.Helper()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	seen := map[string]bool{}
	for _, c := range cases {
		for _, w := range c.words {
			if !seen[w] {
				seen[w] = true
				vocab = append(vocab, w)
			}
		}
	}
	fsys := fstest.MapFS{
		"vocab.txt":             {Data: []byte(strings.Join(vocab, "\n") + "\n")},
		"tokenizer_config.json": {Data: []byte(`{"model_max_length": 100000}`)},
	}
	tk, err := Load(fsys, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func reportHFFailures(t *testing.T, what string, failed []string, total int) {
	t.Helper()
	if len(failed) == 0 {
		return
	}
	for _, f := range failed[:min(len(failed), 40)] {
		t.Error(f)
	}
	t.Errorf("%s differ from tokenizers %s on %d of %d texts", what, hfTokenizersVersion, len(failed), total)
}
