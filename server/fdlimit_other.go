//go:build !unix

package server

// fdLimit is unknown on this platform; the connection caps fall back to
// fixed defaults.
func fdLimit() int { return 0 }
