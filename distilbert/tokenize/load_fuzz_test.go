package tokenize

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// Small tokenizer files of the shapes Load reads, as fuzz seeds: the real
// ones are hundreds of kilobytes, too large for the mutator to get far.
const (
	seedVocab = "[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nun\n##aff\n##able\nworld\n!\n東\n"

	seedConfig = `{"do_lower_case": true, "model_max_length": 16, "cls_token": "[CLS]",
		"sep_token": {"content": "[SEP]"}, "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": null,
		"added_tokens_decoder": {"5": {"content": "[MASK]", "special": true}}}`

	seedTokenizerJSON = `{"version": "1.0", "truncation": null, "padding": null,
		"added_tokens": [{"id": 0, "special": true, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
			{"id": 2, "special": true, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
			{"id": 3, "special": true, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
			{"id": 4, "special": true, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
			{"id": 5, "special": true, "content": "[MASK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false}],
		"normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
		"pre_tokenizer": {"type": "BertPreTokenizer"},
		"post_processor": {"type": "TemplateProcessing",
			"single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
			"pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
				{"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
			"special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [3], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [4], "tokens": ["[SEP]"]}}},
		"decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
		"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
			"vocab": {"[PAD]": 0, "[unused0]": 1, "[UNK]": 2, "[CLS]": 3, "[SEP]": 4, "[MASK]": 5, "the": 6, "un": 7,
				"##aff": 8, "##able": 9, "world": 10, "!": 11, "東": 12}}}`
)

// FuzzLoad feeds Load the tokenizer files a downloaded checkpoint may hold
// (tokenizer.json, vocab.txt, tokenizer_config.json; "" leaves one out):
// it returns a tokenizer or an error, never panics, and what it returns
// encodes any text within its own limits.
func FuzzLoad(f *testing.F) {
	f.Add(seedTokenizerJSON, "", seedConfig, 512)
	f.Add(seedTokenizerJSON, "", "", 8)
	f.Add("", seedVocab, seedConfig, 512)
	f.Add("", seedVocab, `{"do_lower_case": false, "strip_accents": true, "tokenize_chinese_chars": false}`, 3)
	f.Add("", seedVocab, `{"model_max_length": 1e30}`, 0)
	f.Add(`{"model": {"type": "BPE"}}`, seedVocab, "", 512)
	f.Fuzz(func(t *testing.T, tokenizerJSON, vocab, config string, maxPositions int) {
		fsys := fstest.MapFS{}
		for name, data := range map[string]string{
			"tokenizer.json": tokenizerJSON, "vocab.txt": vocab, "tokenizer_config.json": config,
		} {
			if data != "" {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
			}
		}
		tk, err := Load(fsys, maxPositions)
		if err != nil {
			if tk != nil || !strings.HasPrefix(err.Error(), "tokenize: ") {
				t.Fatalf("Load: %v (and a tokenizer %v)", err, tk != nil)
			}
			return
		}
		if tk.MaxLen() < 2 || maxPositions > 0 && tk.MaxLen() > maxPositions {
			t.Fatalf("MaxLen %d with maxPositions %d", tk.MaxLen(), maxPositions)
		}
		sp := tk.Special()
		for _, text := range []string{"", "the unaffable world!", "[MASK] 東京 Été [CLS]", strings.Repeat("un ", 40)} {
			ids := tk.Encode(text).IDs
			if len(ids) < 2 || len(ids) > tk.MaxLen() || ids[0] != sp.CLS || ids[len(ids)-1] != sp.SEP {
				t.Fatalf("%q: ids %v (MaxLen %d, special %+v)", text, ids, tk.MaxLen(), sp)
			}
			for _, id := range ids {
				if id < 0 || int(id) >= tk.VocabSize() {
					t.Fatalf("%q: id %d outside [0, %d)", text, id, tk.VocabSize())
				}
			}
		}
	})
}

// TestLoadFuzzSeeds keeps FuzzLoad's seeds loadable, so that the fuzzer
// starts from tokenizers that work: both routes give the same ids.
func TestLoadFuzzSeeds(t *testing.T) {
	want := []int32{3, 6, 7, 8, 9, 10, 11, 4} // [CLS] the un ##aff ##able world ! [SEP]
	for name, fsys := range map[string]fstest.MapFS{
		"tokenizer.json": {"tokenizer.json": {Data: []byte(seedTokenizerJSON)}, "tokenizer_config.json": {Data: []byte(seedConfig)}},
		"vocab.txt":      {"vocab.txt": {Data: []byte(seedVocab)}, "tokenizer_config.json": {Data: []byte(seedConfig)}},
	} {
		tk, err := Load(fsys, 512)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := tk.Encode("The unaffable world!").IDs; !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		if tk.MaxLen() != 16 {
			t.Errorf("%s: MaxLen %d, want model_max_length 16", name, tk.MaxLen())
		}
	}
}
