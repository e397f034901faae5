//go:build unix

package server

import "golang.org/x/sys/unix"

// fdLimit is the process's soft limit on open files (0: unknown). The Go
// runtime raises the soft limit to the hard one at start-up.
func fdLimit() int {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
