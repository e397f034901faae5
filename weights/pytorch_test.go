package weights

import (
	"archive/zip"
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPyTorchFixtures reads the checkpoints torch.save wrote: the zip and
// legacy formats and the views variant hold the same numbers bit for bit,
// and the F16/BF16 ones hold them rounded to nearest even.
func TestPyTorchFixtures(t *testing.T) {
	ref, err := OpenPyTorch(tinyPTPath(""))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if ref.Format() != FormatPyTorchZip || ref.Len() != 40 {
		t.Fatalf("tiny-pt: format %s, %d tensors", ref.Format(), ref.Len())
	}
	for _, tc := range []struct {
		variant, format, dtype string
		round                  func(float32) float32
	}{
		{"legacy", FormatPyTorchLegacy, "F32", nil},
		{"views", FormatPyTorchZip, "F32", nil},
		{"f16", FormatPyTorchZip, "F16", func(x float32) float32 { return f16ToF32(f32ToF16(x)) }},
		{"bf16", FormatPyTorchZip, "BF16", func(x float32) float32 { return bf16ToF32(f32ToBF16(x)) }},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			f, err := OpenPyTorch(tinyPTPath(tc.variant))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Format() != tc.format {
				t.Errorf("format %s, want %s", f.Format(), tc.format)
			}
			if !slices.Equal(f.Names(), ref.Names()) {
				t.Fatalf("names %q, want %q", f.Names(), ref.Names())
			}
			for _, n := range ref.Names() {
				want, _ := ref.Tensor(n)
				got, _ := f.Tensor(n)
				if got.DType != tc.dtype || !slices.Equal(got.Shape, want.Shape) || got.Bytes != int64(want.NumElements()*dtypeSizes[tc.dtype]) {
					t.Fatalf("%s: %s %v %d bytes", n, got.DType, got.Shape, got.Bytes)
				}
				data, err := f.Float32(n, want.Shape...)
				if err != nil {
					t.Fatal(err)
				}
				for i, w := range want.Data {
					if tc.round != nil {
						w = tc.round(w)
					}
					if math.Float32bits(data[i]) != math.Float32bits(w) {
						t.Fatalf("%s[%d] = %g, want %g", n, i, data[i], w)
					}
				}
			}
		})
	}
}

// TestPyTorchRefusesPickles: pickles that would run code under Python are
// errors naming the global they ask for, bare or inside a torch zip.
func TestPyTorchRefusesPickles(t *testing.T) {
	for file, global := range map[string]string{
		"evil-os-system.pkl": "posix.system",
		"evil-eval.pkl":      "__builtin__.eval",
		"evil-zip.bin":       "posix.system",
	} {
		data := readFixture(t, filepath.Join("..", "testdata", "pickle", file))
		_, err := ParsePyTorch(file, data)
		if err == nil || !errors.Is(err, ErrGlobalNotAllowed) || !strings.Contains(err.Error(), "global "+global+" is not allowed") {
			t.Errorf("%s: err = %v, want global %s refused", file, err, global)
		}
	}
	// The same globals by STACK_GLOBAL (protocol 4), and in the state dict.
	p := (&pk{}).op(0x80, 4, 0x8c, 2).op([]byte("os")...).op(0x8c, 6).op([]byte("system")...).op(0x93, 0x94, '.')
	if _, err := ParsePyTorch("zip", torchZip(t, "archive", p.Bytes(), nil)); err == nil || !strings.Contains(err.Error(), "global os.system is not allowed") {
		t.Errorf("STACK_GLOBAL os.system: %v", err)
	}
	for _, g := range []struct {
		module, name string
		err          error
	}{
		{"builtins", "getattr", ErrGlobalNotAllowed},
		{"torch._utils", "_rebuild_device_tensor_from_numpy", ErrGlobalNotAllowed},
		{"torch.nn.modules.linear", "Linear", ErrGlobalNotAllowed},
		{"numpy.core.multiarray", "_reconstruct", ErrGlobalNotAllowed},
		{"torch", "load", ErrGlobalNotAllowed},
		{"torch", "_utils._rebuild_tensor_v2", ErrGlobalNotAllowed}, // allowed only as module torch._utils
		// Storages of dtypes the engine cannot use are a dtype error.
		{"torch", "ComplexFloatStorage", ErrUnsupportedDType},
		{"torch", "UntypedStorage", ErrUnsupportedDType},
	} {
		pkl := bytes.Replace(statePickle([]ptTensor{{"w", "0", "FloatStorage", 1, 0, []int{1}, []int{1}}}, false),
			[]byte("ctorch\nFloatStorage\n"), []byte("c"+g.module+"\n"+g.name+"\n"), 1)
		_, err := ParsePyTorch("zip", torchZip(t, "archive", pkl, map[string][]byte{"0": f32Bytes(1)}))
		if !errors.Is(err, g.err) || !strings.Contains(err.Error(), g.module+"."+g.name) {
			t.Errorf("%s.%s: %v", g.module, g.name, err)
		}
	}
}

