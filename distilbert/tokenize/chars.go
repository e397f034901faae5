package tokenize

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Character classes of the BERT normalizer and pre-tokenizer.
//
// Go's tables (Unicode 15.0.0) are newer than those HF uses (see the package
// doc); only recently assigned code points can be classified differently.

// isASCIIPunct reports the ASCII punctuation of BertPreTokenizer
// (char::is_ascii_punctuation): 33-47, 58-64, 91-96, 123-126.
func isASCIIPunct(c byte) bool {
	return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)
}

// isPunct is BertPreTokenizer's is_bert_punc: ASCII punctuation or any
// Unicode category P* (Pc, Pd, Pe, Pf, Pi, Po, Ps).
func isPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return isASCIIPunct(byte(r))
	}
	return unicode.IsPunct(r)
}

// isWhitespace is Rust's char::is_whitespace (the White_Space property),
// which is what Go's unicode.IsSpace implements too.
func isWhitespace(r rune) bool {
	return unicode.IsSpace(r)
}

// isCleanedAway reports the characters that BertNormalizer's clean_text
// removes: U+0000, U+FFFD and unicode_categories' is_other (Cc, Cf, Co; not
// Cn, so unassigned code points are kept), except \t \n \r which count as
// whitespace. Surrogates cannot occur in a decoded Go rune.
func isCleanedAway(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		return true // Cc, including U+0000
	case r < 0xa0:
		return false
	case r == utf8.RuneError:
		return true
	case (r >= 0xe000 && r <= 0xf8ff) || r >= 0xf0000:
		// Co (U+F0000..U+FFFFD, U+100000..U+10FFFD; the two noncharacters at
		// the end of each plane are Cn, kept).
		return r < 0xf0000 || r&0xfffe != 0xfffe
	}
	return unicode.Is(unicode.Cf, r)
}

// isChinese is HF bert.rs is_chinese_char. Note 0x2B920 (HF) and not 0x2B820
// (Python BERT): HF is the authority here.
func isChinese(r rune) bool {
	switch {
	case r < 0x3400:
		return false
	case r <= 0x4dbf:
		return true
	case r >= 0x4e00 && r <= 0x9fff:
		return true
	case r >= 0xf900 && r <= 0xfaff:
		return true
	case r >= 0x20000 && r <= 0x2a6df:
		return true
	case r >= 0x2a700 && r <= 0x2b73f:
		return true
	case r >= 0x2b740 && r <= 0x2b81f:
		return true
	case r >= 0x2b920 && r <= 0x2ceaf:
		return true
	case r >= 0x2f800 && r <= 0x2fa1f:
		return true
	}
	return false
}

// isMn reports category Mn (nonspacing mark), which accent stripping removes.
func isMn(r rune) bool {
	if r < 0x300 {
		return false
	}
	return unicode.Is(unicode.Mn, r)
}

// Hangul syllable decomposition constants (Unicode 3.12). The norm package
// decomposes Hangul algorithmically inside its iterators but its Properties
// report no decomposition for them, so we do it here.
const (
	hangulSBase  = 0xac00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11a7
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = 19 * hangulNCount
)

// decompose appends the canonical decomposition (NFD) of r to dst, with the
// canonical combining class of each rune. r itself (with its class) is
// appended when it has no decomposition. Decompositions from the norm tables
// are full (recursive) and in canonical order.
func decompose(dst []decomposed, r rune) []decomposed {
	if r < 0xc0 {
		return append(dst, decomposed{r, 0})
	}
	if s := r - hangulSBase; s >= 0 && s < hangulSCount {
		dst = append(dst,
			decomposed{hangulLBase + s/hangulNCount, 0},
			decomposed{hangulVBase + (s%hangulNCount)/hangulTCount, 0})
		if t := s % hangulTCount; t != 0 {
			dst = append(dst, decomposed{hangulTBase + t, 0})
		}
		return dst
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	p := norm.NFD.Properties(buf[:n])
	d := p.Decomposition()
	if d == nil {
		return append(dst, decomposed{r, p.CCC()})
	}
	for len(d) > 0 {
		q := norm.NFD.Properties(d)
		dr, size := utf8.DecodeRune(d)
		dst = append(dst, decomposed{dr, q.CCC()})
		d = d[size:]
	}
	return dst
}

// cccOf returns the canonical combining class of r.
func cccOf(r rune) uint8 {
	var buf [utf8.UTFMax]byte
	return norm.NFD.Properties(buf[:utf8.EncodeRune(buf[:], r)]).CCC()
}

type decomposed struct {
	r   rune
	ccc uint8
}

// toLower appends the lowercase of r as Rust's char::to_lowercase gives it:
// the simple case mapping, except U+0130 whose full mapping is "i\u0307"
// (the only unconditional multi-character lowercase mapping in Unicode).
func toLower(r rune) (rune, rune) {
	if r == 0x130 {
		return 'i', 0x307
	}
	return unicode.ToLower(r), -1
}

// Character flags, the classes above for one rune.
const (
	fDrop       = 1 << iota // removed by clean_text
	fSpace                  // White_Space
	fChinese                // CJK ideograph (HF ranges)
	fMn                     // nonspacing mark
	fPunct                  // BERT punctuation
	fDecomp                 // has a canonical decomposition (Hangul syllables too)
	fNonStarter             // canonical combining class > 0
	fLower                  // lowercase differs
)

// computeFlags classifies r from the Unicode tables.
func computeFlags(r rune) uint8 {
	var f uint8
	if isCleanedAway(r) {
		f |= fDrop
	}
	if isWhitespace(r) {
		f |= fSpace
	}
	if isChinese(r) {
		f |= fChinese
	}
	if isMn(r) {
		f |= fMn
	}
	if isPunct(r) {
		f |= fPunct
	}
	if r >= hangulSBase && r < hangulSBase+hangulSCount {
		f |= fDecomp
	} else if r >= 0xc0 {
		var buf [utf8.UTFMax]byte
		p := norm.NFD.Properties(buf[:utf8.EncodeRune(buf[:], r)])
		if p.Decomposition() != nil {
			f |= fDecomp
		}
		if p.CCC() != 0 {
			f |= fNonStarter
		}
	}
	if l, l2 := toLower(r); l != r || l2 >= 0 {
		f |= fLower
	}
	return f
}

// bmpFlags caches computeFlags for the Basic Multilingual Plane; Load fills
// it once (about 10 ms). Other runes go through encoder.flags' small cache.
var (
	bmpFlags [0x10000]uint8
	bmpOnce  sync.Once
)

func buildBMPFlags() {
	for r := rune(0); r < 0x10000; r++ {
		if r < 0xd800 || r > 0xdfff {
			bmpFlags[r] = computeFlags(r)
		}
	}
}
