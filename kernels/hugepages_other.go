//go:build !linux

package kernels

import "unsafe"

const hugePagesSupported = false

func adviseHugePages(unsafe.Pointer, int) {}