// TestGlobalNameInErrors: a refused global's name is printed as is when
// it looks like a Python name, quoted and cut short otherwise.
func TestGlobalNameInErrors(t *testing.T) {
	for _, tc := range [][3]string{
		{"posix", "system", "posix.system"},
		{"os", "system\x1b[2J", `"os.system\x1b[2J"`},
		{strings.Repeat("m", 300), "x", `"` + strings.Repeat("m", 64) + `..."`},
	} {
		if got := globalName(tc[0], tc[1]); got != tc[2] {
			t.Errorf("globalName(%q, %q) = %s, want %s", tc[0], tc[1], got, tc[2])
		}
	}
}

// TestPyTorchViews checks offsets, strides, slices, scalars, empty tensors
// and shared storages in both formats, against views computed by hand.
func TestPyTorchViews(t *testing.T) {
	tensors := []ptTensor{
		{"contiguous", "s", "FloatStorage", 24, 4, []int{2, 3}, []int{3, 1}},
		{"transposed", "s", "FloatStorage", 24, 0, []int{3, 2}, []int{1, 3}},
		{"slice", "s", "FloatStorage", 24, 1, []int{2, 2}, []int{6, 1}},
		{"scalar", "s", "FloatStorage", 24, 23, []int{}, []int{}},
		{"empty", "s", "FloatStorage", 24, 0, []int{0, 5}, []int{5, 1}},
		{"unit_dims", "s", "FloatStorage", 24, 2, []int{1, 3, 1}, []int{99, 1, 7}},
		{"half", "h", "HalfStorage", 3, 0, []int{3}, []int{1}},
		{"bf16_transposed", "b", "BFloat16Storage", 6, 2, []int{2, 2}, []int{1, 2}},
		{"ids", "l", "LongStorage", 2, 0, []int{1, 2}, []int{2, 1}},
	}
	want := map[string][]float32{
		"contiguous":      {4, 5, 6, 7, 8, 9},
		"transposed":      {0, 3, 1, 4, 2, 5},
		"slice":           {1, 2, 7, 8},
		"scalar":          {23},
		"empty":           {},
		"unit_dims":       {2, 3, 4},
		"half":            {1, -2, 0.5},
		"bf16_transposed": {3, 5, 4, 6},
	}
	f32 := f32Bytes(iota32(24)...)
	half := []byte{0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38}                                     // 1, -2, 0.5
	bf16 := []byte{0x00, 0x00, 0x80, 0x3f, 0x40, 0x40, 0x80, 0x40, 0xa0, 0x40, 0xc0, 0x40} // 0, 1, 3, 4, 5, 6
	long := make([]byte, 16)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"zip", torchZip(t, "my_model", statePickle(tensors, false), map[string][]byte{"s": f32, "h": half, "b": bf16, "l": long})},
		{"legacy", torchLegacy(statePickle(tensors, true), []legacyStorage{{"s", 24, f32}, {"h", 3, half}, {"b", 6, bf16}, {"l", 2, long}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParsePyTorch(tc.name, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range want {
				got, err := f.Float32(name)
				if err != nil || !slices.Equal(got, w) {
					t.Errorf("%s = %v, %v; want %v", name, got, err, w)
				}
			}
			if tt, _ := f.Tensor("scalar"); len(tt.Shape) != 0 || tt.NumElements() != 1 {
				t.Errorf("scalar shape %v", tt.Shape)
			}
			ids, _ := f.Tensor("ids")
			if _, err := f.Float32("ids"); ids.DType != "I64" || ids.Bytes != 16 || !errors.Is(err, ErrUnsupportedDType) {
				t.Errorf("ids: %s, %d bytes, %v", ids.DType, ids.Bytes, err)
			}
			// A contiguous view aliases its storage: no copy per tensor.
			c, _ := f.Tensor("contiguous")
			s, _ := f.Tensor("unit_dims")
			if &c.Data[0] != &s.Data[2] {
				t.Error("contiguous views of one storage do not share it")
			}
		})
	}
}

