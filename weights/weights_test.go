package weights

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// special holds values F16 and BF16 both represent exactly, among them
// subnormals of each, ±inf and NaN.
var special = []float32{
	0, float32(math.Copysign(0, -1)), 1, -2, 0.5, 65280, -0.375,
	float32(math.Ldexp(1, -24)), float32(-3 * math.Ldexp(1, -24)), // F16 subnormals
	float32(math.Ldexp(1, -14)),
	float32(math.Ldexp(1, -133)), // BF16 (and F32) subnormal; flushes to 0 in F16
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
}

func sampleTensors() []WriteTensor {
	return []WriteTensor{
		{Name: "b.f16", DType: "F16", Shape: []int{2, 7}, Data: special},
		{Name: "a.f32", DType: "F32", Shape: []int{2, 3}, Data: []float32{1, -2.5, 3.25, 1e-40, float32(math.Inf(-1)), 0.1}},
		{Name: "c.bf16", DType: "BF16", Shape: []int{14}, Data: special},
		{Name: "d.approx", DType: "F16", Shape: []int{3}, Data: []float32{0.1, 3.14159, -1234.567}},
		{Name: "e.approx", DType: "BF16", Shape: []int{3}, Data: []float32{0.1, 3.14159, -1234.567}},
		{Name: "f.scalar", DType: "F32", Shape: []int{}, Data: []float32{42}},
		{Name: "g.empty", DType: "F32", Shape: []int{0, 5}, Data: []float32{}},
	}
}

func encode(t testing.TB, ts []WriteTensor, meta map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, ts, meta); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// raw builds a file from a literal header and data region.
func raw(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func sameFloat(a, b float32) bool {
	return a == b && math.Signbit(float64(a)) == math.Signbit(float64(b)) ||
		math.IsNaN(float64(a)) && math.IsNaN(float64(b))
}

func checkSample(t *testing.T, f *File) {
	t.Helper()
	want := sampleTensors()
	if f.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", f.Len(), len(want))
	}
	if got := strings.Join(f.Names(), ","); got != "a.f32,b.f16,c.bf16,d.approx,e.approx,f.scalar,g.empty" {
		t.Fatalf("Names = %s", got)
	}
	for _, w := range want {
		g, ok := f.Tensor(w.Name)
		if !ok {
			t.Fatalf("missing %s", w.Name)
		}
		if g.Name != w.Name || g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || len(g.Data) != len(w.Data) || g.NumElements() != len(w.Data) {
			t.Fatalf("%s: got %+v", w.Name, g)
		}
		if g.Bytes != int64(len(w.Data)*dtypeSizes[w.DType]) {
			t.Errorf("%s: Bytes = %d", w.Name, g.Bytes)
		}
		for i, v := range w.Data {
			exact := v
			if w.DType == "F16" && v != 0 && math.Abs(float64(v)) < math.Ldexp(1, -25) {
				exact = float32(math.Copysign(0, float64(v))) // below F16's range
			}
			switch {
			case strings.HasSuffix(w.Name, "approx"):
				if tol := map[string]float64{"F16": 1.0 / 2048, "BF16": 1.0 / 256}[w.DType]; math.Abs(float64(g.Data[i]-v)) > tol*math.Abs(float64(v)) {
					t.Errorf("%s[%d] = %g, want %g within %g relative", w.Name, i, g.Data[i], v, tol)
				}
			case !sameFloat(g.Data[i], exact):
				t.Errorf("%s[%d] = %g, want exactly %g", w.Name, i, g.Data[i], exact)
			}
		}
	}
	if f.Metadata["format"] != "pt" || len(f.Metadata) != 2 {
		t.Errorf("Metadata = %v", f.Metadata)
	}
}

var sampleMeta = map[string]string{"format": "pt", "note": "<&> \"quoted\""}

func TestRoundTrip(t *testing.T) {
	b := encode(t, sampleTensors(), sampleMeta)
	f, err := Parse("sample", b)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, f)
	// Aligned F32 is a view of the input, not a copy.
	a, _ := f.Tensor("a.f32")
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 && littleEndian {
		hl := binary.LittleEndian.Uint64(b)
		if &a.Data[0] != (*float32)(unsafe.Pointer(&b[8+hl])) {
			t.Error("aligned F32 data was copied")
		}
	}
}

