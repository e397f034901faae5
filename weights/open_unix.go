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
func Open(path string) (*File, error) {
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
	case size < 8: // also avoids mmap of length 0, which fails
		return nil, fmt.Errorf("weights: %s: file is %d bytes, too short for the 8-byte header length", path, size)
	case size > math.MaxInt:
		return nil, fmt.Errorf("weights: %s: file is %d bytes, too large to map", path, size)
	}
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: mmap: %v", path, err)
	}
	f, err := Parse(path, data)
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
