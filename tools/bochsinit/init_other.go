//go:build !linux

package main

import (
	"fmt"
	"os"
)

func guestInit() {
	fmt.Fprintln(os.Stderr, "bochsinit: the guest init runs on Linux only")
	os.Exit(1)
}