// TestPyTorchBadViews: views reaching outside their storage, or holding
// more elements than it (which would let a small file allocate a lot),
// are errors naming the tensor.
func TestPyTorchBadViews(t *testing.T) {
	for _, tc := range []struct {
		t    ptTensor
		want string
	}{
		{ptTensor{"past_end", "s", "FloatStorage", 6, 1, []int{6}, []int{1}}, "past the storage"},
		{ptTensor{"offset_past_end", "s", "FloatStorage", 6, 6, []int{}, []int{}}, "past the storage"},
		{ptTensor{"stride_past_end", "s", "FloatStorage", 6, 0, []int{2, 2}, []int{5, 1}}, "past the storage"},
		{ptTensor{"huge_stride", "s", "FloatStorage", 6, 0, []int{2}, []int{1 << 30}}, "past the storage"},
		{ptTensor{"expanded", "s", "FloatStorage", 6, 0, []int{1000, 6}, []int{0, 1}}, "more elements than its storage"},
		{ptTensor{"rank_mismatch", "s", "FloatStorage", 6, 0, []int{2, 3}, []int{1}}, "differ in length"},
		{ptTensor{"negative_offset", "s", "FloatStorage", 6, -1, []int{1}, []int{1}}, "negative storage offset"},
		{ptTensor{"negative_size", "s", "FloatStorage", 6, 0, []int{-1}, []int{1}}, "non-negative"},
	} {
		data := torchZip(t, "archive", statePickle([]ptTensor{tc.t}, false), map[string][]byte{"s": f32Bytes(iota32(6)...)})
		_, err := ParsePyTorch("bad", data)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "weights: bad: ") {
			t.Errorf("%s: err = %v, want %q", tc.t.name, err, tc.want)
		}
	}
}

