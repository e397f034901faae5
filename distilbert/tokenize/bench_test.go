package tokenize

import (
	"strings"
	"testing"
)

// BenchmarkEncode encodes the 872 SST-2 dev sentences (about 20 words
// each); one op is one sentence.
func BenchmarkEncode(b *testing.B) {
	tk := loadRoute(b, sst2Dir, "json")
	var texts []string
	bytes := 0
	for _, c := range readGolden(b, "sst2-mini-dev.jsonl") {
		texts = append(texts, c.Text)
		bytes += len(c.Text)
	}
	b.SetBytes(int64(bytes / len(texts)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = tk.Encode(texts[i%len(texts)])
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sentence")
}

// BenchmarkAppendEncode is BenchmarkEncode without the result allocation.
func BenchmarkAppendEncode(b *testing.B) {
	tk := loadRoute(b, sst2Dir, "json")
	var texts []string
	for _, c := range readGolden(b, "sst2-mini-dev.jsonl") {
		texts = append(texts, c.Text)
	}
	buf := make([]int32, 0, tk.MaxLen())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, _ = tk.AppendEncode(buf[:0], texts[i%len(texts)])
	}
}

// BenchmarkEncodeNonASCII encodes the non-ASCII edge texts.
func BenchmarkEncodeNonASCII(b *testing.B) {
	tk := loadRoute(b, sst2Dir, "json")
	var texts []string
	for _, c := range readGolden(b, "tokenizer-hf.jsonl") {
		if strings.ContainsFunc(c.Text, func(r rune) bool { return r >= 0x80 }) && len(c.Text) < 200 {
			texts = append(texts, c.Text)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = tk.Encode(texts[i%len(texts)])
	}
}

// BenchmarkEncodeHuge encodes 10 MB that is truncated after 510 pieces.
func BenchmarkEncodeHuge(b *testing.B) {
	tk := loadRoute(b, sst2Dir, "json")
	text := strings.Repeat("This movie is great. ", 500000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = tk.Encode(text)
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, route := range routes {
		b.Run(route, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				loadCache.Clear()
				_ = loadRoute(b, sst2Dir, route)
			}
		})
	}
}
