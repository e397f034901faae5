package server

import (
	"regexp"
	"testing"
)

func TestTraceID(t *testing.T) {
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct{ header, want string }{
		{"00-" + trace + "-00f067aa0ba902b7-01", trace},
		{"00-" + trace + "-00f067aa0ba902b7-00", trace},
		{"01-" + trace + "-00f067aa0ba902b7-01-future", trace}, // a later version may add fields
		{"00-" + trace + "-00f067aa0ba902b7-01-extra", ""},     // version 00 may not
		{"ff-" + trace + "-00f067aa0ba902b7-01", ""},
		{"00-" + "4BF92F3577B34DA6A3CE929D0E0E4736" + "-00f067aa0ba902b7-01", ""},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"00-" + trace + "-0000000000000000-01", ""},
		{"00-" + trace + "-00f067aa0ba902b7-0", ""},
		{"00_" + trace + "-00f067aa0ba902b7-01", ""},
		{"00-" + trace[:31] + "g-00f067aa0ba902b7-01", ""},
		{"", ""},
	} {
		if got := traceID([]byte(tc.header)); got != tc.want {
			t.Errorf("traceID(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

// FuzzTraceID: any header gives "" or 32 lowercase hex digits, no panic.
func FuzzTraceID(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz")
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	f.Fuzz(func(t *testing.T, header string) {
		if got := traceID([]byte(header)); got != "" && !hex32.MatchString(got) {
			t.Fatalf("traceID(%q) = %q", header, got)
		}
	})
}
