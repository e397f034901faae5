// Package weights reads and writes safetensors files.
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
// Write and WriteFile produce files other safetensors readers accept: keys
// sorted, header padded with spaces to a multiple of 8 bytes, tensors laid
// out in name order, F32 data optionally stored as F16 or BF16 (rounded to
// nearest even).
package weights