func TestWriteLayout(t *testing.T) {
	b := encode(t, sampleTensors(), sampleMeta)
	hl := binary.LittleEndian.Uint64(b)
	if hl%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", hl)
	}
	h := string(b[8 : 8+hl])
	if strings.TrimRight(h, " ") != strings.TrimSpace(h) || !strings.HasPrefix(h, `{"__metadata__":{"format":"pt","note":"<&> \"quoted\""},"a.f32":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b.f16":`) {
		t.Errorf("header = %s", h)
	}
	if !strings.Contains(h, `"f.scalar":{"dtype":"F32","shape":[],"data_offsets":[92,96]}`) {
		t.Errorf("scalar entry missing or misplaced: %s", h)
	}
}

func TestOpenMatchesParse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, sampleTensors(), sampleMeta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, f)
	b, _ := os.ReadFile(path)
	p, err := Parse(path, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range f.Names() {
		x, _ := f.Tensor(n)
		y, _ := p.Tensor(n)
		for i := range x.Data {
			if !sameFloat(x.Data[i], y.Data[i]) {
				t.Fatalf("%s[%d]: Open %g, Parse %g", n, i, x.Data[i], y.Data[i])
			}
		}
	}
	for i := 0; i < 2; i++ {
		if err := f.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if _, ok := f.Tensor("a.f32"); ok || f.Len() != 0 {
		t.Error("tensors still reachable after Close")
	}
	if _, err := f.Float32("a.f32"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Float32 after Close: %v", err)
	}
}

func TestParseMisaligned(t *testing.T) {
	b := encode(t, sampleTensors(), sampleMeta)
	for shift := 1; shift < 4; shift++ {
		buf := make([]byte, len(b)+shift)
		copy(buf[shift:], b)
		f, err := Parse("shifted", buf[shift:])
		if err != nil {
			t.Fatal(err)
		}
		checkSample(t, f)
	}
}

func TestOpenTinyOdd(t *testing.T) {
	f, err := Open("../testdata/models/tiny-odd/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := f.Float32("classifier.weight", 3, 48)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 3*48 {
		t.Fatalf("len = %d", len(w))
	}
	if f.Len() < 10 || f.Metadata["format"] != "pt" {
		t.Errorf("Len = %d, Metadata = %v", f.Len(), f.Metadata)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte{1, 2, 3}, 0o644)
	bad := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(bad, raw(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), 0o644)
	for path, want := range map[string]string{
		filepath.Join(dir, "missing"): "no such file",
		short:                         "too short",
		dir:                           "",
		bad:                           `bad.safetensors: header: tensor "x": data_offsets [0 8]: 8 bytes, but shape [1] of F32 needs 4`,
	} {
		f, err := Open(path)
		if err == nil {
			f.Close()
			t.Errorf("Open(%s) succeeded", path)
		} else if !strings.HasPrefix(err.Error(), "weights: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want %q", path, err, want)
		}
	}
}

