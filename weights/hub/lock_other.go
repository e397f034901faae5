//go:build !unix

package hub

import "context"

// lockFile is a no-op where flock is missing: concurrent downloads of one
// blob are then the user's to avoid.
func lockFile(context.Context, string, func()) (func(), error) { return func() {}, nil }

// freeBytes is unknown here; a full disk is reported by the write.
func freeBytes(string) (int64, error) { return -1, nil }
