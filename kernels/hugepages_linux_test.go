package kernels

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestHugeSliceAdvised checks that a large weight buffer starts on a 2 MiB
// boundary, holds zeros, and that the kernel recorded the huge-page advice
// for its whole pages (VmFlags "hg" in /proc/self/smaps): whether huge
// pages then back it depends on the system's THP setting and free memory,
// not on us.
func TestHugeSliceAdvised(t *testing.T) {
	if !kernelRecordsHugePageAdvice(t) {
		t.Skip("this kernel (or emulator, e.g. qemu-user) does not record MADV_HUGEPAGE in smaps")
	}
	for _, n := range []int{hugePageSize/4 - 1, hugePageSize/4 + 12345, 5 * hugePageSize / 4} {
		s := hugeSlice[float32](n)
		if len(s) != n || cap(s) != n {
			t.Fatalf("n=%d: len %d cap %d", n, len(s), cap(s))
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("n=%d: s[%d] = %v, want 0", n, i, v)
			}
		}
		addr := uintptr(unsafe.Pointer(&s[0]))
		if 4*n < hugePageSize {
			if flags := vmFlags(t, addr); strings.Contains(flags, " hg") {
				t.Errorf("n=%d (less than a huge page) advised: %q", n, flags)
			}
			continue
		}
		if addr%hugePageSize != 0 {
			t.Errorf("n=%d: starts at %#x, not on a 2 MiB boundary", n, addr)
		}
		for off := uintptr(0); off+hugePageSize <= uintptr(4*n); off += hugePageSize {
			if flags := vmFlags(t, addr+off); !strings.Contains(flags, " hg") {
				t.Errorf("n=%d: huge page at +%d MiB not advised: %q", n, off>>20, flags)
			}
		}
		s[n-1] = 1 // the tail past the last whole huge page is ours too
	}
	q := hugeSlice[int8](3 * hugePageSize)
	if addr := uintptr(unsafe.Pointer(&q[0])); addr%hugePageSize != 0 || !strings.Contains(vmFlags(t, addr), " hg") {
		t.Errorf("int8 slice at %#x not aligned and advised", addr)
	}
}

// kernelRecordsHugePageAdvice reports whether advice given to a fresh
// mapping of our own shows up in its VmFlags, which is what the test
// checks of hugeSlice's memory.
func kernelRecordsHugePageAdvice(t *testing.T) bool {
	b, err := unix.Mmap(-1, 0, 2*hugePageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	if err := unix.Madvise(b, unix.MADV_HUGEPAGE); err != nil {
		return false
	}
	return strings.Contains(vmFlags(t, uintptr(unsafe.Pointer(&b[0]))), " hg")
}

// vmFlags returns the VmFlags line of the mapping that holds addr.
func vmFlags(t *testing.T, addr uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := mappingRange(line); ok {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimPrefix(line, "VmFlags:")
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return ""
}

// mappingRange parses the address range of a smaps mapping header line.
func mappingRange(line string) (lo, hi uintptr, ok bool) {
	r, _, found := strings.Cut(line, " ")
	a, b, found2 := strings.Cut(r, "-")
	if !found || !found2 {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(a, 16, 64)
	h, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}

func TestParseHugePages(t *testing.T) {
	for v, want := range map[string]bool{"": true, "1": true, " on ": true, "0": false, "off": false, "false": false} {
		if got, err := parseHugePages(v); err != nil || got != want {
			t.Errorf("parseHugePages(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"yes please", "2", "no"} {
		if _, err := parseHugePages(v); err == nil || !strings.Contains(err.Error(), HugePagesEnvVar) {
			t.Errorf("parseHugePages(%q): error %v, want one naming %s", v, err, HugePagesEnvVar)
		}
	}
}
