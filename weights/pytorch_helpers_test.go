package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Builders for checkpoints in the layouts torch.save writes, so that tests
// and fuzz seeds can describe small state dicts, views and corruptions that
// the fixtures (written by torch itself) do not cover.

// pk emits pickle opcodes.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pk) int(n int) *pk {
	p.WriteByte('J')
	binary.Write(&p.Buffer, binary.LittleEndian, int32(n))
	return p
}

func (p *pk) global(module, name string) *pk {
	p.WriteString("c" + module + "\n" + name + "\n")
	return p
}

func (p *pk) ints(v []int) *pk {
	p.op('(')
	for _, n := range v {
		p.int(n)
	}
	return p.op('t')
}

// ptTensor is one state dict entry: a view of storage key.
type ptTensor struct {
	name, key, storageType string
	numel                  int // the storage's elements
	offset                 int
	shape, stride          []int
}

// statePickle pickles tensors as torch.save pickles a state dict: an
// OrderedDict of _rebuild_tensor_v2 calls on persistent ids, with a
// _metadata attribute set by BUILD.
func statePickle(tensors []ptTensor, legacy bool) []byte {
	p := &pk{}
	p.op(0x80, 2).global("collections", "OrderedDict").op('q', 0, ')', 'R', '(')
	for _, t := range tensors {
		p.str(t.name).global("torch._utils", "_rebuild_tensor_v2").op('(', '(')
		p.str("storage").global("torch", t.storageType).str(t.key).str("cpu").int(t.numel)
		if legacy {
			p.op('N')
		}
		p.op('t', 'Q').int(t.offset).ints(t.shape).ints(t.stride).op(0x89)
		p.op('h', 0, ')', 'R', 't', 'R')
	}
	p.op('u', '}').str("_metadata").op('h', 0, ')', 'R', 's', 'b', '.')
	return p.Bytes()
}

// torchZip writes the zip format: folder/data.pkl, folder/data/<key> and
// folder/version, stored uncompressed as torch.save does.
func torchZip(t testing.TB, folder string, pkl []byte, storages map[string][]byte) []byte {
	return torchZipMethod(t, zip.Store, folder, pkl, storages)
}

// torchZipMethod is torchZip with another compression method, as a tool
// repacking the archive might write it.
func torchZipMethod(t testing.TB, method uint16, folder string, pkl []byte, storages map[string][]byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	add := func(name string, data []byte) {
		f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	add(folder+"/data.pkl", pkl)
	keys := make([]string, 0, len(storages))
	for k := range storages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(folder+"/data/"+k, storages[k])
	}
	add(folder+"/version", []byte("3\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// legacyStorage is a storage of the legacy format: element count and bytes.
type legacyStorage struct {
	key   string
	numel int
	data  []byte
}

// torchLegacy writes the pre-1.6 format: magic number, protocol version and
// sys info pickles, the state dict pickle, the storage keys, the storages.
func torchLegacy(pkl []byte, storages []legacyStorage) []byte {
	p := &pk{}
	p.op(0x80, 2, 0x8a, byte(len(legacyMagic))).op(legacyMagic...).op('.')
	p.op(0x80, 2, 'M', 0xe9, 0x03, '.') // 1001
	p.op(0x80, 2, '}', '(').str("protocol_version").op('M', 0xe9, 0x03).str("little_endian").op(0x88).op('u', '.')
	p.Write(pkl)
	p.op(0x80, 2, ']', '(')
	for _, s := range storages {
		p.str(s.key)
	}
	p.op('e', '.')
	for _, s := range storages {
		binary.Write(&p.Buffer, binary.LittleEndian, uint64(s.numel))
		p.Write(s.data)
	}
	return p.Bytes()
}

func f32Bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func iota32(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return v
}

const tinyPTDir = "../testdata/models"

// tinyPTPath is the pytorch_model.bin of a tiny-pt fixture: "" for the
// zip F32 one, or legacy, f16, bf16, views.
func tinyPTPath(variant string) string {
	if variant == "" {
		return filepath.Join(tinyPTDir, "tiny-pt", "pytorch_model.bin")
	}
	return filepath.Join(tinyPTDir, "tiny-pt-variants", variant, "pytorch_model.bin")
}

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
