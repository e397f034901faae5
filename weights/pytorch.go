package weights

// PyTorch checkpoints (pytorch_model.bin), read without Python.
//
// torch.save pickles the state dict: an OrderedDict of tensors, each
// pickled as a call of torch._utils._rebuild_tensor_v2 on a storage that the
// pickle names by a persistent id ('storage', torch.FloatStorage, key,
// location, numel). The storages' bytes live outside the pickle: in the zip
// format (PyTorch 1.6 and later) as entries <folder>/data/<key> beside
// <folder>/data.pkl, in the legacy format as raw blocks after the pickle.
// The unpickler (pickle.go) admits only the globals listed here, so a
// checkpoint that would run code under Python's pickle is refused with an
// error naming the global it asked for.

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// The formats File.Format reports.
const (
	FormatSafetensors   = "safetensors"
	FormatPyTorchZip    = "pytorch-zip"
	FormatPyTorchLegacy = "pytorch-legacy"
)

// torchStorageDTypes maps torch's storage classes to safetensors dtype
// names. F32, F16 and BF16 are read as float32 (Tensor.Data); the others are
// listed without Data, as the safetensors reader lists integer tensors.
var torchStorageDTypes = map[string]string{
	"FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16",
	"DoubleStorage": "F64", "LongStorage": "I64", "IntStorage": "I32",
	"ShortStorage": "I16", "CharStorage": "I8", "ByteStorage": "U8", "BoolStorage": "BOOL",
}

// otherTorchStorages are torch's storage classes of dtypes a safetensors
// file cannot hold either (complex, quantized, untyped bytes): such a
// checkpoint is reported as having an unsupported dtype.
var otherTorchStorages = map[string]bool{
	"ComplexFloatStorage": true, "ComplexDoubleStorage": true, "QInt8Storage": true, "QUInt8Storage": true,
	"QInt32Storage": true, "QUInt4x2Storage": true, "QUInt2x4Storage": true, "UntypedStorage": true,
}

// legacyMagic is the int the legacy format pickles first
// (0x1950a86a20f9469cfc6c), as LONG1 stores it: little-endian bytes.
var legacyMagic = []byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

const legacyProtocolVersion = 1001

// Values the allowed globals produce inside the unpickler.
type (
	// torchCallable is an allowed function or class: OrderedDict and the
	// tensor rebuilders.
	torchCallable struct{ qualName string }
	// torchStorageType is a storage class such as torch.FloatStorage; it
	// may only appear inside a persistent id.
	torchStorageType struct{ name, dtype string }
	// storageRef is a persistent id resolved: elements [base, base+length)
	// of the storage decl.
	storageRef struct {
		decl         *storageDecl
		base, length int64
	}
	// tensorRef is a tensor as _rebuild_tensor_v2 describes it.
	tensorRef struct {
		storage       *storageRef
		offset        int64
		shape, stride []int64
	}
)

func (c *torchCallable) pyType() string    { return c.qualName }
func (s *torchStorageType) pyType() string { return "torch." + s.name }
func (*storageRef) pyType() string         { return "storage" }
func (*tensorRef) pyType() string          { return "torch.Tensor" }

// storageDecl is one storage of the checkpoint: its dtype and element
// count as the pickle declares them, then its bytes once found.
type storageDecl struct {
	key, dtype string
	numel      int64
	data       []byte
	floats     []float32 // data as float32, for float dtypes
}

// torchReader holds one checkpoint's storages while it is parsed.
type torchReader struct {
	// maxStorageBytes bounds each storage declared: the input's size, or
	// for the zip format what its entries may inflate to.
	maxStorageBytes int64
	// inflateBudget is what deflated zip entries may still inflate to.
	inflateBudget int64
	legacy        bool
	storages      map[string]*storageDecl
	keys          []string // in the order first referenced
}

func (r *torchReader) hooks() pickleHooks {
	return pickleHooks{global: r.global, persistentLoad: r.persistentLoad, reduce: r.reduce, build: r.build}
}

