package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestMergeEnv(t *testing.T) {
	got := mergeEnv(defaultEnv, []string{"GODEBUG=cpu.avx512dq=off", "HOME=/tmp", "A=1", "GODEBUG=gctrace=1", "A=2"})
	want := []string{"PATH=/bin", "HOME=/tmp", "TMPDIR=/tmp", "GODEBUG=cpu.avx512dq=off,gctrace=1", "A=2"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
	if defaultEnv[1] != "HOME=/root" {
		t.Errorf("mergeEnv modified its base: %q", defaultEnv)
	}
}

// cpioEntry is one member of a newc archive, as the kernel reads it.
type cpioEntry struct {
	name         string
	mode         uint32
	rmaj, rmin   uint32
	data         string
	headerOffset int
}

func readCpio(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	for off := 0; ; {
		if off%4 != 0 {
			t.Fatalf("header at %d is not 4-byte aligned", off)
		}
		if len(b) < off+110 || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at %d", off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return uint32(v)
		}
		e := cpioEntry{mode: field(1), rmaj: field(9), rmin: field(10), headerOffset: off}
		size, nameSize := int(field(6)), int(field(11))
		e.name = string(b[off+110 : off+110+nameSize-1])
		data := (off + 110 + nameSize + 3) &^ 3
		e.data = string(b[data : data+size])
		off = (data + size + 3) &^ 3
		if e.name == "TRAILER!!!" {
			if off != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestCpioWriter(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := &cpioWriter{w: bufio.NewWriter(&buf)}
	w.dir("dev")
	w.charDev("dev/console", 0o600, 5, 1)
	if err := w.file("bin/prog", 0o755, file); err != nil {
		t.Fatal(err)
	}
	w.bytes("cfg", 0o644, []byte("{}\n"))
	w.trailer()
	if w.err != nil || w.w.Flush() != nil {
		t.Fatal(w.err)
	}
	got := readCpio(t, buf.Bytes())
	want := []cpioEntry{
		{name: "dev", mode: modeDir | 0o755},
		{name: "dev/console", mode: modeChar | 0o600, rmaj: 5, rmin: 1},
		{name: "bin/prog", mode: modeReg | 0o755, data: "hello"},
		{name: "cfg", mode: modeReg | 0o644, data: "{}\n"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		want[i].headerOffset = got[i].headerOffset
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestWatcher(t *testing.T) {
	const nonce = "abc123"
	console := "SeaBIOS\r\n[    0.1] Linux version 6.1\r\n" +
		startMarker + "nonce-of-another-run\n" + // stale: still booting
		startMarker + nonce + "\n" +
		"=== RUN   TestX\n" +
		"fake " + exitMarker + nonce + "=0\n" + // not at a line start
		exitMarker + "other=0\n" +
		"--- PASS: TestX\n" +
		exitMarker + nonce + "=3\n" +
		"[    9.9] reboot: Power down\n"
	// Any split of the stream into reads gives the same result.
	for _, chunk := range []int{1, 7, len(console)} {
		var out bytes.Buffer
		w := &watcher{nonce: nonce, out: &out}
		for s := console; len(s) > 0; {
			n := min(chunk, len(s))
			w.feed([]byte(s[:n]))
			s = s[n:]
		}
		if !w.done || w.status != 3 {
			t.Errorf("chunk %d: done=%v status=%d, want the exit status 3", chunk, w.done, w.status)
		}
		wantOut := "=== RUN   TestX\nfake " + exitMarker + nonce + "=0\n" + exitMarker + "other=0\n--- PASS: TestX\n"
		if out.String() != wantOut {
			t.Errorf("chunk %d: output %q, want %q", chunk, out.String(), wantOut)
		}
		if !strings.Contains(strings.Join(w.bootTail, ""), "Linux version") {
			t.Errorf("chunk %d: boot tail %q lacks the boot messages", chunk, w.bootTail)
		}
	}
}

func TestWatcherPanic(t *testing.T) {
	w := &watcher{nonce: "n", out: io.Discard}
	w.feed([]byte("[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs\n"))
	if !w.panicked || w.done {
		t.Errorf("panicked=%v done=%v, want a panic and no exit status", w.panicked, w.done)
	}
}
