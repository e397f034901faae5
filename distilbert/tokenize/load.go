package tokenize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	sugar "github.com/sugarme/tokenizer"
)

// Limits on what Load accepts.
const (
	maxVocabID       = 1<<24 - 1
	maxWordCharLimit = maxPending - 1 // see encoder.pend
)

// Load reads a tokenizer from a model directory given as an fs.FS
// (os.DirFS(dir) or an embed.FS sub-tree): tokenizer.json when present, else
// vocab.txt + tokenizer_config.json.
//
// With tokenizer.json its normalizer (BertNormalizer or none),
// pre-tokenizer (BertPreTokenizer), WordPiece model, added tokens and
// post-processor (TemplateProcessing or BertProcessing giving [CLS] A [SEP])
// are used as HF `tokenizers` would; anything else (other normalizers or
// models, added tokens with normalized/lstrip/rstrip/single_word,
// max_input_chars_per_word over 127) is an error rather than a silent
// divergence, and tokenizer_config.json only supplies model_max_length. Without it, the tokenizer is what transformers'
// BertTokenizerFast builds from vocab.txt and tokenizer_config.json:
// do_lower_case (default true), strip_accents (default: follows
// do_lower_case, so do_lower_case=false also keeps accents),
// tokenize_chinese_chars (default true), and the special tokens
// (unk/sep/pad/cls/mask_token and added_tokens_decoder) matched literally.
//
// maxPositions is the model's max_position_embeddings; MaxLen is the
// smaller of it and tokenizer_config.json's model_max_length when present
// (maxPositions <= 0 means the model sets no limit). MaxLen must be at least 2.
func Load(fsys fs.FS, maxPositions int) (*Tokenizer, error) {
	cfg, err := readTokenizerConfig(fsys)
	if err != nil {
		return nil, err
	}
	var b *builder
	data, err := fs.ReadFile(fsys, "tokenizer.json")
	switch {
	case err == nil:
		b, err = fromTokenizerJSON(data)
	case errors.Is(err, fs.ErrNotExist):
		b, err = fromVocabTxt(fsys, cfg)
	default:
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	if err != nil {
		return nil, err
	}

	maxLen := -1
	if maxPositions > 0 {
		maxLen = maxPositions
	}
	if m := cfg.ModelMaxLength; m != nil && *m > 0 && *m < math.MaxInt32 {
		// HF writes int(1e30) when there is no limit: ignored like absence.
		if maxLen < 0 || int(*m) < maxLen {
			maxLen = int(*m)
		}
	}
	if maxLen < 0 {
		return nil, errors.New("tokenize: no maximum length: maxPositions <= 0 and no model_max_length")
	}
	if maxLen < 2 {
		return nil, fmt.Errorf("tokenize: maximum length %d leaves no room for [CLS] and [SEP]", maxLen)
	}
	b.t.maxLen = maxLen
	return b.finish()
}

// tokenizerConfig is the part of tokenizer_config.json we use.
type tokenizerConfig struct {
	DoLowerCase          *bool    `json:"do_lower_case"`
	StripAccents         *bool    `json:"strip_accents"`
	TokenizeChineseChars *bool    `json:"tokenize_chinese_chars"`
	ModelMaxLength       *float64 `json:"model_max_length"`

	UnkToken  json.RawMessage `json:"unk_token"`
	SepToken  json.RawMessage `json:"sep_token"`
	PadToken  json.RawMessage `json:"pad_token"`
	ClsToken  json.RawMessage `json:"cls_token"`
	MaskToken json.RawMessage `json:"mask_token"`

	AddedTokensDecoder map[string]sugar.TokenConfig `json:"added_tokens_decoder"`
}

func readTokenizerConfig(fsys fs.FS) (*tokenizerConfig, error) {
	cfg := new(tokenizerConfig)
	data, err := fs.ReadFile(fsys, "tokenizer_config.json")
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("tokenize: tokenizer_config.json: %w", err)
	}
	return cfg, nil
}