// global is the allow-list: everything else is refused by name.
func (r *torchReader) global(module, name string) (any, error) {
	switch [2]string{module, name} {
	case [2]string{"collections", "OrderedDict"}, [2]string{"torch._utils", "_rebuild_tensor_v2"},
		[2]string{"torch._utils", "_rebuild_tensor"}, [2]string{"torch._utils", "_rebuild_parameter"}:
		return &torchCallable{module + "." + name}, nil
	}
	if module == "torch" {
		if dt, ok := torchStorageDTypes[name]; ok {
			return &torchStorageType{name, dt}, nil
		}
		if otherTorchStorages[name] {
			return nil, fmt.Errorf("storage type torch.%s: %w", name, ErrUnsupportedDType)
		}
	}
	return nil, fmt.Errorf("global %s %w", globalName(module, name), ErrGlobalNotAllowed)
}

// globalName prints module.name for an error: as is when it looks like a
// Python name, else quoted and cut short, so that a crafted pickle cannot
// put control characters or megabytes into a log line.
func globalName(module, name string) string {
	s := module + "." + name
	for _, c := range s {
		if len(s) > 200 || !(c == '.' || c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c)) {
			if len(s) > 64 {
				s = s[:64] + "..."
			}
			return strconv.Quote(s)
		}
	}
	return s
}

func (r *torchReader) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	want := 5
	if r.legacy {
		want = 6
	}
	if !ok || len(t) != want || t[0] != "storage" {
		return nil, fmt.Errorf("a %s, want a %d-tuple ('storage', type, key, location, numel, ...)", describe(pid), want)
	}
	typ, ok := t[1].(*torchStorageType)
	if !ok {
		return nil, fmt.Errorf("storage type is a %s", pyTypeName(t[1]))
	}
	key, ok1 := t[2].(string)
	_, ok2 := t[3].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("storage id (%s, %s, %s), want (str, str, int)", pyTypeName(t[2]), pyTypeName(t[3]), pyTypeName(t[4]))
	}
	if numel < 0 || numel > r.maxStorageBytes/int64(dtypeSizes[typ.dtype]) {
		return nil, fmt.Errorf("storage %q: %d elements of %s do not fit in the file", key, numel, typ.dtype)
	}
	d := r.storages[key]
	if d == nil {
		d = &storageDecl{key: key, dtype: typ.dtype, numel: numel}
		r.storages[key] = d
		r.keys = append(r.keys, key)
	} else if d.dtype != typ.dtype || d.numel != numel {
		return nil, fmt.Errorf("storage %q declared as %d %s and as %d %s", key, d.numel, d.dtype, numel, typ.dtype)
	}
	ref := &storageRef{decl: d, length: numel}
	if r.legacy && t[5] != nil {
		// A view of the storage (never written by PyTorch 1.x, read as
		// torch.load does): (view key, offset, size) in elements.
		v, ok := t[5].(pyTuple)
		if !ok || len(v) != 3 {
			return nil, fmt.Errorf("storage %q: view is a %s, want (key, offset, size)", key, pyTypeName(t[5]))
		}
		off, ok1 := v[1].(int64)
		n, ok2 := v[2].(int64)
		if !ok1 || !ok2 || off < 0 || n < 0 || off > numel || n > numel-off {
			return nil, fmt.Errorf("storage %q: view outside the storage's %d elements", key, numel)
		}
		ref.base, ref.length = off, n
	}
	return ref, nil
}

