//go:build noengine

package main

import "errors"

// engineRun is left out of `-tags noengine` builds: a plain HTTP load
// generator a fifth the size, for machines where only the service is under test.
func engineRun(*options, []string) (Result, error) {
	return Result{}, errors.New("-engine: this loadtest was built with -tags noengine")
}
