package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sort"
	"unicode/utf8"
	"unsafe"
)

// MaxHeaderSize bounds the JSON header, as the reference implementation does,
// so that a corrupt length cannot make the reader allocate or scan gigabytes.
const MaxHeaderSize = 100 << 20

// ErrUnsupportedDType is wrapped by errors for tensors whose dtype the
// reader lists but cannot hand out as float32.
var ErrUnsupportedDType = errors.New("unsupported dtype")

// Tensor is one entry of a safetensors file.
type Tensor struct {
	Name  string
	DType string // dtype as stored in the file, e.g. "F32", "BF16"
	Shape []int
	Bytes int64     // bytes in the file
	Data  []float32 // F32 view (zero-copy for aligned F32) or converted copy; nil for non-float dtypes
}

// NumElements is the product of the shape (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file. Its tensors may alias the mapped file
// (Open) or the input slice (Parse); see the package doc.
type File struct {
	Name     string
	Metadata map[string]string // the "__metadata__" map; nil if absent

	format string // one of the Format* constants; "" means safetensors

	tensors map[string]*Tensor
	names   []string // sorted
	unmap   func() error
	// evict drops the resident pages of a mapped byte range; nil when the
	// data is not a file mapping.
	evict func(b []float32)
}

// Evict tells the kernel that the tensor's mapped pages are not needed any
// more, so a tensor whose values were copied (e.g. packed for a SIMD
// kernel) stops counting twice in the resident set. The data stays valid:
// a later read pages it back in from the file. No-op for copied tensors
// and in-memory files.
func (f *File) Evict(t *Tensor) {
	if f.evict != nil && len(t.Data) > 0 {
		f.evict(t.Data)
	}
}

// Format tells which checkpoint format the file was read from:
// FormatSafetensors, FormatPyTorchZip or FormatPyTorchLegacy.
func (f *File) Format() string {
	if f.format == "" {
		return FormatSafetensors
	}
	return f.format
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.names) }

// Tensor looks a tensor up by name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Float32 returns the float32 data of a tensor. If shape is given, the
// tensor's shape must equal it. Errors name the file and tensor; tensors of
// non-float dtypes give an error wrapping ErrUnsupportedDType.
func (f *File) Float32(name string, shape ...int) ([]float32, error) {
	t, ok := f.tensors[name]
	switch {
	case f.tensors == nil:
		return nil, f.errorf("tensor %q: file is closed", name)
	case !ok:
		return nil, f.errorf("tensor %q: not found", name)
	case t.Data == nil:
		return nil, fmt.Errorf("weights: %s: tensor %q: dtype %s: %w (want F32, F16 or BF16)", f.Name, name, t.DType, ErrUnsupportedDType)
	case len(shape) > 0 && !slices.Equal(shape, t.Shape):
		return nil, f.errorf("tensor %q: shape %v, want %v", name, t.Shape, shape)
	}
	return t.Data, nil
}

// Close releases the mapping, if any, and forgets the tensors. Data slices
// obtained from an Open'ed file must not be used afterwards. Close is
// idempotent.
func (f *File) Close() error {
	f.tensors, f.names = nil, nil
	if u := f.unmap; u != nil {
		f.unmap = nil
		if err := u(); err != nil {
			return f.errorf("unmap: %v", err)
		}
	}
	return nil
}

func (f *File) errorf(format string, args ...any) error {
	return fmt.Errorf("weights: %s: "+format, append([]any{f.Name}, args...)...)
}

// entry is a header entry before its data is attached.
type entry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int64
}

