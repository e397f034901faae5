package tokenize

// Lookups in the tables of hftables.go, which are probed from the Hugging
// Face tokenizers library itself: its classes come from older Unicode data
// than Go's unicode package (the unicode_categories crate for Cc/Cf/Co, Mn
// and P*), and from newer data for lowercase (Rust's std), so Go's tables
// would classify recently assigned code points differently.

// Regenerating needs node and NODE_PATH reaching the npm tokenizers package
// (tools/tokgolden/README.md).
//
//go:generate node ../../tools/tokgolden/tables.js hftables.go

// runeRange is an inclusive range of code points.
type runeRange struct{ lo, hi rune }

// combiningRange gives a run of non-starters the rank of their canonical
// combining class: only the order of classes matters to NFD.
type combiningRange struct {
	lo, hi rune
	rank   uint8
}

// lowerPair is a lowercase mapping to a single character.
type lowerPair struct{ from, to rune }

// lowerTwo is a lowercase mapping to two characters.
type lowerTwo struct{ from, to1, to2 rune }

// decomposition locates the full canonical decomposition of r in
// hfDecompositionRunes.
type decomposition struct {
	r     rune
	start uint16
	n     uint8
}

// inRanges reports whether r lies in one of the sorted ranges.
func inRanges(ranges []runeRange, r rune) bool {
	lo, hi := 0, len(ranges) // the first range ending at or after r is in [lo, hi]
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ranges[m].hi < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(ranges) && ranges[lo].lo <= r
}

// combiningRank returns the rank of r's canonical combining class, 0 for a
// starter.
func combiningRank(r rune) uint8 {
	rs := hfCombiningRanges
	lo, hi := 0, len(rs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rs[m].hi < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(rs) && rs[lo].lo <= r {
		return rs[lo].rank
	}
	return 0
}

// hfDecomposition returns the full canonical decomposition of r, or nil
// when it has none (Hangul syllables are left to the caller).
func hfDecomposition(r rune) []rune {
	ds := hfDecompositions
	lo, hi := 0, len(ds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ds[m].r < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ds) && ds[lo].r == r {
		d := ds[lo]
		return hfDecompositionRunes[d.start : int(d.start)+int(d.n)]
	}
	return nil
}

// toLower returns the lowercase of r as the library's char::to_lowercase
// gives it: one character, or two when r2 >= 0 (U+0130 is "i\u0307").
func toLower(r rune) (r1, r2 rune) {
	ls := hfLower
	lo, hi := 0, len(ls)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ls[m].from < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ls) && ls[lo].from == r {
		return ls[lo].to, -1
	}
	for _, l := range hfLowerPairs {
		if l.from == r {
			return l.to1, l.to2
		}
	}
	return r, -1
}
