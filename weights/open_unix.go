//go:build unix

package weights

import (
	"fmt"
	"math"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Open memory-maps the safetensors file at path read-only and parses it.
// Aligned F32 tensors point into the mapping until Close. The file must not
// be truncated while mapped (reads would fault).
func Open(path string) (*File, error) { return openMapped(path, Parse, 8) }

// OpenPyTorch memory-maps a torch.save checkpoint (pytorch_model.bin) and
// parses it with ParsePyTorch; as with Open, aligned F32 tensors point into
// the mapping until Close.
func OpenPyTorch(path string) (*File, error) { return openMapped(path, ParsePyTorch, 1) }

// openMapped maps the file at path and parses it with parse. Files shorter
// than minSize are refused before mapping (mmap of length 0 fails).
func openMapped(path string, parse func(string, []byte) (*File, error), minSize int64) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %v", err)
	}
	defer fd.Close() // the mapping outlives the descriptor
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("weights: %v", err)
	}
	size := st.Size()
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("weights: %s: not a regular file", path)
	case size < minSize:
		_, err := parse(path, make([]byte, size)) // the parser's own message for a short file
		return nil, err
	case size > math.MaxInt:
		return nil, fmt.Errorf("weights: %s: file is %d bytes, too large to map", path, size)
	}
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: mmap: %v", path, err)
	}
	f, err := parse(path, data)
	if err != nil {
		unix.Munmap(data)
		return nil, err
	}
	f.unmap = func() error { return unix.Munmap(data) }
	base := uintptr(unsafe.Pointer(&data[0]))
	f.evict = func(b []float32) {
		// Only whole pages inside both the tensor and the mapping: a page
		// shared with a neighbouring tensor must stay.
		start := uintptr(unsafe.Pointer(&b[0]))
		end := start + uintptr(len(b))*4
		if start < base || end > base+uintptr(len(data)) {
			return // not in this mapping (converted or copied)
		}
		page := uintptr(os.Getpagesize())
		lo, hi := (start+page-1)&^(page-1), end&^(page-1)
		if hi > lo {
			unix.Madvise(data[lo-base:hi-base], unix.MADV_DONTNEED)
		}
	}
	return f, nil
}
