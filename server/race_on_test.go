//go:build race

package server_test

// raceEnabled: the integration tests then build the binary with -race too.
const raceEnabled = true