// tokenName reads a special token given as "[X]" or {"content": "[X]", ...};
// def when absent, "" when null.
func tokenName(raw json.RawMessage, def string) (string, error) {
	if len(raw) == 0 {
		return def, nil
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var tc sugar.TokenConfig
	if err := json.Unmarshal(raw, &tc); err != nil {
		return "", fmt.Errorf("tokenize: tokenizer_config.json: special token %s: %w", raw, err)
	}
	return tc.Content, nil
}

// builder collects what Load reads before the tables are computed.
type builder struct {
	t      *Tokenizer
	vocab  map[string]int32 // WordPiece model vocabulary
	added  []addedToken
	prefix string
	unk    string
	cls    string
	sep    string
	clsID  int32 // -1: look cls up
	sepID  int32
	padID  int32 // -1: look [PAD] up
	nIDs   int   // number of ids of the model vocabulary
}

func newBuilder() *builder {
	return &builder{
		t:      &Tokenizer{cleanText: true, chineseChars: true, stripAccents: true, lowercase: true, maxWordChars: 100},
		vocab:  make(map[string]int32, 32768),
		prefix: "##",
		unk:    "[UNK]",
		cls:    "[CLS]",
		sep:    "[SEP]",
		clsID:  -1,
		sepID:  -1,
		padID:  -1,
	}
}

// fromVocabTxt builds what BertTokenizerFast makes of vocab.txt.
func fromVocabTxt(fsys fs.FS, cfg *tokenizerConfig) (*builder, error) {
	data, err := fs.ReadFile(fsys, "vocab.txt")
	if err != nil {
		return nil, fmt.Errorf("tokenize: neither tokenizer.json nor vocab.txt: %w", err)
	}
	b := newBuilder()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if len(b.t.idToToken) > maxVocabID {
			return nil, errors.New("tokenize: vocab.txt: too many entries")
		}
		// Python reads the file in text mode (universal newlines) and strips
		// the "\n"; a later duplicate wins, as in a dict.
		tok := strings.TrimSuffix(sc.Text(), "\r")
		b.vocab[tok] = int32(len(b.t.idToToken))
		b.t.idToToken = append(b.t.idToToken, tok)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenize: vocab.txt: %w", err)
	}
	b.nIDs = len(b.t.idToToken)

	t := b.t
	if cfg.DoLowerCase != nil {
		t.lowercase = *cfg.DoLowerCase
	}
	t.stripAccents = t.lowercase
	if cfg.StripAccents != nil {
		t.stripAccents = *cfg.StripAccents
	}
	if cfg.TokenizeChineseChars != nil {
		t.chineseChars = *cfg.TokenizeChineseChars
	}

	// Special tokens, all added with normalized=false.
	names := []struct {
		raw json.RawMessage
		def string
		dst *string
	}{
		{cfg.UnkToken, "[UNK]", &b.unk},
		{cfg.SepToken, "[SEP]", &b.sep},
		{cfg.PadToken, "[PAD]", nil},
		{cfg.ClsToken, "[CLS]", &b.cls},
		{cfg.MaskToken, "[MASK]", nil},
	}
	for i, n := range names {
		name, err := tokenName(n.raw, n.def)
		if err != nil {
			return nil, err
		}
		if n.dst != nil {
			*n.dst = name
		}
		if name == "" {
			continue // explicitly null: no such token
		}
		id, ok := b.vocab[name]
		if !ok {
			// BertTokenizerFast would append it to the vocabulary.
			return nil, fmt.Errorf("tokenize: special token %q is not in vocab.txt", name)
		}
		b.added = append(b.added, addedToken{name, id})
		if i == 2 {
			b.padID = id
		}
	}
	for key, tc := range cfg.AddedTokensDecoder {
		id, err := strconv.Atoi(key)
		if err != nil || id < 0 || id > maxVocabID {
			return nil, fmt.Errorf("tokenize: tokenizer_config.json: added_tokens_decoder key %q", key)
		}
		tc.Id = int64(id)
		a, err := checkAdded(tc)
		if err != nil {
			return nil, err
		}
		b.added = append(b.added, a)
	}
	return b, nil
}

