package tokenize

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// Tokenizer is an immutable BERT WordPiece tokenizer; it is safe for
// concurrent use by many goroutines.
type Tokenizer struct {
	// Normalizer options (BertNormalizer).
	cleanText     bool
	chineseChars  bool
	stripAccents  bool
	lowercase     bool
	maxLen        int // [CLS] + pieces + [SEP] never exceeds this
	maxWordChars  int // max_input_chars_per_word
	vocabSize     int
	special       SpecialIDs
	specialTokens []addedToken // matched in the raw text; longest first
	specialFirst  [256]bool    // first bytes of specialTokens

	// WordPiece vocabulary.
	vocab     map[string]int32 // every entry, for ID
	first     *pieceTable      // whole-word (first) pieces
	cont      *pieceTable      // continuation pieces, without their prefix
	idToToken []string

	// asciiClass classifies every ASCII byte under the options above;
	// asciiWordID is the id of each single-ASCII-character word.
	asciiClass  [utf8.RuneSelf]uint8
	asciiWordID [utf8.RuneSelf]int32
	asciiLower  [utf8.RuneSelf]byte // lowercase when lowercasing, else identity
	letterRun   [256]bool           // asciiLetter and not the start of an added token
}

// SpecialIDs are the ids of the special tokens. MASK is -1 when the
// vocabulary has none.
type SpecialIDs struct {
	CLS, SEP, PAD, UNK, MASK int32
}

// addedToken is a special token matched in the raw input.
type addedToken struct {
	content string
	id      int32
}

// ASCII byte classes.
const (
	asciiDrop   = iota // removed by clean_text
	asciiSpace         // word boundary
	asciiPunct         // a word of its own
	asciiLetter        // appended to the current word (lowercased if asked)
)

// Encoding is the result of Encode.
type Encoding struct {
	IDs       []int32 // [CLS] pieces [SEP], truncated to MaxLen
	Truncated bool    // pieces were dropped to fit
}

// MaxLen is the maximum number of ids Encode returns, [CLS] and [SEP]
// included: min(max_position_embeddings, tokenizer_config model_max_length).
func (t *Tokenizer) MaxLen() int { return t.maxLen }

// VocabSize is the number of ids: every id Encode returns is in
// [0, VocabSize).
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// Special returns the ids of the special tokens.
func (t *Tokenizer) Special() SpecialIDs { return t.special }

// Token returns the vocabulary entry of id, or "" for an id out of range.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.idToToken) {
		return ""
	}
	return t.idToToken[id]
}

// ID returns the id of a vocabulary entry (continuation pieces include their
// "##" prefix).
func (t *Tokenizer) ID(token string) (int32, bool) {
	for _, a := range t.specialTokens {
		if a.content == token {
			return a.id, true
		}
	}
	id, ok := t.vocab[token]
	return id, ok
}

// Encode tokenizes text into [CLS] pieces [SEP], keeping at most MaxLen ids.
// Any string is accepted: bytes that are not valid UTF-8 count as U+FFFD,
// which the normalizer drops. The returned slice is owned by the caller.
func (t *Tokenizer) Encode(text string) Encoding {
	bp := idsPool.Get().(*[]int32)
	ids, truncated := t.AppendEncode((*bp)[:0], text)
	out := make([]int32, len(ids))
	copy(out, ids)
	if cap(ids) <= 1<<16 {
		*bp = ids
		idsPool.Put(bp)
	}
	return Encoding{IDs: out, Truncated: truncated}
}

// idsPool holds scratch id slices for Encode, so that it allocates only its
// result.
var idsPool = sync.Pool{New: func() any {
	s := make([]int32, 0, 512)
	return &s
}}

// AppendEncode is Encode appending the ids to dst; when dst has room for
// MaxLen more ids it does not allocate.
func (t *Tokenizer) AppendEncode(dst []int32, text string) (ids []int32, truncated bool) {
	var e encoder
	e.t = t
	e.out = append(dst, t.special.CLS)
	e.base = len(e.out)
	e.limit = e.base + t.maxLen - 2
	e.run(text)
	e.out = append(e.out, t.special.SEP)
	return e.out, e.truncated
}

// maxPending bounds the buffer of non-starters waiting for canonical
// reordering; see encoder.pend.
const maxPending = 128

// encoder is the state of one Encode call. It lives on the caller's stack.
type encoder struct {
	t         *Tokenizer
	out       []int32
	base      int // index of the first piece in out
	limit     int // len(out) may not exceed this before [SEP]
	truncated bool
	done      bool

	// Current word, normalized. Only the first maxWordChars characters are
	// stored: a longer word is [UNK] whatever its content. The bytes are in
	// wordBuf[:wordLen], or in big once they no longer fit (only possible
	// with max_input_chars_per_word > 100).
	wordChars int
	wordLen   int
	wordBuf   [4 * 100]byte
	big       []byte
	useBig    bool

	// Non-starters (ccc > 0) that survived accent stripping and wait for
	// the next starter to be put in canonical order. They are never
	// punctuation or whitespace (checked by a test over all of Unicode), so
	// all of them end up in the current word; past maxPending the word is
	// longer than max_input_chars_per_word (Load accepts at most
	// maxPending-1) and only their number matters.
	pend     [maxPending]decomposed
	npend    int
	pendLost int

	// cache holds the flags of recently seen runes outside the BMP (whose
	// flags are not precomputed), direct-mapped by the low bits.
	cache [32]struct {
		r rune
		f uint8
	}
}

