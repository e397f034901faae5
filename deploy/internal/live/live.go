// Package live builds the real distilbert binary and runs `distilbert
// serve` on loopback for the deploy checks (Prometheus, nginx): no mocks.
package live

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RepoRoot is the directory of the main module (the parent of deploy/).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/distilbert-go/distilbert\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no github.com/distilbert-go/distilbert go.mod above the test's directory")
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	builtPath string
	buildErr  error
)

// Main runs the package's tests, then removes the binary Binary built.
// Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Binary builds cmd/distilbert once per test binary, into a directory
// that Main removes.
func Binary(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "distilbert-deploy-test")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		builtPath = filepath.Join(dir, "distilbert")
		cmd := exec.Command("go", "build", "-o", builtPath, "./cmd/distilbert")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

// FreePort returns a loopback port free at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Serve is one running `distilbert serve`.
type Serve struct {
	Addr string // 127.0.0.1:PORT
	cmd  *exec.Cmd
	done chan struct{}

	mu   sync.Mutex
	logs []string
}

// Start runs `distilbert serve --addr 127.0.0.1:port args...` and waits
// until /readyz answers 200; the test's cleanup stops it.
func Start(t testing.TB, port int, args ...string) *Serve {
	t.Helper()
	s := &Serve{Addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan struct{})}
	s.cmd = exec.Command(Binary(t), append([]string{"serve", "--addr", s.Addr, "--access-log=false"}, args...)...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.logs = append(s.logs, sc.Text())
			s.mu.Unlock()
		}
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.Stop() })
	if err := WaitReady("http://"+s.Addr+"/readyz", 60*time.Second, s.done); err != nil {
		t.Fatalf("serve on %s: %v; log:\n%s", s.Addr, err, strings.Join(s.Logs(), "\n"))
	}
	return s
}

// WaitReady polls url until it answers 200, the timeout passes or exited
// is closed.
func WaitReady(url string, timeout time.Duration, exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-exited:
			return errors.New("the process exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for the drain (SIGKILL after 30 s).
func (s *Serve) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Done is closed when the process has exited.
func (s *Serve) Done() <-chan struct{} { return s.done }

// Logs returns the stderr lines so far.
func (s *Serve) Logs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.logs...)
}

// HasLog reports whether a JSON log line has msg.
func HasLog(lines []string, msg string) bool {
	for _, l := range lines {
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == msg {
			return true
		}
	}
	return false
}

// NeedTool finds a command that scripts/install-test-deps.sh installs (make
// test-deploy runs it first); a bare go test without it skips.
func NeedTool(t testing.TB, name, dep string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: run scripts/install-test-deps.sh %s (make test-deploy does)", name, dep)
	}
	return p
}

var (
	flagsOnce sync.Once
	flagsSet  map[string]bool
	flagsErr  error
)

// ServeFlags lists the flags `distilbert serve --help` prints, so that
// manifests are checked against the real binary, not a copied list.
func ServeFlags(t testing.TB) map[string]bool {
	t.Helper()
	bin := Binary(t)
	flagsOnce.Do(func() {
		out, err := exec.Command(bin, "serve", "--help").CombinedOutput()
		if err != nil {
			flagsErr = fmt.Errorf("serve --help: %v\n%s", err, out)
			return
		}
		flagsSet = map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
			flagsSet[m[1]] = true
		}
		if !flagsSet["addr"] || !flagsSet["shutdown-grace"] || !flagsSet["shutdown-delay"] || !flagsSet["model"] {
			flagsErr = fmt.Errorf("serve --help lists %v", flagsSet)
		}
	})
	if flagsErr != nil {
		t.Fatal(flagsErr)
	}
	return flagsSet
}
