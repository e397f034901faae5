package tokenize

import (
	"sync"
	"unicode/utf8"
)

// Character classes of the BERT normalizer and pre-tokenizer, from the
// tables of hftables.go (see hfclasses.go), not from Go's unicode package.

// isASCIIPunct reports the ASCII punctuation of BertPreTokenizer
// (char::is_ascii_punctuation): 33-47, 58-64, 91-96, 123-126.
func isASCIIPunct(c byte) bool {
	return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)
}

// isPunct is BertPreTokenizer's is_bert_punc: ASCII punctuation or the
// library's Unicode category P*.
func isPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return isASCIIPunct(byte(r))
	}
	return inRanges(hfPunctRanges, r)
}

// isWhitespace is Rust's char::is_whitespace (the White_Space property).
func isWhitespace(r rune) bool {
	return inRanges(hfSpaceRanges, r)
}

// isCleanedAway reports the characters that BertNormalizer's clean_text
// removes: U+0000, U+FFFD and unicode_categories' is_other (Cc, Cf, Co; not
// Cn, so unassigned code points are kept), except \t \n \r which count as
// whitespace. Surrogates cannot occur in a decoded Go rune.
func isCleanedAway(r rune) bool {
	return inRanges(hfDropRanges, r)
}

// isChinese is HF bert.rs is_chinese_char. Its ranges include 0x2B920 and not
// 0x2B820 (Python BERT's): HF is the authority here.
func isChinese(r rune) bool {
	return r >= 0x3400 && inRanges(hfChineseRanges, r)
}

// isMn reports category Mn (nonspacing mark), which accent stripping removes,
// for characters without a decomposition.
func isMn(r rune) bool {
	return r >= 0x300 && inRanges(hfMnRanges, r)
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
// rank of the canonical combining class of each rune (combiningRank). r
// itself is appended when it has no decomposition. Decompositions are full
// (recursive) and in canonical order.
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
	d := hfDecomposition(r)
	if d == nil {
		return append(dst, decomposed{r, combiningRank(r)})
	}
	for _, dr := range d {
		dst = append(dst, decomposed{dr, combiningRank(dr)})
	}
	return dst
}

type decomposed struct {
	r   rune
	ccc uint8 // rank of the canonical combining class, 0 for a starter
}

// Character flags, the classes above for one rune.
const (
	fDrop       = 1 << iota // removed by clean_text
	fSpace                  // White_Space
	fChinese                // CJK ideograph (HF ranges)
	fMn                     // nonspacing mark
	fPunct                  // BERT punctuation
	fDecomp                 // has a canonical decomposition (Hangul syllables too)
	fNonStarter             // no decomposition, canonical combining class > 0
	fLower                  // lowercase differs
)

// computeFlags classifies r from the library's tables.
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
		if hfDecomposition(r) != nil {
			f |= fDecomp
		} else if combiningRank(r) != 0 {
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
