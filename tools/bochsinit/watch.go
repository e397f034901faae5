package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Exit statuses of watch itself, as timeout(1) has them.
const (
	statusTimeout = 124
	statusFailed  = 125
)

// watchMain runs the emulator and relays the guest program's output and
// exit status. The serial log is a plain file Bochs appends to, so it is
// polled rather than piped.
func watchMain(args []string) (int, error) {
	fs := newFlagSet("watch")
	serial := fs.String("serial", "", "the guest's serial console log `file` (written by COMMAND)")
	nonce := fs.String("nonce", "", "marker nonce shared with initramfs")
	timeout := fs.Duration("timeout", time.Hour, "give up after this long")
	emuLog := fs.String("log", "", "emulator log `file`, shown on failure")
	verbose := fs.Bool("v", false, "copy the guest's boot messages to stderr")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if *serial == "" || *nonce == "" || fs.NArg() == 0 {
		return 0, errors.New("watch: need -serial, -nonce and a command")
	}

	var emuOut tailBuffer
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdout, cmd.Stderr = &emuOut, &emuOut // stdin is /dev/null: never prompt
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)

	w := &watcher{nonce: *nonce, verbose: *verbose, out: os.Stdout}
	fail := func(status int, format string, a ...any) (int, error) {
		stop()
		w.poll(*serial) // whatever came last
		fmt.Fprintf(os.Stderr, "bochs-run: "+format+"\n", a...)
		if w.running {
			fmt.Fprintf(os.Stderr, "bochs-run: the program had started; its output is above\n")
		} else {
			fmt.Fprintf(os.Stderr, "bochs-run: --- last lines of the guest console ---\n%s", strings.Join(w.bootTail, ""))
		}
		if w.partial.Len() > 0 {
			fmt.Fprintf(os.Stderr, "%s\n", w.partial.Bytes())
		}
		fmt.Fprintf(os.Stderr, "bochs-run: --- emulator output ---\n%s", lastLines(emuOut.bytes(), 15))
		if *emuLog != "" {
			if data, err := os.ReadFile(*emuLog); err == nil {
				fmt.Fprintf(os.Stderr, "bochs-run: --- last lines of %s ---\n%s", *emuLog, lastLines(data, 25))
			}
		}
		return status, nil
	}

	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(*timeout)
	defer deadline.Stop()
	var panicSeen time.Time
	for {
		select {
		case <-tick.C:
		case err := <-exited:
			exited <- err // for stop
			w.poll(*serial)
			if !w.done {
				return fail(statusFailed, "the emulator exited (%v) before the guest program finished", err)
			}
		case <-deadline.C:
			return fail(statusTimeout, "timed out after %v (BOCHS_TIMEOUT)", *timeout)
		case s := <-sigs:
			stop()
			fmt.Fprintf(os.Stderr, "bochs-run: %v, emulator stopped\n", s)
			return 128 + int(s.(syscall.Signal)), nil
		}
		if err := w.poll(*serial); err != nil {
			return fail(statusFailed, "%v", err)
		}
		if w.bootDone.IsZero() && !w.booted.IsZero() {
			w.bootDone = time.Now()
			fmt.Fprintf(os.Stderr, "bochs-run: guest booted in %.1fs, running the program\n", time.Since(t0).Seconds())
		}
		if w.done {
			stop()
			end := time.Now()
			fmt.Fprintf(os.Stderr, "bochs-run: exit status %d; boot %.1fs, program %.1fs\n",
				w.status, w.bootDone.Sub(t0).Seconds(), end.Sub(w.bootDone).Seconds())
			return w.status, nil
		}
		if w.panicked && panicSeen.IsZero() {
			panicSeen = time.Now()
		}
		// Give the panic's backtrace a few seconds to reach the log.
		if !panicSeen.IsZero() && time.Since(panicSeen) > 3*time.Second {
			return fail(statusFailed, "the guest kernel panicked")
		}
	}
}

// watcher parses the serial log: boot messages until the start marker, the
// program's output (copied to stdout) until the exit marker.
type watcher struct {
	nonce    string
	verbose  bool
	out      io.Writer // the program's output goes here
	f        *os.File
	partial  bytes.Buffer // an incomplete last line
	bootTail []string     // last console lines, for failure reports
	booted   time.Time    // when the start marker was seen
	bootDone time.Time
	running  bool
	done     bool
	status   int
	panicked bool
}

func (w *watcher) poll(path string) error {
	if w.f == nil {
		f, err := os.Open(path)
		if err != nil {
			return nil // Bochs has not created it yet
		}
		w.f = f
	}
	buf := make([]byte, 64<<10)
	for !w.done {
		n, err := w.f.Read(buf)
		w.feed(buf[:n])
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *watcher) feed(data []byte) {
	for len(data) > 0 && !w.done {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			w.partial.Write(data)
			return
		}
		w.partial.Write(data[:i+1])
		data = data[i+1:]
		w.line(w.partial.Bytes())
		w.partial.Reset()
	}
}

func (w *watcher) line(raw []byte) {
	text := strings.TrimRight(string(raw), "\r\n")
	if strings.Contains(text, "Kernel panic - not syncing") {
		w.panicked = true
	}
	if !w.running {
		if strings.HasSuffix(text, startMarker+w.nonce) {
			w.running, w.booted = true, time.Now()
			return
		}
		if w.verbose {
			fmt.Fprintf(os.Stderr, "%s\n", text)
		}
		w.bootTail = append(w.bootTail, text+"\n")
		if len(w.bootTail) > 40 {
			w.bootTail = w.bootTail[1:]
		}
		return
	}
	if rest, ok := strings.CutPrefix(text, exitMarker+w.nonce+"="); ok {
		if n, err := strconv.Atoi(rest); err == nil {
			w.done, w.status = true, n
			return
		}
	}
	w.out.Write(raw)
}

// tailBuffer keeps the last 64 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *tailBuffer) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf.Bytes()...)
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if t.buf.Len() > 128<<10 {
		keep := append([]byte(nil), t.buf.Bytes()[t.buf.Len()-64<<10:]...)
		t.buf.Reset()
		t.buf.Write(keep)
	}
	return len(p), nil
}

// lastLines returns the last n lines of data, newline-terminated.
func lastLines(data []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
