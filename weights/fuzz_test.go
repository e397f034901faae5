package weights

import (
	"bytes"
	"math"
	"sort"
	"strings"
	"testing"
)

// fuzzSeeds are small valid files from the writer plus malformed variants.
func fuzzSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		encode(t, sampleTensors(), sampleMeta),
		encode(t, []WriteTensor{{Name: "w", DType: "F16", Shape: []int{2, 2}, Data: []float32{1, -0.5, 65504, 1e-7}}}, nil),
		encode(t, []WriteTensor{{Name: "s", DType: "BF16", Shape: []int{}, Data: []float32{3}}}, map[string]string{"k": "v"}),
		encode(t, nil, nil),
		raw(`{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]}}`, make([]byte, 10)),
		raw(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)),
		raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		raw(`{"__metadata__":{"a":1}}`, nil),
		raw(`[]`, nil),
		{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}'},
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "weights: fuzz: ") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		checkConsistent(t, file, int64(len(data)))
	})
}

// checkConsistent asserts the invariants every successfully parsed file has,
// and that its float tensors survive a trip through the writer.
func checkConsistent(t *testing.T, f *File, size int64) {
	names := f.Names()
	if len(names) != f.Len() || !sort.StringsAreSorted(names) {
		t.Fatalf("Names %q, Len %d", names, f.Len())
	}
	var total int64
	var floats []WriteTensor
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			t.Fatalf("duplicate name %q", n)
		}
		tt, ok := f.Tensor(n)
		if !ok || tt.Name != n {
			t.Fatalf("Tensor(%q) = %v, %v", n, tt, ok)
		}
		size, known := dtypeSizes[tt.DType]
		if !known {
			t.Fatalf("%q: dtype %q", n, tt.DType)
		}
		numel := tt.NumElements()
		if numel < 0 || tt.Bytes != int64(numel)*int64(size) {
			t.Fatalf("%q: %d elements of %s in %d bytes", n, numel, tt.DType, tt.Bytes)
		}
		total += tt.Bytes
		if isFloat(tt.DType) {
			if tt.Data == nil || len(tt.Data) != numel {
				t.Fatalf("%q: len(Data) = %d, want %d", n, len(tt.Data), numel)
			}
			floats = append(floats, WriteTensor{n, tt.DType, tt.Shape, tt.Data})
		} else if tt.Data != nil {
			t.Fatalf("%q: %s tensor has Data", n, tt.DType)
		}
	}
	if total > size {
		t.Fatalf("tensors hold %d bytes, file is %d", total, size)
	}
	if len(floats) == 0 {
		return
	}
	var b bytes.Buffer
	if err := Write(&b, floats, f.Metadata); err != nil {
		t.Fatalf("rewrite: %v", err)
	}
	g, err := Parse("rewrite", b.Bytes())
	if err != nil {
		t.Fatalf("reparse: %v", err)
	}
	for _, w := range floats {
		r, _ := g.Tensor(w.Name)
		for i, v := range w.Data {
			if r.Data[i] != v && !(math.IsNaN(float64(v)) && math.IsNaN(float64(r.Data[i]))) {
				t.Fatalf("%q[%d]: %g rewritten as %g", w.Name, i, v, r.Data[i])
			}
		}
	}
}

// TestFuzzSeeds runs the fuzz checks on the seeds in plain test runs too, and
// checks that the valid seeds are valid.
func TestFuzzSeeds(t *testing.T) {
	for i, s := range fuzzSeeds(t) {
		f, err := Parse("seed", s)
		if (err == nil) != (i < 5) { // the first five are valid
			t.Errorf("seed %d: err = %v", i, err)
		}
		if err == nil {
			checkConsistent(t, f, int64(len(s)))
		}
	}
}
