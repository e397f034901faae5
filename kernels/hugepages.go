package kernels

import (
	"sync/atomic"
	"unsafe"
)

// A batch-1 pass of a few tokens streams every weight from memory once.
// On 4 KiB pages that is a TLB miss every 4 KiB, each stalling the
// prefetches that keep the stream going; on 2 MiB pages there are 512
// times fewer. Linux gives transparent huge pages to memory that asks for
// them (the common "madvise" setting), so large packed weights are laid
// on 2 MiB boundaries and advised before anything touches them (see
// docs/PERFORMANCE.md for what it gained where).
const hugePageSize = 2 << 20

// useHugePages is Settings.HugePages (Configure sets it).
var useHugePages = func() *atomic.Bool {
	var b atomic.Bool
	b.Store(true)
	return &b
}()

// hugeSlice returns a zeroed slice of n elements whose whole 2 MiB pages
// are advised as huge pages (where the OS supports them). Small slices
// are plain make: they would get no whole huge page.
//
// The slice is the aligned middle of an allocation 2 MiB longer; we never
// touch that extra address space, so on fresh heap memory it costs none.
func hugeSlice[T any](n int) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if !hugePagesSupported || !useHugePages.Load() || n*size < hugePageSize {
		return make([]T, n)
	}
	s := make([]T, n+hugePageSize/size)
	// Large Go allocations start on a page boundary, so the distance to
	// the next 2 MiB boundary is a whole number of elements.
	addr := uintptr(unsafe.Pointer(&s[0]))
	skip := int(-addr&(hugePageSize-1)) / size
	s = s[skip : skip+n : skip+n]
	adviseHugePages(unsafe.Pointer(&s[0]), n*size/hugePageSize*hugePageSize)
	return s
}