// checkAdded accepts the added tokens we match exactly like HF: literal,
// before normalization, without stripping or word constraints.
func checkAdded(tc sugar.TokenConfig) (addedToken, error) {
	switch {
	case tc.Content == "":
		return addedToken{}, errors.New("tokenize: empty added token")
	case tc.Id < 0 || tc.Id > maxVocabID:
		return addedToken{}, fmt.Errorf("tokenize: added token %q: id %d out of range", tc.Content, tc.Id)
	case !utf8.ValidString(tc.Content):
		return addedToken{}, fmt.Errorf("tokenize: added token %q is not UTF-8", tc.Content)
	case tc.Normalized || tc.Lstrip || tc.Rstrip || tc.SingleWord:
		return addedToken{}, fmt.Errorf("tokenize: added token %q: normalized/lstrip/rstrip/single_word are not supported", tc.Content)
	}
	return addedToken{tc.Content, int32(tc.Id)}, nil
}

// fromTokenizerJSON reads a HF tokenizer.json through sugarme's schema
// (tokenizer.Config, TokenConfig, ModelConfig).
func fromTokenizerJSON(data []byte) (*builder, error) {
	// sugarme's Config leaves the model as a map[string]interface{}; we
	// decode it into its typed ModelConfig instead.
	var cfg struct {
		sugar.Config
		Model *json.RawMessage `json:"model"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("tokenize: tokenizer.json: %w", err)
	}
	if cfg.Model == nil {
		return nil, errors.New("tokenize: tokenizer.json: no model")
	}
	var m sugar.ModelConfig
	if err := json.Unmarshal(*cfg.Model, &m); err != nil {
		return nil, fmt.Errorf("tokenize: tokenizer.json: model: %w", err)
	}
	b := newBuilder()
	t := b.t

	// Model.
	if m.Type != "" && m.Type != "WordPiece" {
		return nil, fmt.Errorf("tokenize: tokenizer.json: model %q is not supported (WordPiece only)", m.Type)
	}
	if len(m.Vocab) == 0 || m.Merges != nil {
		return nil, errors.New("tokenize: tokenizer.json: model is not WordPiece")
	}
	seen := make(map[int32]string, len(m.Vocab))
	for tok, v := range m.Vocab {
		if v < 0 || v > maxVocabID {
			return nil, fmt.Errorf("tokenize: tokenizer.json: vocab %q: bad id %v", tok, v)
		}
		id := int32(v)
		if other, dup := seen[id]; dup {
			return nil, fmt.Errorf("tokenize: tokenizer.json: vocab %q and %q share id %d", tok, other, id)
		}
		seen[id] = tok
		b.vocab[tok] = id
		if int(id) >= b.nIDs {
			b.nIDs = int(id) + 1
		}
	}
	t.idToToken = make([]string, b.nIDs)
	for id, tok := range seen {
		t.idToToken[id] = tok
	}
	if m.UnkToken != "" {
		b.unk = m.UnkToken
	}
	if v := m.ContinuingSubwordPrefix; v != nil {
		var ok bool
		if b.prefix, ok = v.(string); !ok {
			return nil, errors.New("tokenize: tokenizer.json: bad continuing_subword_prefix")
		}
	}
	if v := m.MaxInputCharsPerWord; v != nil {
		f, ok := v.(float64)
		if !ok || f < 0 || f > maxWordCharLimit || f != math.Trunc(f) {
			return nil, fmt.Errorf("tokenize: tokenizer.json: max_input_chars_per_word %v not supported", v)
		}
		t.maxWordChars = int(f)
	}

	// Normalizer.
	if n := cfg.Normalizer; n == nil {
		t.cleanText, t.chineseChars, t.stripAccents, t.lowercase = false, false, false, false
	} else {
		if typ, _ := n["type"].(string); typ != "BertNormalizer" {
			return nil, fmt.Errorf("tokenize: tokenizer.json: normalizer %q is not supported (BertNormalizer only)", typ)
		}
		flag := func(key string, def bool) (bool, error) {
			v, ok := n[key]
			if !ok || v == nil {
				return def, nil
			}
			f, ok := v.(bool)
			if !ok {
				return false, fmt.Errorf("tokenize: tokenizer.json: normalizer %s: %v", key, v)
			}
			return f, nil
		}
		var err error
		if t.cleanText, err = flag("clean_text", true); err != nil {
			return nil, err
		}
		if t.chineseChars, err = flag("handle_chinese_chars", true); err != nil {
			return nil, err
		}
		if t.lowercase, err = flag("lowercase", true); err != nil {
			return nil, err
		}
		// strip_accents: null means "same as lowercase".
		if t.stripAccents, err = flag("strip_accents", t.lowercase); err != nil {
			return nil, err
		}
	}

	// Pre-tokenizer.
	if typ, _ := cfg.PreTokenizer["type"].(string); typ != "BertPreTokenizer" {
		return nil, fmt.Errorf("tokenize: tokenizer.json: pre_tokenizer %q is not supported (BertPreTokenizer only)", typ)
	}

	// Post-processor: [CLS] $A [SEP].
	if err := b.postProcessor(cfg.PostProcessor); err != nil {
		return nil, err
	}

	// Padding id, when the file sets one.
	if p := cfg.Padding; p != nil {
		if f, ok := p["pad_id"].(float64); ok && f >= 0 && f <= maxVocabID {
			b.padID = int32(f)
		}
	}

	// Added tokens.
	for _, tc := range cfg.AddedTokens {
		a, err := checkAdded(tc)
		if err != nil {
			return nil, err
		}
		b.added = append(b.added, a)
	}
	return b, nil
}

// postProcessor finds the ids of the tokens around a single sequence.
func (b *builder) postProcessor(pp map[string]interface{}) error {
	if pp == nil {
		return nil // look [CLS] and [SEP] up
	}
	bad := func() error {
		return errors.New("tokenize: tokenizer.json: post_processor must give [CLS] $A [SEP]")
	}
	switch typ, _ := pp["type"].(string); typ {
	case "BertProcessing":
		pair := func(key string) (string, int32, bool) {
			v, _ := pp[key].([]interface{})
			if len(v) != 2 {
				return "", 0, false
			}
			s, ok1 := v[0].(string)
			f, ok2 := v[1].(float64)
			return s, int32(f), ok1 && ok2 && f >= 0 && f <= maxVocabID
		}
		var ok bool
		if b.cls, b.clsID, ok = pair("cls"); !ok {
			return bad()
		}
		if b.sep, b.sepID, ok = pair("sep"); !ok {
			return bad()
		}
	case "TemplateProcessing":
		single, _ := pp["single"].([]interface{})
		specials, _ := pp["special_tokens"].(map[string]interface{})
		if len(single) != 3 {
			return bad()
		}
		piece := func(i int) (kind string, id string) {
			item, _ := single[i].(map[string]interface{})
			for k, v := range item {
				body, _ := v.(map[string]interface{})
				s, _ := body["id"].(string)
				return k, s
			}
			return "", ""
		}
		special := func(i int) (string, int32, bool) {
			kind, name := piece(i)
			if kind != "SpecialToken" {
				return "", 0, false
			}
			st, _ := specials[name].(map[string]interface{})
			ids, _ := st["ids"].([]interface{})
			if len(ids) != 1 {
				return "", 0, false
			}
			f, ok := ids[0].(float64)
			return name, int32(f), ok && f >= 0 && f <= maxVocabID
		}
		if kind, seq := piece(1); kind != "Sequence" || seq != "A" {
			return bad()
		}
		var ok bool
		if b.cls, b.clsID, ok = special(0); !ok {
			return bad()
		}
		if b.sep, b.sepID, ok = special(2); !ok {
			return bad()
		}
	default:
		return fmt.Errorf("tokenize: tokenizer.json: post_processor %q is not supported", typ)
	}
	return nil
}

// finish computes the lookup tables.
func (b *builder) finish() (*Tokenizer, error) {
	t := b.t
	t.vocab = b.vocab
	var firstKeys, contKeys []string
	var firstIDs, contIDs []int32
	for tok, id := range b.vocab {
		firstKeys, firstIDs = append(firstKeys, tok), append(firstIDs, id)
		if rest, ok := strings.CutPrefix(tok, b.prefix); ok && rest != "" {
			contKeys, contIDs = append(contKeys, rest), append(contIDs, id)
		}
	}
	var ok1, ok2 bool
	t.first, ok1 = newPieceTable(firstKeys, firstIDs)
	t.cont, ok2 = newPieceTable(contKeys, contIDs)
	if !ok1 || !ok2 {
		return nil, errors.New("tokenize: vocabulary entries too long (64 KiB each, 16 MiB in all)")
	}

	// Added tokens: later definitions of the same content win; longest first
	// for leftmost-longest matching.
	byContent := make(map[string]int32, len(b.added))
	for _, a := range b.added {
		byContent[a.content] = a.id
	}
	for content, id := range byContent {
		t.specialTokens = append(t.specialTokens, addedToken{content, id})
	}
	sort.Slice(t.specialTokens, func(i, j int) bool {
		a, c := t.specialTokens[i], t.specialTokens[j]
		if len(a.content) != len(c.content) {
			return len(a.content) > len(c.content)
		}
		return a.content < c.content
	})
	for _, a := range t.specialTokens {
		t.specialFirst[a.content[0]] = true
	}

	lookup := func(name string) (int32, bool) {
		if id, ok := byContent[name]; ok {
			return id, true
		}
		id, ok := b.vocab[name]
		return id, ok
	}
	var ok bool
	if t.special.UNK, ok = b.vocab[b.unk]; !ok {
		return nil, fmt.Errorf("tokenize: unknown token %q is not in the vocabulary", b.unk)
	}
	t.special.CLS = b.clsID
	if b.clsID < 0 {
		if t.special.CLS, ok = lookup(b.cls); !ok {
			return nil, fmt.Errorf("tokenize: %q is not in the vocabulary", b.cls)
		}
	}
	t.special.SEP = b.sepID
	if b.sepID < 0 {
		if t.special.SEP, ok = lookup(b.sep); !ok {
			return nil, fmt.Errorf("tokenize: %q is not in the vocabulary", b.sep)
		}
	}
	t.special.PAD = b.padID
	if b.padID < 0 {
		if t.special.PAD, ok = lookup("[PAD]"); !ok {
			t.special.PAD = -1
		}
	}
	if t.special.MASK, ok = lookup("[MASK]"); !ok {
		t.special.MASK = -1
	}

	// Every id we can emit must be below VocabSize.
	t.vocabSize = b.nIDs
	for _, id := range []int32{t.special.CLS, t.special.SEP, t.special.PAD, t.special.MASK} {
		if int(id) >= t.vocabSize {
			t.vocabSize = int(id) + 1
		}
	}
	for _, a := range t.specialTokens {
		if int(a.id) >= t.vocabSize {
			t.vocabSize = int(a.id) + 1
		}
	}
	if len(t.idToToken) < t.vocabSize {
		t.idToToken = append(t.idToToken, make([]string, t.vocabSize-len(t.idToToken))...)
	}
	for _, a := range t.specialTokens {
		if t.idToToken[a.id] == "" {
			t.idToToken[a.id] = a.content
		}
	}

	for c := 0; c < utf8.RuneSelf; c++ {
		r := rune(c)
		switch {
		case t.cleanText && isCleanedAway(r):
			t.asciiClass[c] = asciiDrop
		case isWhitespace(r):
			t.asciiClass[c] = asciiSpace
		case isASCIIPunct(byte(c)):
			t.asciiClass[c] = asciiPunct
		default:
			t.asciiClass[c] = asciiLetter
		}
		id, ok := b.vocab[string(r)]
		if !ok {
			id = t.special.UNK
		}
		t.asciiWordID[c] = id
		t.asciiLower[c] = byte(c)
		if t.lowercase && c >= 'A' && c <= 'Z' {
			t.asciiLower[c] = byte(c) + 'a' - 'A'
		}
		t.letterRun[c] = t.asciiClass[c] == asciiLetter && !t.specialFirst[c]
	}
	bmpOnce.Do(buildBMPFlags)
	return t, nil
}
