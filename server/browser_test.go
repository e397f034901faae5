package server_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumArgs run Chromium headless without touching the network or the
// user's profile.
func chromiumArgs(t *testing.T) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=10000",
	}
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserPage loads / in headless Chromium with ?text=..., lets the
// page's script classify it, and checks the rendered label and bars.
// Set DISTILBERT_SCREENSHOT=file.png to also save a screenshot.
func TestBrowserPage(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("chromium is not installed: run scripts/install-test-deps.sh chromium (or make test-browser)")
	}
	t.Parallel()
	p := start(t, nil)
	text := "a gorgeous, witty, seductive movie"
	page := p.url + "/?text=" + url.QueryEscape(text)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, append(chromiumArgs(t), "--dump-dom", page)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	dom := string(out)
	want := alone(t, text)
	if !strings.Contains(dom, `data-state="done"`) {
		t.Fatalf("page did not finish classifying; DOM:\n%s", dom)
	}
	if m := regexp.MustCompile(`<p id="label">([^<]*)</p>`).FindStringSubmatch(dom); m == nil || m[1] != want.Label {
		t.Errorf("label %v, want %s", m, want.Label)
	}
	for _, l := range []string{"NEGATIVE", "POSITIVE"} {
		if !regexp.MustCompile(`class="bar[^"]*" data-label="` + l + `" data-score="[0-9.e-]+"`).MatchString(dom) {
			t.Errorf("no bar for %s in the DOM", l)
		}
	}
	if !regexp.MustCompile(`class="bar top" data-label="` + want.Label + `"`).MatchString(dom) {
		t.Errorf("the %s bar is not highlighted", want.Label)
	}
	if !strings.Contains(dom, "model sst2-mini") {
		t.Errorf("model name not shown")
	}

	if shot := os.Getenv("DISTILBERT_SCREENSHOT"); shot != "" {
		abs, _ := filepath.Abs(shot)
		cmd := exec.CommandContext(ctx, chromium, append(chromiumArgs(t), "--screenshot="+abs, "--window-size=900,720", "--hide-scrollbars", page)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chromium --screenshot: %v\n%s", err, out)
		}
		t.Logf("screenshot: %s", abs)
	}
}
