package tokenize

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
)

const (
	goldenDir  = "../../testdata/golden"
	sst2Dir    = "../defaultmodel/sst2-mini"
	tinyOddDir = "../../testdata/models/tiny-odd"
)

type goldenCase struct {
	Case      string   `json:"case"`
	Text      string   `json:"text"`
	InputIDs  []int32  `json:"input_ids"`
	Tokens    []string `json:"tokens"`
	Truncated *bool    `json:"truncated"`
}

func readGolden(tb testing.TB, name string) []goldenCase {
	tb.Helper()
	f, err := os.Open(filepath.Join(goldenDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []goldenCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("%s: empty", name)
	}
	return out
}

// maxPositions reads max_position_embeddings from a model's config.json.
func maxPositions(tb testing.TB, dir string) int {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var cfg struct {
		MaxPositionEmbeddings int `json:"max_position_embeddings"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		tb.Fatal(err)
	}
	return cfg.MaxPositionEmbeddings
}

var loadCache sync.Map // route+dir -> *Tokenizer

// loadRoute loads a model directory through tokenizer.json ("json") or,
// hiding tokenizer.json, through vocab.txt + tokenizer_config.json ("vocab").
func loadRoute(tb testing.TB, dir, route string) *Tokenizer {
	tb.Helper()
	if t, ok := loadCache.Load(route + dir); ok {
		return t.(*Tokenizer)
	}
	var fsys = os.DirFS(dir)
	if route == "vocab" {
		m := fstest.MapFS{}
		for _, name := range []string{"vocab.txt", "tokenizer_config.json"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				tb.Fatal(err)
			}
			m[name] = &fstest.MapFile{Data: data}
		}
		fsys = m
	}
	t, err := Load(fsys, maxPositions(tb, dir))
	if err != nil {
		tb.Fatalf("Load(%s, %s): %v", dir, route, err)
	}
	loadCache.Store(route+dir, t)
	return t
}

var routes = []string{"json", "vocab"}

func TestLoadBasics(t *testing.T) {
	for _, route := range routes {
		for _, c := range []struct {
			dir    string
			maxLen int
		}{{sst2Dir, 512}, {tinyOddDir, 64}} {
			tk := loadRoute(t, c.dir, route)
			if tk.MaxLen() != c.maxLen {
				t.Errorf("%s %s: MaxLen %d, want %d", route, c.dir, tk.MaxLen(), c.maxLen)
			}
			if tk.VocabSize() != 30522 {
				t.Errorf("%s %s: VocabSize %d", route, c.dir, tk.VocabSize())
			}
			want := SpecialIDs{CLS: 101, SEP: 102, PAD: 0, UNK: 100, MASK: 103}
			if got := tk.Special(); got != want {
				t.Errorf("%s %s: Special %+v, want %+v", route, c.dir, got, want)
			}
			if tk.Token(101) != "[CLS]" || tk.Token(2204) != "good" || tk.Token(-1) != "" || tk.Token(30522) != "" {
				t.Errorf("%s: Token lookups wrong", route)
			}
			if id, ok := tk.ID("##s"); !ok || tk.Token(id) != "##s" {
				t.Errorf("%s: ID(##s) = %d, %v", route, id, ok)
			}
		}
	}
	// The two routes must agree on every vocabulary entry.
	a, b := loadRoute(t, sst2Dir, "json"), loadRoute(t, sst2Dir, "vocab")
	if !slices.Equal(a.idToToken, b.idToToken) {
		t.Error("tokenizer.json and vocab.txt vocabularies differ")
	}
}

func checkGolden(t *testing.T, file, dir string, withTokens bool) {
	cases := readGolden(t, file)
	for _, route := range routes {
		tk := loadRoute(t, dir, route)
		pass := 0
		for i, c := range cases {
			enc := tk.Encode(c.Text)
			ok := slices.Equal(enc.IDs, c.InputIDs)
			if c.Truncated != nil && enc.Truncated != *c.Truncated {
				ok = false
			}
			if withTokens {
				for j, id := range enc.IDs {
					if j < len(c.Tokens) && tk.Token(id) != c.Tokens[j] {
						ok = false
					}
				}
			}
			if ok {
				pass++
				continue
			}
			name := c.Case
			if name == "" {
				name = c.Text
				if len(name) > 60 {
					name = name[:60]
				}
			}
			t.Errorf("%s %s #%d %q:\n got  %v (truncated %v)\n want %v", route, file, i, name, enc.IDs, enc.Truncated, c.InputIDs)
		}
		t.Logf("%s route: %s %d/%d", route, file, pass, len(cases))
	}
}

func TestGoldenHF(t *testing.T)       { checkGolden(t, "tokenizer-hf.jsonl", sst2Dir, true) }
func TestGoldenSST2Dev(t *testing.T)  { checkGolden(t, "sst2-mini-dev.jsonl", sst2Dir, false) }
func TestGoldenSST2Edge(t *testing.T) { checkGolden(t, "sst2-mini-edge.jsonl", sst2Dir, false) }
func TestGoldenTinyOdd(t *testing.T)  { checkGolden(t, "tiny-odd.jsonl", tinyOddDir, false) }

// TestAppendEncode checks that AppendEncode equals Encode and does not
// allocate with enough capacity.
func TestAppendEncode(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	cases := readGolden(t, "sst2-mini-edge.jsonl")
	buf := make([]int32, 0, tk.MaxLen()+8)
	for _, c := range cases {
		ids, tr := tk.AppendEncode(buf[:1], c.Text)
		enc := tk.Encode(c.Text)
		if !slices.Equal(ids[1:], enc.IDs) || tr != enc.Truncated {
			t.Errorf("%s: AppendEncode differs from Encode", c.Case)
		}
	}
	text := cases[len(cases)-1].Text
	if n := testing.AllocsPerRun(20, func() { buf, _ = tk.AppendEncode(buf[:0], text) }); n != 0 {
		t.Errorf("AppendEncode allocates %v times", n)
	}
	// Encode's scratch slice comes from a sync.Pool, which the race
	// detector empties at random: the plain run (make test runs both)
	// checks that only the result is allocated.
	if n := testing.AllocsPerRun(20, func() { _ = tk.Encode("I absolutely loved this movie, it's great!") }); n > 1 && !raceEnabled {
		t.Errorf("Encode allocates %v times", n)
	}
}

// TestConcurrent encodes the dev set from many goroutines at once.
func TestConcurrent(t *testing.T) {
	tk := loadRoute(t, sst2Dir, "json")
	cases := readGolden(t, "sst2-mini-dev.jsonl")
	edge := readGolden(t, "sst2-mini-edge.jsonl")
	cases = append(cases, edge...)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := range cases {
				c := cases[(i*7+g*131)%len(cases)]
				if enc := tk.Encode(c.Text); !slices.Equal(enc.IDs, c.InputIDs) {
					select {
					case errs <- c.Text:
					default:
					}
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent mismatch on %q", e)
	}
}
