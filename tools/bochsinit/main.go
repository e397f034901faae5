// Command bochsinit is the Go half of scripts/bochs-run.sh, which runs a
// static linux/amd64 binary on an emulated AVX-512 CPU (Bochs) so that
// AVX-512 kernels can be tested on hosts without AVX-512. The same static
// executable plays three roles:
//
//	bochsinit initramfs -o FILE -nonce N [-env K=V]... BINARY [ARGS...]
//	    writes a newc cpio archive holding this executable as /init,
//	    BINARY as /bin/<name> and the arguments, environment and nonce.
//	bochsinit watch -serial LOG -nonce N [-timeout D] -- COMMAND...
//	    starts COMMAND (bochs), follows the guest's serial log, copies the
//	    binary's output to stdout and exits with the binary's exit status
//	    once the guest reports it (124 on timeout, 125 if the guest never
//	    gets there), killing COMMAND either way: Bochs does not always exit
//	    by itself when the guest powers off.
//	bochsinit cpuid [EXIT-STATUS]
//	    prints the CPU's SIMD features as cpuid and x/sys/cpu see them,
//	    the check that the emulated CPU is the one wanted.
//	bochsinit selftest
//	    checks some AVX-512 instructions against Go code, and that the
//	    guest kernel preserves ZMM and opmask registers (amd64 only).
//	/init (process 1 in the guest)
//	    mounts /dev, /proc and /sys, runs the binary with its output on the
//	    serial console between two marker lines that carry the nonce (so
//	    that neither kernel messages nor the binary's own output can fake
//	    them), then powers the machine off.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Marker lines on the serial console. The nonce is new for every run.
const (
	startMarker = "BOCHS-RUN-START-"
	exitMarker  = "BOCHS-RUN-EXIT-" // followed by "<nonce>=<status>"
	configPath  = "/bochsrun.json"
)

// config is what the host passes to the guest's init, as JSON in the
// initramfs.
type config struct {
	Nonce string   `json:"nonce"`
	Path  string   `json:"path"` // the binary, inside the guest
	Args  []string `json:"args"` // argv[1:]
	Env   []string `json:"env"`  // added to (or overriding) defaultEnv
	Dir   string   `json:"dir"`  // working directory, "/" when empty
}

// defaultEnv is the guest program's environment before -env.
var defaultEnv = []string{"PATH=/bin", "HOME=/root", "TMPDIR=/tmp"}

func main() {
	if os.Getpid() == 1 {
		guestInit() // never returns
	}
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "cpuid":
		os.Exit(cpuidMain(os.Args[2:]))
	case "selftest":
		os.Exit(selftestMain())
	case "initramfs":
		err = initramfsMain(os.Args[2:])
	case "watch":
		var status int
		status, err = watchMain(os.Args[2:])
		if err == nil {
			os.Exit(status)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bochsinit:", err)
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bochsinit initramfs -o FILE -nonce N [-env K=V]... BINARY [ARGS...]")
	fmt.Fprintln(os.Stderr, "       bochsinit watch -serial LOG -nonce N [-timeout D] -- COMMAND...")
	fmt.Fprintln(os.Stderr, "       bochsinit cpuid [EXIT-STATUS]")
	fmt.Fprintln(os.Stderr, "       bochsinit selftest")
	os.Exit(2)
}

// envFlag collects repeated -env K=V flags.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(s string) error {
	if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	*e = append(*e, s)
	return nil
}

// mergeEnv returns base with every NAME=VALUE of over replacing the entry
// of the same name, or appended when base has none. GODEBUG values are
// joined instead, base first: Go applies the last of repeated settings, so
// a later -env GODEBUG=... adds to (or overrides) an earlier workaround.
func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range over {
		name, value, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if n, v, _ := strings.Cut(old, "="); n == name {
				if name == "GODEBUG" && v != "" && value != "" {
					kv = name + "=" + v + "," + value
				}
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func newFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet("bochsinit "+name, flag.ContinueOnError)
}