// flags returns the flags of r (computeFlags), from bmpFlags or the cache.
func (e *encoder) flags(r rune) uint8 {
	if r < 0x10000 {
		return bmpFlags[r]
	}
	c := &e.cache[r&31]
	if c.r != r {
		c.r, c.f = r, computeFlags(r)
	}
	return c.f
}

// run processes the whole text, or stops once truncation is certain.
func (e *encoder) run(s string) {
	t := e.t
	for i := 0; i < len(s) && !e.done; {
		c := s[i]
		if t.specialFirst[c] {
			if id, n := t.matchSpecial(s[i:]); n > 0 {
				e.boundary()
				e.emitID(id)
				i += n
				continue
			}
		}
		if c < utf8.RuneSelf {
			switch t.asciiClass[c] {
			case asciiDrop:
				// Removed before NFD: does not end a run of non-starters.
				i++
			case asciiSpace:
				e.boundary()
				i++
			case asciiPunct:
				e.boundary()
				e.emitID(t.asciiWordID[c])
				i++
			default:
				if e.npend > 0 {
					e.flushPending()
				}
				j := i + 1
				for j < len(s) && t.letterRun[s[j]] {
					j++
				}
				e.appendASCII(s[i:j])
				i = j
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		f := e.flags(r)
		if t.cleanText {
			if f&fDrop != 0 {
				continue
			}
			if f&fSpace != 0 {
				e.boundary()
				continue
			}
		}
		if t.chineseChars && f&fChinese != 0 {
			e.boundary()
			e.normalized(r, f)
			e.boundary()
			continue
		}
		e.normalized(r, f)
	}
	e.boundary()
}

// normalized takes a cleaned character through NFD and accent stripping.
func (e *encoder) normalized(r rune, f uint8) {
	if !e.t.stripAccents {
		e.cased(r, f)
		return
	}
	if f&(fDecomp|fNonStarter) == 0 {
		// A starter without decomposition: canonical reordering never
		// crosses it, even when it is then removed.
		if e.npend > 0 {
			e.flushPending()
		}
		if f&fMn == 0 {
			e.cased(r, f)
		}
		return
	}
	if f&(fDecomp|fMn) == fMn {
		return // a non-starter mark: removed, its position is moot
	}
	if f&fDecomp == 0 {
		// A non-starter that is not a mark (Mc with a combining class).
		if e.npend < maxPending {
			e.pend[e.npend] = decomposed{r, combiningRank(r)}
			e.npend++
		} else {
			e.pendLost++
		}
		return
	}
	var buf [8]decomposed
	for _, d := range decompose(buf[:0], r) {
		fd := e.flags(d.r)
		if d.ccc == 0 {
			if e.npend > 0 {
				e.flushPending()
			}
			if fd&fMn == 0 {
				e.cased(d.r, fd)
			}
			continue
		}
		if fd&fMn != 0 {
			continue
		}
		if e.npend < maxPending {
			e.pend[e.npend] = d
			e.npend++
		} else {
			e.pendLost++
		}
	}
}

// flushPending emits the waiting non-starters in canonical order (a stable
// sort by combining class).
func (e *encoder) flushPending() {
	p := e.pend[:e.npend]
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j-1].ccc > p[j].ccc; j-- {
			p[j-1], p[j] = p[j], p[j-1]
		}
	}
	e.npend = 0
	for _, d := range p {
		e.cased(d.r, e.flags(d.r))
	}
	if e.pendLost > 0 {
		// The non-starters that did not fit are letters (see pend) of a word
		// already longer than maxWordChars: only their number matters.
		if e.wordChars > 0 {
			e.wordChars += e.pendLost
		}
		e.pendLost = 0
	}
}

// cased lowercases a normalized character and hands it to the
// pre-tokenizer.
func (e *encoder) cased(r rune, f uint8) {
	if e.t.lowercase && f&fLower != 0 {
		r1, r2 := toLower(r)
		e.pretokenize(r1, e.flags(r1))
		if r2 >= 0 {
			e.pretokenize(r2, e.flags(r2))
		}
		return
	}
	e.pretokenize(r, f)
}