// TestPyTorchCorrupt: truncated and damaged checkpoints are errors.
func TestPyTorchCorrupt(t *testing.T) {
	good := torchZip(t, "archive", statePickle([]ptTensor{{"w", "0", "FloatStorage", 4, 0, []int{4}, []int{1}}}, false), map[string][]byte{"0": f32Bytes(1, 2, 3, 4)})
	legacy := torchLegacy(statePickle([]ptTensor{{"w", "0", "FloatStorage", 4, 0, []int{4}, []int{1}}}, true), []legacyStorage{{"0", 4, f32Bytes(1, 2, 3, 4)}})
	for name, data := range map[string][]byte{"zip": good, "legacy": legacy, "fixture-legacy": readFixture(t, tinyPTPath("legacy"))} {
		if _, err := ParsePyTorch(name, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Every prefix of the small files; a spread of them for the fixture.
		step := 1
		if len(data) > 4096 {
			step = len(data)/97 + 1
		}
		for n := 0; n < len(data); n += step {
			if _, err := ParsePyTorch(name, data[:n]); err == nil {
				t.Errorf("%s truncated to %d of %d bytes: no error", name, n, len(data))
			}
		}
	}
	withEntry := func(name string, pkl []byte, storages map[string][]byte) error {
		_, err := ParsePyTorch(name, torchZip(t, "archive", pkl, storages))
		return err
	}
	one := statePickle([]ptTensor{{"w", "0", "FloatStorage", 4, 0, []int{4}, []int{1}}}, false)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"missing storage", withEntry("m", one, nil), "no entry archive/data/0"},
		{"short storage", withEntry("m", one, map[string][]byte{"0": f32Bytes(1, 2, 3)}), "12 bytes, but 4 elements of F32 need 16"},
		{"storage larger than file", withEntry("m", statePickle([]ptTensor{{"w", "0", "FloatStorage", 1 << 30, 0, []int{4}, []int{1}}}, false), nil), "do not fit"},
		{"not a dict", withEntry("m", (&pk{}).op(0x80, 2).str("hello").op('.').Bytes(), nil), "holds a str, want a state dict"},
		{"not a tensor", withEntry("m", (&pk{}).op(0x80, 2, '}').str("x").int(3).op('s', '.').Bytes(), nil), `entry "x" is a int, not a tensor`},
		{"not torch", func() error { _, err := ParsePyTorch("m", []byte("GIF89a")); return err }(), "not a PyTorch checkpoint"},
		{"zip without data.pkl", func() error {
			_, err := ParsePyTorch("m", bytes.Replace(good, []byte("data.pkl"), []byte("data.txt"), -1))
			return err
		}(), "no <folder>/data.pkl"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	// A flipped bit in a stored entry fails its CRC.
	bad := bytes.Clone(good)
	i := bytes.Index(bad, f32Bytes(1, 2, 3, 4))
	bad[i+5] ^= 1
	if _, err := ParsePyTorch("crc", bad); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("flipped storage bit: %v", err)
	}
	// Legacy: element counts disagreeing, trailing bytes, wrong magic.
	for name, data := range map[string][]byte{
		"count":            torchLegacy(statePickle([]ptTensor{{"w", "0", "FloatStorage", 4, 0, []int{4}, []int{1}}}, true), []legacyStorage{{"0", 3, f32Bytes(1, 2, 3)}}),
		"trailing":         append(bytes.Clone(legacy), 0),
		"magic":            bytes.Replace(bytes.Clone(legacy), legacyMagic, make([]byte, len(legacyMagic)), 1),
		"unlisted storage": torchLegacy(statePickle([]ptTensor{{"w", "0", "FloatStorage", 4, 0, []int{4}, []int{1}}}, true), nil),
	} {
		if _, err := ParsePyTorch(name, data); err == nil {
			t.Errorf("legacy %s: no error", name)
		}
	}
}

// TestPyTorchDeflated: an archive repacked with deflate reads the same; a
// zip bomb, whose entries would inflate to far more than the file's size,
// is refused before inflating.
func TestPyTorchDeflated(t *testing.T) {
	one := statePickle([]ptTensor{{"w", "0", "FloatStorage", 4, 0, []int{4}, []int{1}}}, false)
	f, err := ParsePyTorch("deflated", torchZipMethod(t, zip.Deflate, "archive", one, map[string][]byte{"0": f32Bytes(1, 2, 3, 4)}))
	if err != nil {
		t.Fatal(err)
	}
	if w, err := f.Float32("w"); err != nil || !slices.Equal(w, []float32{1, 2, 3, 4}) {
		t.Errorf("w = %v, %v", w, err)
	}
	const n = 1 << 20 // 4 MiB of zeros deflate to a few KiB
	bomb := torchZipMethod(t, zip.Deflate, "archive", statePickle([]ptTensor{{"w", "0", "FloatStorage", n, 0, []int{n}, []int{1}}}, false),
		map[string][]byte{"0": make([]byte, 4*n)})
	if _, err := ParsePyTorch("bomb", bomb); err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Errorf("zip bomb (%d bytes): %v", len(bomb), err)
	}
	bomb = torchZipMethod(t, zip.Deflate, "archive", one, map[string][]byte{"0": make([]byte, 4*n)})
	if _, err := ParsePyTorch("bomb", bomb); err == nil || !strings.Contains(err.Error(), "exceeds 8 times the file's size") {
		t.Errorf("zip bomb entry (%d bytes): %v", len(bomb), err)
	}
}