func TestEmptyAndScalar(t *testing.T) {
	f, err := Parse("sample", encode(t, sampleTensors(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := f.Tensor("f.scalar"); len(s.Data) != 1 || s.Data[0] != 42 || len(s.Shape) != 0 {
		t.Errorf("scalar = %+v", s)
	}
	if e, _ := f.Tensor("g.empty"); e.Data == nil || len(e.Data) != 0 {
		t.Error("empty tensor: want non-nil empty Data")
	}
	if f.Metadata != nil {
		t.Errorf("Metadata = %v, want nil", f.Metadata)
	}
}

func TestUnsupportedDType(t *testing.T) {
	f, err := Parse("ints", raw(`{"i":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)))
	if err != nil {
		t.Fatal(err)
	}
	i, ok := f.Tensor("i")
	if !ok || i.DType != "I32" || i.Data != nil || i.Bytes != 8 {
		t.Fatalf("I32 tensor = %+v", i)
	}
	for _, c := range []struct {
		name  string
		shape []int
		want  string
	}{
		{"i", nil, `weights: ints: tensor "i": dtype I32: unsupported dtype`},
		{"nope", nil, `weights: ints: tensor "nope": not found`},
		{"x", []int{2}, `weights: ints: tensor "x": shape [1], want [2]`},
	} {
		if _, err := f.Float32(c.name, c.shape...); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Float32(%s) = %v, want %s", c.name, err, c.want)
		}
	}
	if _, err := f.Float32("i"); !errors.Is(err, ErrUnsupportedDType) {
		t.Errorf("error does not wrap ErrUnsupportedDType: %v", err)
	}
}

func TestWriteErrors(t *testing.T) {
	one := []float32{1}
	for _, c := range []struct {
		ts   []WriteTensor
		want string
	}{
		{[]WriteTensor{{Name: "", DType: "F32", Shape: []int{1}, Data: one}}, `invalid tensor name ""`},
		{[]WriteTensor{{Name: "__metadata__", DType: "F32", Shape: []int{1}, Data: one}}, "invalid tensor name"},
		{[]WriteTensor{{Name: "a", DType: "F32", Shape: []int{1}, Data: one}, {Name: "a", DType: "F16", Shape: []int{1}, Data: one}}, `duplicate tensor name "a"`},
		{[]WriteTensor{{Name: "a", DType: "I8", Shape: []int{1}, Data: one}}, `tensor "a": dtype "I8": unsupported`},
		{[]WriteTensor{{Name: "a", DType: "F32", Shape: []int{2}, Data: one}}, `shape [2] has 2 elements, data has 1`},
		{[]WriteTensor{{Name: "a", DType: "F32", Shape: []int{-1, -1}, Data: one}}, `invalid shape`},
		{[]WriteTensor{{Name: "a", DType: "F32", Shape: []int{math.MaxInt, 2}, Data: one}}, `invalid shape`},
	} {
		err := Write(&bytes.Buffer{}, c.ts, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Write(%v) = %v, want %q", c.ts, err, c.want)
		}
	}
	path := filepath.Join(t.TempDir(), "x")
	if err := WriteFile(path, []WriteTensor{{Name: "a", DType: "F32", Shape: []int{2}, Data: one}}, nil); err == nil {
		t.Error("WriteFile succeeded")
	} else if _, err := os.Stat(path); err == nil {
		t.Error("WriteFile left a partial file")
	}
}

func TestTruncated(t *testing.T) {
	b := encode(t, sampleTensors()[:3], nil)
	for n := 0; n < len(b); n++ {
		_, err := Parse("trunc", b[:n])
		if err == nil {
			t.Fatalf("prefix of %d bytes parsed", n)
		}
		if !strings.HasPrefix(err.Error(), "weights: trunc: ") {
			t.Fatalf("prefix %d: %v", n, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	d8 := make([]byte, 8)
	ent := func(name, body string) string { return `{"` + name + `":` + body + `}` }
	f32 := func(shape string, b, e int) string {
		return `{"dtype":"F32","shape":` + shape + `,"data_offsets":[` + strconv.Itoa(b) + `,` + strconv.Itoa(e) + `]}`
	}
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	past := binary.LittleEndian.AppendUint64(nil, 100)
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "file is 0 bytes, too short"},
		{"header length huge", append(huge, "{}"...), "header length 4611686018427387904 exceeds limit 104857600"},
		{"header length past end", append(past, "{}"...), "header length 100 past end of file (2 bytes after the length)"},
		{"empty header", raw("", nil), "header: unexpected end of JSON"},
		{"garbage JSON", raw(`{"x":{"dtype":`, nil), "header: tensor \"x\": dtype: unexpected end of JSON"},
		{"garbage bytes", raw("\x00\x01garbage", nil), "header: invalid character"},
		{"invalid utf8", raw("{\"\xff\":1}", nil), "header: not valid UTF-8"},
		{"not an object", raw(`[1,2]`, nil), `header: expected a JSON object, got "["`},
		{"string header", raw(`"hi"`, nil), `header: expected a JSON object, got "hi"`},
		{"trailing data", raw(`{}{}`, nil), "header: trailing data"},
		{"entry not an object", raw(`{"x":[1]}`, nil), `tensor "x": expected a JSON object`},
		{"unknown dtype", raw(ent("x", `{"dtype":"F33","shape":[2],"data_offsets":[0,8]}`), d8), `header: tensor "x": unknown dtype "F33"`},
		{"dtype not string", raw(ent("x", `{"dtype":4,"shape":[2],"data_offsets":[0,8]}`), d8), `tensor "x": dtype: json: cannot unmarshal number`},
		{"dtype null", raw(ent("x", `{"dtype":null,"shape":[2],"data_offsets":[0,8]}`), d8), `tensor "x": missing dtype`},
		{"missing shape", raw(ent("x", `{"dtype":"F32","data_offsets":[0,8]}`), d8), `tensor "x": missing shape`},
		{"missing offsets", raw(ent("x", `{"dtype":"F32","shape":[2]}`), d8), `tensor "x": missing data_offsets`},
		{"unknown field", raw(ent("x", `{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}`), d8), `tensor "x": unknown field "extra"`},
		{"duplicate field", raw(ent("x", `{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}`), d8), `tensor "x": duplicate key "dtype"`},
		{"offset past end", raw(ent("x.weight", f32("[514]", 8, 2064)), make([]byte, 2000)), `weights: bad: tensor "x.weight": data_offsets [8 2064] past end of data (2000 bytes)`},
		{"offsets reversed", raw(ent("x", f32("[0]", 8, 0)), d8), `tensor "x": data_offsets [8 0]: want 0 <= begin <= end`},
		{"offsets negative", raw(ent("x", f32("[0]", -4, 0)), d8), `tensor "x": data_offsets [-4 0]`},
		{"offsets length", raw(ent("x", `{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}`), d8), `tensor "x": data_offsets [0 4 8]: want [begin, end]`},
		{"offsets float", raw(ent("x", `{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}`), d8), `tensor "x": data_offsets: json: cannot unmarshal number 8.5`},
		{"overlap", raw(`{"a":`+f32("[2]", 0, 8)+`,"b":`+f32("[2]", 4, 12)+`}`, make([]byte, 12)), `tensor "b": data_offsets [4 12] overlap tensor "a" (ends at 8)`},
		{"gap", raw(`{"a":`+f32("[1]", 0, 4)+`,"b":`+f32("[1]", 8, 12)+`}`, make([]byte, 12)), `tensor "b": data_offsets [8 12] leave a gap: bytes [4 8]`},
		{"gap at start", raw(ent("a", f32("[1]", 4, 8)), d8), `tensor "a": data_offsets [4 8] leave a gap: bytes [0 4]`},
		{"trailing bytes", raw(ent("a", f32("[1]", 0, 4)), d8), "data region is 8 bytes but tensors end at 4"},
		{"data without tensors", raw(`{}`, d8), "data region is 8 bytes but tensors end at 0"},
		{"wrong byte length", raw(ent("x", f32("[3]", 0, 8)), d8), `tensor "x": data_offsets [0 8]: 8 bytes, but shape [3] of F32 needs 12`},
		{"duplicate name", raw(`{"x":`+f32("[1]", 0, 4)+`,"x":`+f32("[1]", 4, 8)+`}`, d8), `header: duplicate key "x"`},
		{"negative shape", raw(ent("x", f32("[-2,-4]", 0, 8)), d8), `tensor "x": negative dimension in shape [-2 -4]`},
		{"shape overflow", raw(ent("x", f32("[4294967296,4294967296]", 0, 0)), nil), `tensor "x": shape [4294967296 4294967296]: `}, // element count, or dimension where int is 32 bits
		{"byte count overflow", raw(ent("x", f32("[4611686018427387904]", 0, 0)), nil), "overflows"},
		{"shape float", raw(ent("x", f32("[1.5]", 0, 8)), d8), `tensor "x": shape: json: cannot unmarshal number 1.5`},
		{"shape not array", raw(ent("x", f32(`"2"`, 0, 8)), d8), `tensor "x": shape: json: cannot unmarshal string`},
		{"metadata not object", raw(`{"__metadata__":[]}`, nil), `header: __metadata__: expected a JSON object`},
		{"metadata not string map", raw(`{"__metadata__":{"a":1}}`, nil), `header: __metadata__: key "a": value must be a string`},
		{"metadata null value", raw(`{"__metadata__":{"a":null}}`, nil), `header: __metadata__: key "a": value must be a string`},
		{"metadata duplicate", raw(`{"__metadata__":{"a":"1","a":"2"}}`, nil), `header: __metadata__: duplicate key "a"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("bad", c.file)
			if err == nil {
				t.Fatalf("parsed: %v", f.Names())
			}
			if !strings.HasPrefix(err.Error(), "weights: bad: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}
