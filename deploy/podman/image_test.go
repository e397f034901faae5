// Package podman holds the image smoke test; containers.conf beside it is
// what make image and this test give podman.
package podman

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/deploy/internal/live"
)

// TestImageSmoke runs the image make image built (DISTILBERT_IMAGE) the way
// the manifests do: read-only root, every capability dropped, uid 65532.
// It checks /readyz, /predict and the healthcheck subcommand inside the
// container, then stops it and looks for the drain in the log.
func TestImageSmoke(t *testing.T) {
	image := os.Getenv("DISTILBERT_IMAGE")
	if image == "" {
		t.Skip("DISTILBERT_IMAGE not set: make test-deploy builds the image (make image) and sets it")
	}
	podman := live.NeedTool(t, "podman", "podman")
	if os.Getenv("CONTAINERS_CONF") == "" {
		t.Setenv("CONTAINERS_CONF", "containers.conf")
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := exec.Command(podman, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return strings.TrimSpace(out.String()), err
	}

	if out, err := run("image", "inspect", "--format", "{{.Config.User}} {{index .Config.Labels \"org.opencontainers.image.title\"}}", image); err != nil || out != "65532:65532 distilbert-go" {
		t.Fatalf("image user and title label: %q, %v", out, err)
	}
	port := live.FreePort(t)
	name := fmt.Sprintf("distilbert-smoke-%d", port)
	// Host networking: the test reaches it on loopback without setting up
	// a container network (none exists in CI containers).
	out, err := run("run", "-d", "--name", name, "--read-only", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges", "--network", "host",
		"-e", fmt.Sprintf("DISTILBERT_ADDR=127.0.0.1:%d", port), image)
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	t.Cleanup(func() { run("rm", "-f", name) })

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := live.WaitReady(base+"/readyz", 60*time.Second, nil); err != nil {
		logs, _ := run("logs", name)
		t.Fatalf("container not ready: %v\n%s", err, logs)
	}
	pid, err := run("inspect", "--format", "{{.State.Pid}}", name)
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Uid:") && strings.Fields(line)[1] != "65532" {
			t.Errorf("the service runs as %q, want uid 65532", line)
		}
		if strings.HasPrefix(line, "CapEff:") && strings.Fields(line)[1] != "0000000000000000" {
			t.Errorf("effective capabilities %q, want none", line)
		}
	}

	resp, err := http.Post(base+"/predict", "application/json", strings.NewReader(`{"text":"a gripping, beautifully acted film"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var pred struct{ Label, Model string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &pred) != nil || pred.Label != "POSITIVE" || pred.Model != "sst2-mini" {
		t.Fatalf("/predict: %d %s", resp.StatusCode, body)
	}
	if out, err := run("exec", name, "/distilbert", "healthcheck"); err != nil || !strings.Contains(out, `"ready"`) {
		t.Errorf("healthcheck in the container: %v %q", err, out)
	}
	// Writing to the root must fail: the image runs read-only.
	if out, err := run("exec", name, "/distilbert", "predict", "--output", "/written", "ok"); err == nil || !strings.Contains(out, "read-only file system") {
		t.Errorf("writing to the root: %v %q, want a read-only file system error", err, out)
	}

	if out, err := run("stop", "-t", "30", name); err != nil {
		t.Fatalf("podman stop: %v\n%s", err, out)
	}
	logs, _ := run("logs", name)
	lines := strings.Split(logs, "\n")
	if !live.HasLog(lines, "draining") || !live.HasLog(lines, "stopped") {
		t.Errorf("no drain in the log after stop:\n%s", logs)
	}
	if code, _ := run("inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit code %s after SIGTERM, want 0", code)
	}
}
