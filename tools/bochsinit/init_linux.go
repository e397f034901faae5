package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// guestInit is process 1 inside the emulated machine. Whatever happens it
// ends with the exit marker and a power-off: process 1 must never exit
// (that panics the kernel), and the host waits for the marker.
func guestInit() {
	status := runGuest()
	fmt.Fprintf(os.Stdout, "%s%s=%d\n", exitMarker, guestNonce, status)
	// Wait for the UART to send it all: power-off does not.
	unix.IoctlSetInt(1, unix.TCSBRK, 1)
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour)
	}
}

// guestNonce is the run's nonce once the config is read ("unknown" before,
// which the host does not match: it then reports a boot failure).
var guestNonce = "unknown"

func runGuest() int {
	// The kernel opened /dev/console (in the archive) as our stdio; should
	// that have failed, devtmpfs provides it.
	for _, m := range []struct{ src, dir, fstype string }{
		{"devtmpfs", "/dev", "devtmpfs"},
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
	} {
		if err := unix.Mount(m.src, m.dir, m.fstype, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			fmt.Fprintf(os.Stderr, "bochsinit: mount %s: %v\n", m.dir, err)
		}
	}
	if _, err := unix.FcntlInt(1, unix.F_GETFD, 0); err != nil {
		if fd, err := unix.Open("/dev/console", unix.O_RDWR, 0); err == nil {
			for i := 0; i < 3; i++ {
				unix.Dup2(fd, i)
			}
		}
	}
	// Raw output: the host should see the binary's bytes, not "\r\n".
	if t, err := unix.IoctlGetTermios(1, unix.TCGETS); err == nil {
		t.Oflag &^= unix.OPOST
		unix.IoctlSetTermios(1, unix.TCSETS, t)
	}
	loopbackUp()

	data, err := os.ReadFile(configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bochsinit:", err)
		return 126
	}
	var cfg config
	if err := json.Unmarshal(data, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bochsinit:", configPath+":", err)
		return 126
	}
	guestNonce = cfg.Nonce

	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Dir = "/"
	if cfg.Dir != "" {
		cmd.Dir = cfg.Dir
	}
	cmd.Env = mergeEnv(defaultEnv, cfg.Env)
	// One pipe for stdout and stderr keeps their order; out notes whether
	// the last byte was a newline so that the exit marker starts a line.
	out := &lineTracker{w: os.Stdout, last: '\n'}
	cmd.Stdout, cmd.Stderr = out, out
	fmt.Fprintf(os.Stdout, "%s%s\n", startMarker, cfg.Nonce)
	err = cmd.Run()
	if out.last != '\n' {
		os.Stdout.WriteString("\n")
	}
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			fmt.Fprintf(os.Stderr, "bochsinit: %s: %v\n", cfg.Path, ws.Signal())
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "bochsinit:", err)
	if errors.Is(err, unix.ENOENT) {
		fmt.Fprintln(os.Stderr, "bochsinit: a dynamically linked binary? the guest has no libc; build with CGO_ENABLED=0")
	}
	return 127
}

type lineTracker struct {
	mu   sync.Mutex
	w    *os.File
	last byte
}

func (l *lineTracker) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}

// loopbackUp brings up lo so that tests may listen on 127.0.0.1 (the
// kernel gives lo its address when it comes up).
func loopbackUp() {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return
	}
	ifr.SetUint16(unix.IFF_UP | unix.IFF_RUNNING)
	unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
