// Package weights reads and writes safetensors files, and reads PyTorch
// checkpoints (pytorch_model.bin) into the same File.
//
// A safetensors file is an 8-byte little-endian header length, a JSON header
// mapping tensor names to {dtype, shape, data_offsets} (plus an optional
// "__metadata__" string map), and a data region holding the raw tensor bytes.
//
// Open memory-maps a file read-only (os.ReadFile on systems without mmap) and
// Parse works on an in-memory slice such as a go:embed'ed model. The header is
// validated strictly: unknown dtypes, unknown or duplicate keys, offsets past
// the end, overlaps, gaps and byte lengths that disagree with the shape are
// all errors, and every error names the file and, where relevant, the tensor.
// No input makes the reader panic.
//
// Boundary decision: inside the engine weights are plain []float32
// (Tensor.Data), which the kernels index directly. Where a gorgonia.org/tensor
// value is wanted, package weights/gorgonia wraps the same slice without
// copying; the service binary does not import it, so it links none of
// gorgonia's dependencies.
//
// F32 data that is 4-byte aligned in memory (the usual case: writers pad the
// header to a multiple of 8) is handed out without copying, as a []float32
// view of the mapped or caller-owned bytes. Such views are read-only (writing
// to a mapped view faults) and become invalid once the File is closed, or,
// for Parse, once the caller modifies the input. Misaligned F32 data, F32 on
// big-endian hosts, and F16/BF16 data are converted into fresh slices at load.
// Other dtypes are listed but have no Data; File.Float32 reports them as
// unsupported.
//
// ParsePyTorch and OpenPyTorch read what torch.save writes, in the zip
// format and in the legacy pre-1.6 one. A checkpoint is a pickle, and
// Python's unpickler imports and calls whatever a pickle names, so loading
// an untrusted one with it runs arbitrary code. This package's unpickler
// never executes anything: it knows the opcodes of protocols 2 to 5 that a
// state dict uses and only the globals one needs (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, _rebuild_tensor and _rebuild_parameter,
// the torch.*Storage classes), and refuses every other global with an error
// naming it (ErrGlobalNotAllowed). Lengths, counts and memo indices are
// checked against the input's size before use and nesting is capped, so a
// crafted file can neither crash the reader nor make it allocate without
// bound. Tensors are handed out as from safetensors: aligned F32 storages
// without copying, F16/BF16 widened, views with offsets aliasing their
// storage and other strided views copied into contiguous slices; File.Format
// tells the formats apart.
//
// Write and WriteFile produce files other safetensors readers accept: keys
// sorted, header padded with spaces to a multiple of 8 bytes, tensors laid
// out in name order, F32 data optionally stored as F16 or BF16 (rounded to
// nearest even).
package weights
