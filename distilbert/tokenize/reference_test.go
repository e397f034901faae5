package tokenize

import (
	"sort"
	"strings"
	"unicode"
)

// reference is a deliberately naive transcription of the HF pipeline
// (tokenizers' AddedVocabulary, BertNormalizer, BertPreTokenizer, WordPiece,
// TemplateProcessing, truncation), one whole-string stage after the other,
// for differential tests of the single-pass Encode. It shares the character
// classes (hftables.go), not the algorithm.
type reference struct {
	t *Tokenizer
}

func newReference(t *Tokenizer) *reference { return &reference{t: t} }

// wordPiece is the textbook greedy longest-match-first algorithm (Python
// BERT's WordpieceTokenizer, HF's WordPiece::tokenize).
func (r *reference) wordPiece(word string) []int32 {
	unk := []int32{r.t.special.UNK}
	chars := []rune(word)
	if len(chars) > r.t.maxWordChars {
		return unk
	}
	var out []int32
	for start := 0; start < len(chars); {
		end := len(chars)
		found := false
		for ; start < end; end-- {
			sub := string(chars[start:end])
			if start > 0 {
				sub = "##" + sub
			}
			if id, ok := r.t.vocab[sub]; ok {
				out = append(out, id)
				found = true
				break
			}
		}
		if !found {
			return unk
		}
		start = end
	}
	return out
}

// refChinese lists HF's is_chinese_char ranges.
var refChinese = &unicode.RangeTable{
	R16: []unicode.Range16{{0x3400, 0x4dbf, 1}, {0x4e00, 0x9fff, 1}, {0xf900, 0xfaff, 1}},
	R32: []unicode.Range32{
		{0x20000, 0x2a6df, 1}, {0x2a700, 0x2b73f, 1}, {0x2b740, 0x2b81f, 1},
		{0x2b920, 0x2ceaf, 1}, {0x2f800, 0x2fa1f, 1},
	},
}

// normalize is BertNormalizer on a valid string.
func (r *reference) normalize(s string) string {
	t := r.t
	var b strings.Builder
	if t.cleanText {
		for _, c := range s {
			if c == '\t' || c == '\n' || c == '\r' {
				b.WriteRune(' ')
				continue
			}
			if isCleanedAway(c) {
				continue
			}
			if isWhitespace(c) {
				c = ' '
			}
			b.WriteRune(c)
		}
		s = b.String()
		b.Reset()
	}
	if t.chineseChars {
		for _, c := range s {
			if unicode.Is(refChinese, c) {
				b.WriteRune(' ')
				b.WriteRune(c)
				b.WriteRune(' ')
			} else {
				b.WriteRune(c)
			}
		}
		s = b.String()
		b.Reset()
	}
	if t.stripAccents {
		for _, c := range refNFD(s) {
			if !isMn(c) {
				b.WriteRune(c)
			}
		}
		s = b.String()
		b.Reset()
	}
	if t.lowercase {
		for _, c := range s {
			l1, l2 := toLower(c)
			b.WriteRune(l1)
			if l2 >= 0 {
				b.WriteRune(l2)
			}
		}
		s = b.String()
	}
	return s
}

// refNFD is NFD as Rust's unicode-normalization does it (without the
// Stream-Safe Text Format, which inserts U+034F after 30 non-starters): each
// character is decomposed alone, then every run of non-starters is stably
// sorted by combining class.
func refNFD(s string) []rune {
	var rs []rune
	var cccs []uint8
	for _, c := range s {
		for _, d := range decompose(nil, c) {
			rs = append(rs, d.r)
			cccs = append(cccs, d.ccc)
		}
	}
	for i := 0; i < len(rs); {
		if cccs[i] == 0 {
			i++
			continue
		}
		j := i
		for j < len(rs) && cccs[j] != 0 {
			j++
		}
		idx := make([]int, j-i)
		for k := range idx {
			idx[k] = i + k
		}
		sort.SliceStable(idx, func(a, b int) bool { return cccs[idx[a]] < cccs[idx[b]] })
		run := make([]rune, len(idx))
		for k, x := range idx {
			run[k] = rs[x]
		}
		copy(rs[i:j], run)
		for k := i; k < j; k++ {
			cccs[k] = 1 // only starters matter from here on
		}
		i = j
	}
	return rs
}

// words is BertPreTokenizer.
func (r *reference) words(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, isWhitespace) {
		start := 0
		for i, c := range w {
			if isPunct(c) {
				if i > start {
					out = append(out, w[start:i])
				}
				out = append(out, string(c))
				start = i + len(string(c))
			}
		}
		if start < len(w) {
			out = append(out, w[start:])
		}
	}
	return out
}

// encode returns the ids and truncation flag.
func (r *reference) encode(text string, maxLen int) (ids []int32, truncated bool) {
	t := r.t
	text = strings.ToValidUTF8(text, "\ufffd")
	var pieces []int32
	segment := func(s string) {
		for _, w := range r.words(r.normalize(s)) {
			pieces = append(pieces, r.wordPiece(w)...)
		}
	}
	// Added tokens: leftmost-longest on the raw text.
	start := 0
	for i := 0; i < len(text); {
		best, bestID := 0, int32(0)
		for _, a := range t.specialTokens {
			if strings.HasPrefix(text[i:], a.content) && len(a.content) > best {
				best, bestID = len(a.content), a.id
			}
		}
		if best == 0 {
			i++
			continue
		}
		segment(text[start:i])
		pieces = append(pieces, bestID)
		i += best
		start = i
	}
	segment(text[start:])
	if len(pieces) > maxLen-2 {
		pieces, truncated = pieces[:maxLen-2], true
	}
	ids = append([]int32{t.special.CLS}, pieces...)
	return append(ids, t.special.SEP), truncated
}