// pretokenize is BertPreTokenizer for one normalized character.
func (e *encoder) pretokenize(r rune, f uint8) {
	if r < utf8.RuneSelf {
		switch e.t.asciiClass[r] {
		case asciiSpace:
			e.endWord()
		case asciiPunct:
			e.endWord()
			e.emitID(e.t.asciiWordID[r])
		default:
			// asciiDrop only applies before normalization.
			e.appendByte(byte(r))
		}
		return
	}
	switch {
	case f&fSpace != 0:
		e.endWord()
	case f&fPunct != 0:
		e.endWord()
		var b [utf8.UTFMax]byte
		n := utf8.EncodeRune(b[:], r)
		id := e.t.first.lookup(b[:n])
		if id < 0 {
			id = e.t.special.UNK
		}
		e.emitID(id)
	default:
		if e.wordChars == 0 && !e.roomFor() {
			return
		}
		e.wordChars++
		if e.wordChars <= e.t.maxWordChars {
			if !e.useBig && e.wordLen+utf8.UTFMax <= len(e.wordBuf) {
				e.wordLen += utf8.EncodeRune(e.wordBuf[e.wordLen:], r)
			} else {
				e.spill()
				e.big = utf8.AppendRune(e.big, r)
			}
		}
	}
}

// appendByte adds an ASCII character to the current word.
func (e *encoder) appendByte(c byte) {
	if e.wordChars == 0 && !e.roomFor() {
		return
	}
	e.wordChars++
	if e.wordChars <= e.t.maxWordChars {
		if !e.useBig && e.wordLen < len(e.wordBuf) {
			e.wordBuf[e.wordLen] = c
			e.wordLen++
		} else {
			e.spill()
			e.big = append(e.big, c)
		}
	}
}

// appendASCII adds a run of ASCII letters (asciiLetter) to the current
// word, lowercased when asked.
func (e *encoder) appendASCII(s string) {
	if e.wordChars == 0 && !e.roomFor() {
		return
	}
	room := e.t.maxWordChars - e.wordChars
	e.wordChars += len(s)
	if room <= 0 {
		return
	}
	if len(s) > room {
		s = s[:room]
	}
	lower := &e.t.asciiLower
	if !e.useBig && e.wordLen+len(s) <= len(e.wordBuf) {
		w := e.wordBuf[e.wordLen : e.wordLen+len(s)]
		for k := range w {
			w[k] = lower[s[k]&0x7f]
		}
		e.wordLen += len(s)
		return
	}
	e.spill()
	for k := 0; k < len(s); k++ {
		e.big = append(e.big, lower[s[k]&0x7f])
	}
}

// spill moves the current word to the heap buffer.
func (e *encoder) spill() {
	if !e.useBig {
		e.big = append(e.big[:0], e.wordBuf[:e.wordLen]...)
		e.useBig = true
	}
}

// roomFor reports whether another piece fits; when it does not, the
// encoding is truncated and done.
func (e *encoder) roomFor() bool {
	if len(e.out) < e.limit {
		return true
	}
	e.truncated = true
	e.done = true
	return false
}

// emitID appends a piece that is a word by itself.
func (e *encoder) emitID(id int32) {
	if e.roomFor() {
		e.out = append(e.out, id)
	}
}

// boundary ends the current word at a starter that is not part of it.
func (e *encoder) boundary() {
	if e.npend > 0 {
		e.flushPending()
	}
	e.endWord()
}

// endWord runs WordPiece on the current word.
func (e *encoder) endWord() {
	if e.wordChars == 0 {
		return
	}
	n := e.wordChars
	w := e.wordBuf[:e.wordLen]
	if e.useBig {
		w = e.big
		e.big = e.big[:0]
		e.useBig = false
	}
	e.wordChars = 0
	e.wordLen = 0
	if e.done {
		return
	}
	start := len(e.out)
	if n > e.t.maxWordChars || !e.t.appendPieces(&e.out, w) {
		e.out = append(e.out[:start], e.t.special.UNK)
	}
	if len(e.out) > e.limit {
		e.out = e.out[:e.limit]
		e.truncated = true
		e.done = true
	}
}

// appendPieces appends the WordPiece pieces of a word (greedy longest match
// from the left) to *out. It reports false when the word cannot be fully
// matched, leaving garbage after the original length of *out.
func (t *Tokenizer) appendPieces(out *[]int32, w []byte) bool {
	for start := 0; start < len(w); {
		m := t.first
		if start > 0 {
			m = t.cont
		}
		maxLen := m.maxLen
		end := len(w)
		if end-start > maxLen {
			end = start + maxLen
			for end > start && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		found := false
		for end > start {
			if id := m.lookup(w[start:end]); id >= 0 {
				*out = append(*out, id)
				found = true
				break
			}
			end--
			for end > start && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		if !found {
			return false
		}
		start = end
	}
	return true
}

// matchSpecial returns the id and length of the longest added token at the
// start of s, or n == 0.
func (t *Tokenizer) matchSpecial(s string) (id int32, n int) {
	for _, a := range t.specialTokens { // sorted longest first
		if strings.HasPrefix(s, a.content) {
			return a.id, len(a.content)
		}
	}
	return 0, 0
}
