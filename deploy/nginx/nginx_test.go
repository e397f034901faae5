// Package nginx runs Debian's nginx with the compose stack's nginx.conf in
// front of two real services.
package nginx

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/deploy/internal/live"
)

// TestFailover sends a steady stream of predictions through nginx, stops
// one replica in the middle (SIGTERM: it drains and exits) and expects no
// failed request: nginx retries on the other replica and then leaves the
// stopped one out.
func TestFailover(t *testing.T) {
	nginxBin := live.NeedTool(t, "nginx", "nginx")
	a := live.Start(t, live.FreePort(t))
	b := live.Start(t, live.FreePort(t))
	front := startNginx(t, nginxBin, a.Addr, b.Addr)

	var ok, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"text":"worker %d request %d: a fine and moving film"}`, w, i)
				resp, err := client.Post("http://"+front+"/predict", "application/json", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %s", resp.StatusCode, b))
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	// Let both replicas take traffic, stop one, and keep going.
	waitFor(t, func() bool { return ok.Load() >= 40 })
	before := ok.Load()
	a.Stop()
	if !live.HasLog(a.Logs(), "stopped") {
		t.Errorf("the stopped replica did not drain cleanly:\n%s", strings.Join(a.Logs(), "\n"))
	}
	waitFor(t, func() bool { return ok.Load() >= before+40 })
	close(stop)
	wg.Wait()

	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed through nginx while a replica stopped; first: %q",
			failed.Load(), failed.Load()+ok.Load(), failures[0])
	}
	t.Logf("%d requests, %d before the stop", ok.Load(), before)
}

// startNginx runs nginx with the shipped config, its upstreams rewritten
// to the two loopback services, on a free loopback port it returns.
func startNginx(t *testing.T, nginxBin, upstreamA, upstreamB string) string {
	t.Helper()
	conf, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	front := fmt.Sprintf("127.0.0.1:%d", live.FreePort(t))

	// The shipped config with the compose names and port on loopback.
	rewrite := strings.NewReplacer("distilbert-1:8080", upstreamA, "distilbert-2:8080", upstreamB,
		"listen 8080;", "listen "+front+";")
	dir := t.TempDir()
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(rewrite.Replace(string(conf))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{upstreamA, upstreamB, front, "least_conn", "max_fails=", "proxy_next_upstream error timeout http_503",
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"} {
		if !strings.Contains(rewrite.Replace(string(conf)), want) {
			t.Fatalf("nginx.conf has no %q after the rewrite", want)
		}
	}
	args := []string{"-p", dir, "-c", confPath, "-e", "stderr", "-g", "daemon off; pid " + filepath.Join(dir, "nginx.pid") + ";"}
	if out, err := exec.Command(nginxBin, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(nginxBin, args...)
	var nginxLog strings.Builder
	cmd.Stdout, cmd.Stderr = &nginxLog, &nginxLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	if err := live.WaitReady("http://"+front+"/readyz", 30*time.Second, exited); err != nil {
		t.Fatalf("nginx: %v\n%s", err, nginxLog.String())
	}
	return front
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for requests to go through")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