func (r *torchReader) reduce(fn any, args pyTuple) (any, error) {
	c, ok := fn.(*torchCallable)
	if !ok {
		return nil, fmt.Errorf("call of a %s is not allowed", pyTypeName(fn))
	}
	switch c.qualName {
	case "collections.OrderedDict":
		if len(args) != 0 {
			return nil, fmt.Errorf("%s with %d arguments, want none", c.qualName, len(args))
		}
		return newDict(true), nil
	case "torch._utils._rebuild_parameter":
		// (data, requires_grad, backward_hooks): the parameter is its data.
		if len(args) != 3 {
			return nil, fmt.Errorf("%s with %d arguments, want 3", c.qualName, len(args))
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("%s of a %s, want a tensor", c.qualName, pyTypeName(args[0]))
		}
		return t, nil
	}
	// _rebuild_tensor_v2(storage, storage_offset, size, stride,
	// requires_grad, backward_hooks[, metadata]); _rebuild_tensor has the
	// first four only.
	if c.qualName == "torch._utils._rebuild_tensor" && len(args) != 4 ||
		c.qualName == "torch._utils._rebuild_tensor_v2" && len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("%s with %d arguments", c.qualName, len(args))
	}
	st, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("%s: storage is a %s", c.qualName, pyTypeName(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok {
		return nil, fmt.Errorf("%s: storage offset is a %s", c.qualName, pyTypeName(args[1]))
	}
	shape, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("%s: size: %v", c.qualName, err)
	}
	stride, err := intTuple(args[3])
	if err != nil {
		return nil, fmt.Errorf("%s: stride: %v", c.qualName, err)
	}
	return &tensorRef{storage: st, offset: off, shape: shape, stride: stride}, nil
}

// build accepts BUILD only on an OrderedDict: that is how state_dict()'s
// _metadata attribute (module versions) is pickled. It is ignored.
func (r *torchReader) build(obj, state any) error {
	if d, ok := obj.(*pyDict); ok && d.ordered {
		return nil
	}
	return fmt.Errorf("BUILD of a %s is not supported", pyTypeName(obj))
}

func intTuple(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("a %s, want a tuple of ints", pyTypeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("element %d is not a non-negative int", i)
		}
		out[i] = n
	}
	return out, nil
}

// describeInt prints an int, or names the type of anything else.
func describeInt(v any) string {
	if n, ok := v.(int64); ok {
		return fmt.Sprint(n)
	}
	return "a " + pyTypeName(v)
}

// describe names a value's type, and its first element for a tuple.
func describe(v any) string {
	if t, ok := v.(pyTuple); ok && len(t) > 0 {
		if s, ok := t[0].(string); ok && len(s) <= 32 {
			return fmt.Sprintf("%d-tuple starting %q", len(t), s)
		}
	}
	return pyTypeName(v)
}

// ParsePyTorch parses a checkpoint written by torch.save and held in data,
// in either format; name is used in errors. The state dict's tensors are
// read as Parse reads safetensors: F32 aliases data where it is aligned,
// F16 and BF16 are widened, other dtypes are listed without Data. Views
// (offsets, strides, shared storages) are resolved: a contiguous view
// aliases its storage, any other is copied into a contiguous slice.
func ParsePyTorch(name string, data []byte) (*File, error) {
	f := &File{Name: name}
	r := &torchReader{storages: map[string]*storageDecl{}}
	var err error
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		f.format = FormatPyTorchZip
		r.inflateBudget = maxInflation * int64(len(data))
		r.maxStorageBytes = r.inflateBudget
		err = r.parseZip(f, data)
	case len(data) > 0 && data[0] == 0x80:
		f.format = FormatPyTorchLegacy
		r.legacy = true
		r.maxStorageBytes = int64(len(data))
		err = r.parseLegacy(f, data)
	default:
		err = errors.New("not a PyTorch checkpoint: neither a zip archive nor a pickle")
	}
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", name, err)
	}
	return f, nil
}