// Parse parses a safetensors file held in data; name is used in errors.
// Aligned F32 tensors alias data, which must then stay unmodified.
func Parse(name string, data []byte) (*File, error) {
	f := &File{Name: name}
	if len(data) < 8 {
		return nil, f.errorf("file is %d bytes, too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	rest := uint64(len(data)) - 8
	if n > MaxHeaderSize {
		return nil, f.errorf("header length %d exceeds limit %d", n, MaxHeaderSize)
	}
	if n > rest {
		return nil, f.errorf("header length %d past end of file (%d bytes after the length)", n, rest)
	}
	header, body := data[8:8+n], data[8+n:]
	entries, meta, err := parseHeader(header)
	if err != nil {
		return nil, f.errorf("header: %v", err)
	}
	f.Metadata = meta
	if err := checkLayout(entries, int64(len(body))); err != nil {
		return nil, f.errorf("%v", err)
	}
	f.tensors = make(map[string]*Tensor, len(entries))
	f.names = make([]string, 0, len(entries))
	for _, e := range entries {
		t := &Tensor{Name: e.name, DType: e.dtype, Shape: e.shape, Bytes: e.end - e.begin}
		if isFloat(e.dtype) {
			t.Data = toFloat32(e.dtype, body[e.begin:e.end])
		}
		f.tensors[e.name] = t
		f.names = append(f.names, e.name)
	}
	sort.Strings(f.names)
	return f, nil
}

// toFloat32 views or converts the bytes b of a float dtype.
func toFloat32(dtype string, b []byte) []float32 {
	if len(b) == 0 {
		return []float32{}
	}
	switch dtype {
	case "F32":
		if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
			return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
		}
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out
	case "F16", "BF16":
		conv := f16ToF32
		if dtype == "BF16" {
			conv = bf16ToF32
		}
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = conv(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out
	}
	return nil
}

// parseHeader decodes the JSON header token by token, so that duplicate keys
// (which encoding/json would silently merge) and unknown fields are caught.
func parseHeader(header []byte) ([]entry, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	var entries []entry
	var meta map[string]string
	err := readObject(dec, func(key string) error {
		if key == "__metadata__" {
			meta = map[string]string{}
			err := readObject(dec, func(k string) error {
				var v *string
				if err := dec.Decode(&v); err != nil || v == nil {
					return fmt.Errorf("key %q: value must be a string", k)
				}
				meta[k] = *v
				return nil
			})
			if err != nil {
				return fmt.Errorf("__metadata__: %v", err)
			}
			return nil
		}
		e, err := readEntry(dec, key)
		if err != nil {
			return fmt.Errorf("tensor %q: %v", key, err)
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("trailing data after the JSON object")
	}
	return entries, meta, nil
}

// readObject reads one JSON object, calling fn for each key; fn must consume
// the value. Duplicate keys are an error.
func readObject(dec *json.Decoder, fn func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("expected a JSON object, got %v", tokString(tok))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonErr(err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("expected an object key, got %v", tokString(tok))
		}
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := fn(key); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return jsonErr(err)
	}
	return nil
}

// readEntry reads {"dtype": ..., "shape": [...], "data_offsets": [b, e]}.
func readEntry(dec *json.Decoder, name string) (entry, error) {
	e := entry{name: name}
	var dtype *string
	var shape, offsets *[]int64
	err := readObject(dec, func(key string) error {
		var err error
		switch key {
		case "dtype":
			err = dec.Decode(&dtype)
		case "shape":
			err = dec.Decode(&shape)
		case "data_offsets":
			err = dec.Decode(&offsets)
		default:
			return fmt.Errorf("unknown field %q", key)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", key, jsonErr(err))
		}
		return nil
	})
	switch {
	case err != nil:
		return e, err
	case dtype == nil:
		return e, errors.New("missing dtype")
	case shape == nil:
		return e, errors.New("missing shape")
	case offsets == nil:
		return e, errors.New("missing data_offsets")
	}
	size, ok := dtypeSizes[*dtype]
	if !ok {
		return e, fmt.Errorf("unknown dtype %q", *dtype)
	}
	e.dtype = *dtype
	// Element count, then byte count, without overflowing int (which is what
	// Data is indexed with) or int64.
	n := uint64(1)
	e.shape = make([]int, len(*shape))
	for i, d := range *shape {
		if d < 0 {
			return e, fmt.Errorf("negative dimension in shape %v", *shape)
		}
		if uint64(d) > math.MaxInt { // int is 32 bits on some platforms
			return e, fmt.Errorf("shape %v: dimension overflows int", *shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt || lo > math.MaxInt64/uint64(size) {
			return e, fmt.Errorf("shape %v: element count overflows", *shape)
		}
		n = lo
		e.shape[i] = int(d)
	}
	if len(*offsets) != 2 {
		return e, fmt.Errorf("data_offsets %v: want [begin, end]", *offsets)
	}
	e.begin, e.end = (*offsets)[0], (*offsets)[1]
	if e.begin < 0 || e.begin > e.end {
		return e, fmt.Errorf("data_offsets %v: want 0 <= begin <= end", *offsets)
	}
	if want := int64(n) * int64(size); e.end-e.begin != want {
		return e, fmt.Errorf("data_offsets %v: %d bytes, but shape %v of %s needs %d", *offsets, e.end-e.begin, e.shape, e.dtype, want)
	}
	return e, nil
}

// checkLayout checks that the tensors tile the data region exactly: no byte
// outside it, none shared, none unused.
func checkLayout(entries []entry, size int64) error {
	for _, e := range entries {
		if e.end > size {
			return fmt.Errorf("tensor %q: data_offsets [%d %d] past end of data (%d bytes)", e.name, e.begin, e.end, size)
		}
	}
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.name < b.name
	})
	var pos int64
	prev := ""
	for _, e := range sorted {
		switch {
		case e.begin < pos:
			return fmt.Errorf("tensor %q: data_offsets [%d %d] overlap tensor %q (ends at %d)", e.name, e.begin, e.end, prev, pos)
		case e.begin > pos:
			return fmt.Errorf("tensor %q: data_offsets [%d %d] leave a gap: bytes [%d %d] belong to no tensor", e.name, e.begin, e.end, pos, e.begin)
		}
		pos, prev = e.end, e.name
	}
	if pos != size {
		return fmt.Errorf("data region is %d bytes but tensors end at %d: trailing bytes belong to no tensor", size, pos)
	}
	return nil
}

func jsonErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("unexpected end of JSON")
	}
	return err
}

func tokString(tok json.Token) string {
	if d, ok := tok.(json.Delim); ok {
		return fmt.Sprintf("%q", string(d))
	}
	return fmt.Sprintf("%#v", tok)
}
