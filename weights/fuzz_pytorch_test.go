package weights

import (
	"archive/zip"
	"bytes"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type pickleSeed struct {
	data   []byte
	legacy bool // persistent ids in the legacy format's shape
}

// pickleSeeds are the state dict pickles torch.save wrote for the fixtures
// (zip and legacy), crafted ones and the refused payloads.
func pickleSeeds(t testing.TB) []pickleSeed {
	var seeds []pickleSeed
	for _, variant := range []string{"", "views", "f16"} {
		data := readFixture(t, tinyPTPath(variant))
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, zf := range zr.File {
			if strings.HasSuffix(zf.Name, "/data.pkl") {
				rc, err := zf.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				if err != nil {
					t.Fatal(err)
				}
				seeds = append(seeds, pickleSeed{b, false})
			}
		}
	}
	// The legacy fixture's state dict: its fourth pickle.
	legacy := readFixture(t, tinyPTPath("legacy"))
	pos := 0
	for i := 0; i < 4; i++ {
		r := &torchReader{maxStorageBytes: int64(len(legacy)), legacy: true, storages: map[string]*storageDecl{}}
		_, n, err := unpickle(legacy[pos:], r.hooks())
		if err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			seeds = append(seeds, pickleSeed{legacy[pos : pos+n], true})
		}
		pos += n
	}
	seeds = append(seeds, pickleSeed{statePickle(viewSeedTensors, false), false}, pickleSeed{statePickle(viewSeedTensors, true), true})
	for _, name := range []string{"evil-os-system.pkl", "evil-eval.pkl"} {
		seeds = append(seeds, pickleSeed{readFixture(t, filepath.Join("..", "testdata", "pickle", name)), false})
	}
	return seeds
}

var viewSeedTensors = []ptTensor{
	{"w", "s", "FloatStorage", 12, 0, []int{3, 2}, []int{1, 3}},
	{"b", "s", "FloatStorage", 12, 6, []int{6}, []int{1}},
	{"h", "h", "HalfStorage", 2, 1, []int{}, []int{}},
	{"i", "l", "LongStorage", 1, 0, []int{1}, []int{1}},
}

// checkpointSeeds are small whole checkpoints in both formats plus the
// refused ones.
func checkpointSeeds(t testing.TB) [][]byte {
	storages := map[string][]byte{"s": f32Bytes(iota32(12)...), "h": {0, 0x3c, 0, 0xc0}, "l": make([]byte, 8)}
	return [][]byte{
		torchZip(t, "archive", statePickle(viewSeedTensors, false), storages),
		torchLegacy(statePickle(viewSeedTensors, true), []legacyStorage{{"s", 12, storages["s"]}, {"h", 2, storages["h"]}, {"l", 1, storages["l"]}}),
		readFixture(t, filepath.Join("..", "testdata", "pickle", "evil-zip.bin")),
		readFixture(t, filepath.Join("..", "testdata", "pickle", "evil-os-system.pkl")),
	}
}

// FuzzPickle runs the unpickler with the checkpoint allow-list over
// arbitrary bytes; state dicts it accepts are resolved against zeroed
// storages (when small) and must come out consistent.
func FuzzPickle(f *testing.F) {
	for _, s := range pickleSeeds(f) {
		f.Add(s.data, s.legacy)
	}
	f.Fuzz(func(t *testing.T, data []byte, legacy bool) {
		// A large nominal size: storages are declared, never read here.
		r := &torchReader{maxStorageBytes: 1 << 40, legacy: legacy, storages: map[string]*storageDecl{}}
		v, _, err := unpickle(data, r.hooks())
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pickle: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		names, refs, err := stateDict(v)
		if err != nil {
			return
		}
		var total int64
		for _, d := range r.storages {
			total += d.numel * int64(dtypeSizes[d.dtype])
		}
		if total > 1<<16 {
			return
		}
		for _, d := range r.storages {
			d.data = make([]byte, d.numel*int64(dtypeSizes[d.dtype]))
		}
		file := &File{Name: "fuzz", format: FormatPyTorchZip}
		if err := r.fill(file, names, refs); err == nil {
			checkPyTorchFile(t, file)
		}
	})
}

// FuzzPyTorch parses arbitrary bytes as a checkpoint in either format.
func FuzzPyTorch(f *testing.F) {
	for _, s := range checkpointSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParsePyTorch("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "weights: fuzz: ") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		if file.Format() != FormatPyTorchZip && file.Format() != FormatPyTorchLegacy {
			t.Fatalf("format %q", file.Format())
		}
		checkPyTorchFile(t, file)
	})
}

// checkPyTorchFile asserts what every parsed checkpoint satisfies. Unlike
// safetensors, tensors may share storage, so their bytes may add up to
// more than the file.
func checkPyTorchFile(t *testing.T, f *File) {
	names := f.Names()
	if len(names) != f.Len() || !sort.StringsAreSorted(names) {
		t.Fatalf("Names %q, Len %d", names, f.Len())
	}
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			t.Fatalf("duplicate name %q", n)
		}
		tt, ok := f.Tensor(n)
		if !ok || tt.Name != n {
			t.Fatalf("Tensor(%q) = %v, %v", n, tt, ok)
		}
		size, known := dtypeSizes[tt.DType]
		numel := tt.NumElements()
		if !known || numel < 0 || tt.Bytes != int64(numel)*int64(size) {
			t.Fatalf("%q: %d elements of %s in %d bytes", n, numel, tt.DType, tt.Bytes)
		}
		if isFloat(tt.DType) != (tt.Data != nil) || tt.Data != nil && len(tt.Data) != numel {
			t.Fatalf("%q: %s with %d elements has len(Data) %d", n, tt.DType, numel, len(tt.Data))
		}
	}
}

// TestPyTorchFuzzSeeds runs the fuzz bodies' checks on the seeds in plain
// test runs, and checks that the valid seeds parse.
func TestPyTorchFuzzSeeds(t *testing.T) {
	for i, s := range pickleSeeds(t) {
		r := &torchReader{maxStorageBytes: 1 << 40, legacy: s.legacy, storages: map[string]*storageDecl{}}
		v, _, err := unpickle(s.data, r.hooks())
		if i < 6 { // the fixtures' and the crafted state dicts
			if err != nil {
				t.Fatalf("pickle seed %d: %v", i, err)
			}
			if _, _, err := stateDict(v); err != nil {
				t.Errorf("pickle seed %d: %v", i, err)
			}
		} else if err == nil {
			t.Errorf("refused pickle seed %d accepted", i)
		}
	}
	for i, s := range checkpointSeeds(t) {
		f, err := ParsePyTorch("seed", s)
		if (err == nil) != (i < 2) {
			t.Errorf("checkpoint seed %d: err = %v", i, err)
		}
		if err == nil {
			checkPyTorchFile(t, f)
		}
	}
}
