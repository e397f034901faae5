//go:build !amd64

package main

import "fmt"

func selftestMain() int {
	fmt.Println("selftest: amd64 only")
	return 1
}