func (r *torchReader) parseZip(f *File, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return fmt.Errorf("zip: %v", err)
	}
	entries := make(map[string]*zip.File, len(zr.File))
	var pkl *zip.File
	var folder string
	for _, zf := range zr.File {
		if entries[zf.Name] != nil {
			return fmt.Errorf("zip: entry %q appears twice", zf.Name)
		}
		entries[zf.Name] = zf
		if dir, base := path.Split(zf.Name); base == "data.pkl" && strings.Count(dir, "/") == 1 && dir != "/" {
			if pkl != nil {
				return fmt.Errorf("zip: two state pickles, %s and %s", pkl.Name, zf.Name)
			}
			pkl, folder = zf, dir
		}
	}
	if pkl == nil {
		return errors.New("zip: no <folder>/data.pkl: not a torch.save checkpoint")
	}
	if zf := entries[folder+"byteorder"]; zf != nil {
		b, err := r.readZipEntry(data, zf)
		if err != nil {
			return err
		}
		if string(b) != "little" {
			return fmt.Errorf("byte order %q is not supported (want little)", b)
		}
	}
	p, err := r.readZipEntry(data, pkl)
	if err != nil {
		return err
	}
	obj, _, err := unpickle(p, r.hooks())
	if err != nil {
		return fmt.Errorf("%s: %w", pkl.Name, err)
	}
	names, refs, err := stateDict(obj)
	if err != nil {
		return err
	}
	for _, key := range r.keys {
		d := r.storages[key]
		zf := entries[folder+"data/"+key]
		if zf == nil {
			return fmt.Errorf("storage %q: no entry %sdata/%s", key, folder, key)
		}
		b, err := r.readZipEntry(data, zf)
		if err != nil {
			return err
		}
		if want := d.numel * int64(dtypeSizes[d.dtype]); int64(len(b)) != want {
			return fmt.Errorf("storage %q: %s is %d bytes, but %d elements of %s need %d", key, zf.Name, len(b), d.numel, d.dtype, want)
		}
		d.data = b
	}
	return r.fill(f, names, refs)
}

// maxInflation bounds how many bytes the deflated entries of a checkpoint
// may inflate to, as a multiple of the file's size. torch.save stores its
// entries uncompressed and float data barely compresses, so only a zip bomb
// comes near it.
const maxInflation = 8

// readZipEntry returns an entry's bytes: a stored entry (what torch.save
// writes) as a slice of data after checking its CRC, a deflated one (from
// an archive repacked by other tools) inflated within maxInflation.
func (r *torchReader) readZipEntry(data []byte, zf *zip.File) ([]byte, error) {
	size := zf.UncompressedSize64
	if zf.CompressedSize64 > uint64(len(data)) {
		return nil, fmt.Errorf("zip: entry %s: %d compressed bytes in a %d-byte file", zf.Name, zf.CompressedSize64, len(data))
	}
	switch zf.Method {
	case zip.Store:
		off, err := zf.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("zip: entry %s: %v", zf.Name, err)
		}
		if size != zf.CompressedSize64 || off < 0 || off > int64(len(data)) || size > uint64(int64(len(data))-off) {
			return nil, fmt.Errorf("zip: entry %s: %d bytes at offset %d do not fit in the file", zf.Name, size, off)
		}
		b := data[off : off+int64(size) : off+int64(size)]
		if crc32.ChecksumIEEE(b) != zf.CRC32 {
			return nil, fmt.Errorf("zip: entry %s: checksum mismatch (corrupt file)", zf.Name)
		}
		return b, nil
	case zip.Deflate:
		if size > uint64(r.inflateBudget) {
			return nil, fmt.Errorf("zip: entry %s: %d bytes inflated from %d exceeds %d times the file's size", zf.Name, size, zf.CompressedSize64, maxInflation)
		}
		r.inflateBudget -= int64(size)
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("zip: entry %s: %v", zf.Name, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, int64(size)+1))
		if err != nil {
			return nil, fmt.Errorf("zip: entry %s: %v", zf.Name, err)
		}
		if uint64(len(b)) != size {
			return nil, fmt.Errorf("zip: entry %s: %d bytes, header says %d", zf.Name, len(b), size)
		}
		return b, nil
	}
	return nil, fmt.Errorf("zip: entry %s: compression method %d is not supported", zf.Name, zf.Method)
}

