package kernels

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugePagesSupported = true

// adviseHugePages asks for transparent huge pages for n bytes at p (2 MiB
// aligned, a multiple of 2 MiB, inside one zeroed Go allocation of ours).
// The range is first dropped: if the heap reused memory that is already
// mapped with small pages, the advice alone would not replace them (only
// khugepaged might, much later); dropped anonymous memory reads back as
// zeros, which is what the allocation holds anyway. Errors (a kernel
// without THP) leave ordinary pages: the advice is only an optimisation.
func adviseHugePages(p unsafe.Pointer, n int) {
	b := unsafe.Slice((*byte)(p), n)
	_ = unix.Madvise(b, unix.MADV_DONTNEED)
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
}
