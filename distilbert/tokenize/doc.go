// Package tokenize is an uncased BERT WordPiece tokenizer whose output ids
// are identical to the Hugging Face `tokenizers` library (the Rust
// implementation behind BertTokenizerFast) for tokenizer.json files that use
// BertNormalizer + BertPreTokenizer + WordPiece, as DistilBERT does.
//
// # Pipeline
//
// Encode runs the whole pipeline in a single left-to-right pass over the
// input bytes, with no intermediate strings:
//
//  1. Added tokens: the literal, case-sensitive `[CLS]`, `[SEP]`, `[PAD]`,
//     `[UNK]`, `[MASK]` (the added_tokens of tokenizer.json, all with
//     normalized=false) are matched in the raw text, leftmost-longest, before
//     normalization, and emitted as their ids. The text on either side is
//     normalized and pre-tokenized independently, so they are always word
//     boundaries ("a[SEP]b" is a, [SEP], b).
//  2. BertNormalizer: clean (drop U+0000, U+FFFD, Cc, Cf, Co except \t \n \r;
//     White_Space becomes ' '), spaces around CJK ideographs, NFD + removal
//     of Mn when strip_accents (which defaults to lowercase), lowercase
//     (char::to_lowercase semantics, so U+0130 becomes "i\u0307").
//  3. BertPreTokenizer: split on whitespace (dropped) and on punctuation
//     (ASCII 33-47, 58-64, 91-96, 123-126 or Unicode P*), each punctuation
//     character being its own word.
//  4. WordPiece: greedy longest match from the left with the "##"
//     continuation prefix; a word of more than max_input_chars_per_word
//     (100) characters or one that cannot be matched becomes one [UNK].
//  5. [CLS] pieces [SEP], keeping the first MaxLen-2 pieces.
//
// NFD is computed rune by rune from the library's decompositions
// (hftables.go; Hangul syllables algorithmically), and canonical
// reordering is applied to the non-starters that survive accent stripping,
// so the result equals stripping Mn from the NFD of the whole string (with
// no Stream-Safe U+034F insertion, as in Rust's NFD).
//
// Once MaxLen-2 pieces are out and one more is certain to come, Encode stops
// reading, so a 10 MB text costs about as much as its first few thousand
// characters. Input that yields no piece for a long stretch (spaces, control
// characters, accents, or one gigantic word, which is a single [UNK] and of
// which only the character count is kept) is still scanned, in linear time
// and constant memory: 10 MB of it takes tens to hundreds of milliseconds.
//
// # Input that is not valid UTF-8
//
// The Hugging Face library only accepts valid strings. Encode treats every
// byte that is not part of a valid UTF-8 sequence as U+FFFD, which the
// cleaning step drops, i.e. it sees what HF would see after a lossy decode
// (bytes.ToValidUTF8 / Python errors="replace"). Special tokens are matched on
// the raw bytes, which gives the same matches as on the replaced text.
//
// # What comes from github.com/sugarme/tokenizer and what is ours
//
// The project was asked to use sugarme/tokenizer where it fits. As it comes,
// v0.3.0 matched HF on only 55 of 69 fixture texts and 867 of 872 SST-2
// sentences, took about 150 µs per sentence and could panic inside
// AddedVocabulary.splitWithIndices on some Unicode input. So:
//
//   - From sugarme: the tokenizer.json schema. Load decodes tokenizer.json
//     into sugarme's tokenizer.Config, its model into tokenizer.ModelConfig
//     and its added tokens as tokenizer.TokenConfig (also used for
//     tokenizer_config.json's added_tokens_decoder).
//   - Ours, the normalizer: sugarme's BertNormalizer reads strip_accents=null
//     as false, so it does no NFD: accented words and Hangul syllables (which
//     NFD splits into jamo) come out as [UNK] or the wrong pieces. Its
//     clean_text also maps whitespace to ' ' only right after a removed
//     character and keeps private-use (Co) characters.
//   - Ours, added-token matching and pre-tokenizer: where the panics were,
//     and they are a few lines in a single pass.
//   - Ours, WordPiece: sugarme's algorithm is right, but it converts each
//     word to []rune, builds every candidate with fmt.Sprintf and allocates
//     a Token with an offsets slice per piece: 17-33 µs and 137 allocations
//     per SST-2 sentence for that stage alone, against about 3 µs and one
//     allocation for our whole Encode. Ours looks candidates up without
//     allocating in a compact hash table (pieceTable, about twice as fast as
//     a map[string]int32 here), continuation pieces stored without their
//     "##", and never tries a candidate longer than the longest entry. (Its
//     package would also need github.com/emirpasic/gods, which this module
//     does not have, through its model/bpe import.)
//   - Ours, vocab.txt loading: sugarme only reads OS paths and calls
//     log.Fatal on errors; we read an fs.FS and return errors.
//
// # Unicode versions
//
// HF takes its character classes from Rust's std (White_Space, lowercase),
// the unicode-normalization-alignments crate (NFD) and the unicode_categories
// crate of 2016 (Cc/Cf/Co, Mn, P*), so code points assigned since then are
// classified differently from Go's unicode package: U+061D is not
// punctuation and U+0898 not a mark to HF, while U+A7CB already lowercases.
// The classes therefore come from hftables.go, which tools/tokgolden probes
// from the library itself code point by code point, and the tests compare
// Encode with the library on every Unicode scalar value.
//
// The CJK ranges are those of HF's bert.rs, which uses 0x2B920..=0x2CEAF where
// Python BERT uses 0x2B820: U+2B820..U+2B91F are not split off as separate
// words here, as in HF.
package tokenize