// parseLegacy reads the pre-1.6 format: five pickles (magic number,
// protocol version, sys info, the state dict, the storage keys) and then
// each storage in key order as an 8-byte element count and its bytes.
func (r *torchReader) parseLegacy(f *File, data []byte) error {
	pos := 0
	next := func(what string, hooks pickleHooks) (any, error) {
		v, n, err := unpickle(data[pos:], hooks)
		if err != nil {
			return nil, fmt.Errorf("legacy format: %s at byte %d: %w", what, pos, err)
		}
		pos += n
		return v, nil
	}
	// The other pickles hold plain data, but are read with the same
	// allow-list (less persistent ids), so that a refused global is named
	// wherever it appears.
	plain := r.hooks()
	plain.persistentLoad = nil
	magic, err := next("magic number", plain)
	if err != nil {
		return err
	}
	if b, ok := magic.(*pyBigInt); !ok || !bytes.Equal(b.le, legacyMagic) {
		return errors.New("legacy format: wrong magic number: not a torch.save checkpoint")
	}
	proto, err := next("protocol version", plain)
	if err != nil {
		return err
	}
	if n, ok := proto.(int64); !ok || n != legacyProtocolVersion {
		return fmt.Errorf("legacy format: protocol version is %s, want %d", describeInt(proto), legacyProtocolVersion)
	}
	info, err := next("sys info", plain)
	if err != nil {
		return err
	}
	if d, ok := info.(*pyDict); !ok {
		return fmt.Errorf("legacy format: sys info is a %s, want a dict", pyTypeName(info))
	} else if i, ok := d.index["little_endian"]; ok && d.vals[i] != true {
		return errors.New("legacy format: big-endian checkpoints are not supported")
	}
	obj, err := next("state dict", r.hooks())
	if err != nil {
		return err
	}
	names, refs, err := stateDict(obj)
	if err != nil {
		return err
	}
	keysObj, err := next("storage keys", plain)
	if err != nil {
		return err
	}
	keys, ok := keysObj.(*pyList)
	if !ok {
		return fmt.Errorf("legacy format: storage keys are a %s, want a list", pyTypeName(keysObj))
	}
	seen := map[string]bool{}
	for _, k := range keys.items {
		key, ok := k.(string)
		if !ok {
			return fmt.Errorf("legacy format: storage key is a %s, want a str", pyTypeName(k))
		}
		d := r.storages[key]
		if d == nil || seen[key] {
			return fmt.Errorf("legacy format: storage %q listed twice or used by no tensor", key)
		}
		seen[key] = true
		if len(data)-pos < 8 {
			return fmt.Errorf("legacy format: storage %q: truncated at byte %d", key, pos)
		}
		n := binary.LittleEndian.Uint64(data[pos:])
		pos += 8
		if n != uint64(d.numel) {
			return fmt.Errorf("legacy format: storage %q has %d elements, the state dict says %d", key, n, d.numel)
		}
		size := d.numel * int64(dtypeSizes[d.dtype])
		if size > int64(len(data)-pos) {
			return fmt.Errorf("legacy format: storage %q: %d bytes needed at byte %d, %d left (truncated file)", key, size, pos, len(data)-pos)
		}
		d.data = data[pos : pos+int(size) : pos+int(size)]
		pos += int(size)
	}
	for _, key := range r.keys {
		if !seen[key] {
			return fmt.Errorf("legacy format: storage %q is not in the storage keys", key)
		}
	}
	if pos != len(data) {
		return fmt.Errorf("legacy format: %d trailing bytes after the last storage", len(data)-pos)
	}
	return r.fill(f, names, refs)
}

// stateDict checks that the pickled object is a dict of str → tensor.
func stateDict(obj any) ([]string, []*tensorRef, error) {
	d, ok := obj.(*pyDict)
	if !ok {
		return nil, nil, fmt.Errorf("checkpoint holds a %s, want a state dict (a dict of tensors)", pyTypeName(obj))
	}
	names := make([]string, len(d.keys))
	refs := make([]*tensorRef, len(d.keys))
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, nil, fmt.Errorf("state dict key %d is a %s, want a str", i, pyTypeName(k))
		}
		t, ok := d.vals[i].(*tensorRef)
		if !ok {
			return nil, nil, fmt.Errorf("state dict entry %q is a %s, not a tensor", name, pyTypeName(d.vals[i]))
		}
		names[i], refs[i] = name, t
	}
	return names, refs, nil
}