// TestPickleMachine covers opcodes and limits torch.save's own output does
// not reach.
func TestPickleMachine(t *testing.T) {
	run := func(b []byte) (any, error) {
		r := &torchReader{maxStorageBytes: 1 << 20, storages: map[string]*storageDecl{}}
		v, _, err := unpickle(b, r.hooks())
		return v, err
	}
	// Protocol 4 framing, memoize, short strings, bytes, floats, longs.
	p := (&pk{}).op(0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0).op(']', 0x94, '(')
	p.op(0x8c, 1, 'a').op('C', 2, 1, 2).op('G', 0x3f, 0xf0, 0, 0, 0, 0, 0, 0).op(0x8a, 1, 0xff).op(0x8a, 0).op('K', 7, 'M', 1, 1)
	p.op(0x88, 'N', 'h', 0, 'e', '.')
	v, err := run(p.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	l := v.(*pyList)
	if len(l.items) != 10 || l.items[0] != "a" || !bytes.Equal(l.items[1].([]byte), []byte{1, 2}) || l.items[2] != 1.0 ||
		l.items[3] != int64(-1) || l.items[4] != int64(0) || l.items[5] != int64(7) || l.items[6] != int64(257) || l.items[7] != true || l.items[8] != nil || l.items[9] != l {
		t.Errorf("decoded %#v", l.items)
	}
	deep := bytes.Repeat([]byte{'('}, maxPickleNesting+1)
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"memo miss":         {[]byte{0x80, 2, 'h', 9, '.'}, "memo index 9 was never stored"},
		"huge memo index":   {[]byte{0x80, 2, 'j', 0xff, 0xff, 0xff, 0xff, '.'}, "never stored"},
		"deep nesting":      {append([]byte{0x80, 2}, deep...), "nested deeper"},
		"huge string":       {[]byte{0x80, 2, 'X', 0xff, 0xff, 0xff, 0xff, 'a', '.'}, "bytes needed"},
		"huge string8":      {[]byte{0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '.'}, "bytes needed"},
		"huge long4":        {[]byte{0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0x7f, '.'}, "bytes needed"},
		"bad utf-8":         {[]byte{0x80, 2, 0x8c, 1, 0xff, '.'}, "UTF-8"},
		"no stop":           {[]byte{0x80, 2, 'N'}, "no STOP"},
		"empty stack":       {[]byte{0x80, 2, '.'}, "underflow"},
		"pop past mark":     {[]byte{0x80, 2, 'N', '(', 0x85, '.'}, "underflow"},
		"unknown opcode":    {[]byte{0x80, 2, 'i', '.'}, "opcode 0x69"},
		"protocol 6":        {[]byte{0x80, 6, 'N', '.'}, "protocol 6"},
		"call a string":     {(&pk{}).op(0x80, 2).str("x").op(')', 'R', '.').Bytes(), "call of a str"},
		"append to a tuple": {[]byte{0x80, 2, ')', 'N', 'a', '.'}, "APPEND to a tuple"},
		"unhashable key":    {[]byte{0x80, 2, '}', ']', 'N', 's', '.'}, "dict key of type list"},
		"build a list":      {[]byte{0x80, 2, ']', '}', 'b', '.'}, "BUILD of a list"},
		"bad persid":        {[]byte{0x80, 2, 'N', 'Q', '.'}, "want a 5-tuple"},
		"storage call":      {(&pk{}).op(0x80, 2).global("torch", "FloatStorage").op(')', 'R', '.').Bytes(), "call of a torch.FloatStorage"},
		"OrderedDict args":  {(&pk{}).op(0x80, 2).global("collections", "OrderedDict").op('N', 0x85, 'R', '.').Bytes(), "with 1 arguments"},
		"rebuild bad args":  {(&pk{}).op(0x80, 2).global("torch._utils", "_rebuild_tensor_v2").op(')', 'R', '.').Bytes(), "with 0 arguments"},
	} {
		_, err := run(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

// TestOpenPyTorchErrors: a missing, empty or non-torch file is an error
// naming the file.
func TestOpenPyTorchErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.bin")
	os.WriteFile(empty, nil, 0o644)
	st := filepath.Join(dir, "model.safetensors")
	if err := WriteFile(st, sampleTensors(), nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing.bin"), empty, st, dir} {
		if _, err := OpenPyTorch(p); err == nil || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("%s: err = %v", p, err)
		}
	}
	if f, err := Open(st); err != nil || f.Format() != FormatSafetensors {
		t.Errorf("safetensors: %v", err)
	}
}