// fill resolves every tensor against its storage's bytes and sets f's
// tensors. A non-contiguous view is copied; so that a crafted file cannot
// make the reader allocate without bound, the copies together may hold no
// more elements than the storages.
func (r *torchReader) fill(f *File, names []string, refs []*tensorRef) error {
	var budget int64
	for _, d := range r.storages {
		budget += d.numel
		if isFloat(d.dtype) {
			d.floats = toFloat32(d.dtype, d.data)
		}
	}
	f.tensors = make(map[string]*Tensor, len(names))
	f.names = make([]string, 0, len(names))
	for i, name := range names {
		t, copied, err := resolveTensor(name, refs[i], budget)
		if err != nil {
			return err
		}
		budget -= copied
		f.tensors[name] = t
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)
	return nil
}

// resolveTensor checks a tensor's view against its storage and returns it,
// with the number of elements it copied. Copies may not exceed budget.
func resolveTensor(name string, ref *tensorRef, budget int64) (*Tensor, int64, error) {
	st, d := ref.storage, ref.storage.decl
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("tensor %q: "+format, append([]any{name}, args...)...)
	}
	if len(ref.shape) != len(ref.stride) {
		return nil, 0, errorf("size %v and stride %v differ in length", ref.shape, ref.stride)
	}
	if ref.offset < 0 {
		return nil, 0, errorf("negative storage offset %d", ref.offset)
	}
	// Elements, and the last one's index, both bounded by the storage
	// (a view with more elements than its storage repeats some, which no
	// state dict needs): no overflow, since every term is checked first.
	numel := int64(1)
	for _, n := range ref.shape {
		if n == 0 {
			numel = 0
			break
		}
	}
	last := ref.offset
	if numel != 0 {
		for i, n := range ref.shape {
			if n > st.length/numel {
				return nil, 0, errorf("size %v has more elements than its storage (%d)", ref.shape, st.length)
			}
			numel *= n
			if s := ref.stride[i]; n > 1 && s > 0 {
				if n-1 > st.length/s {
					return nil, 0, errorf("size %v, stride %v reach past the storage's %d elements", ref.shape, ref.stride, st.length)
				}
				last += (n - 1) * s
			}
			if last >= st.length {
				return nil, 0, errorf("size %v, stride %v, offset %d reach past the storage's %d elements", ref.shape, ref.stride, ref.offset, st.length)
			}
		}
		if last >= st.length {
			return nil, 0, errorf("offset %d past the storage's %d elements", ref.offset, st.length)
		}
	}
	shape := make([]int, len(ref.shape))
	for i, n := range ref.shape {
		if n > math.MaxInt {
			return nil, 0, errorf("size %v overflows int", ref.shape)
		}
		shape[i] = int(n)
	}
	t := &Tensor{Name: name, DType: d.dtype, Shape: shape, Bytes: numel * int64(dtypeSizes[d.dtype])}
	if d.floats == nil {
		return t, 0, nil
	}
	if numel == 0 {
		t.Data = []float32{}
		return t, 0, nil
	}
	src := d.floats[st.base : st.base+st.length]
	if contiguous(ref.shape, ref.stride) {
		lo, hi := ref.offset, ref.offset+numel
		t.Data = src[lo:hi:hi]
		return t, 0, nil
	}
	if numel > budget {
		return nil, 0, errorf("copying this view would exceed the checkpoint's own size")
	}
	t.Data = gather(src, ref.offset, ref.shape, ref.stride, numel)
	return t, numel, nil
}

// contiguous reports whether a view is row-major without gaps, ignoring
// the strides of dimensions of size 1 as torch does.
func contiguous(shape, stride []int64) bool {
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// gather copies a strided view into a fresh row-major slice.
func gather(src []float32, offset int64, shape, stride []int64, numel int64) []float32 {
	out := make([]float32, numel)
	idx := make([]int64, len(shape))
	pos := offset
	for j := range out {
		out[j] = src[pos]
		// Odometer increment over the dimensions, last fastest.
		for k := len(shape) - 1; k >= 0; k-- {
			idx[k]++
			pos += stride[k]
			if idx[k] < shape[k] {
				break
			}
			pos -= idx[k] * stride[k]
			idx[k] = 0
		}
	}
	return out
}
