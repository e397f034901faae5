package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The healthcheck is an HTTP client: it is tested against plain HTTP
// servers answering as /readyz does; the image smoke test
// (deploy/podman/image_test.go) runs it against the real service.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" && r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(`{"status":"` + http.StatusText(status) + `"}`))
	}))
	defer srv.Close()
	port := srv.Listener.Addr().String()[strings.LastIndex(srv.Listener.Addr().String(), ":"):]

	code, out, errOut := runCLI(t, "", "healthcheck", "--addr", port)
	if code != 0 || !strings.Contains(out, "/readyz") {
		t.Errorf("ready: exit %d, out %q, err %q", code, out, errOut)
	}
	t.Setenv("DISTILBERT_ADDR", "0.0.0.0"+port)
	if code, _, errOut := runCLI(t, "", "healthcheck", "--path", "/healthz"); code != 0 {
		t.Errorf("DISTILBERT_ADDR: exit %d, err %q", code, errOut)
	}
	status = http.StatusServiceUnavailable
	if code, _, errOut := runCLI(t, "", "healthcheck"); code != 1 || !strings.Contains(errOut, "503") {
		t.Errorf("draining: exit %d, err %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "healthcheck", "--path", "/nowhere"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("wrong path: exit %d, err %q", code, errOut)
	}
	srv.Close()
	if code, _, errOut := runCLI(t, "", "healthcheck"); code != 1 || !strings.Contains(errOut, "healthcheck:") {
		t.Errorf("nothing listening: exit %d, err %q", code, errOut)
	}
	for _, bad := range [][]string{
		{"--addr", "8080"}, {"--addr", ":0"}, {"--path", "readyz"}, {"extra"}, {"--timeout", "soon"},
	} {
		if code, _, errOut := runCLI(t, "", append([]string{"healthcheck"}, bad...)...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (usage); err %q", bad, code, errOut)
		}
	}
}

func TestLoopbackTarget(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:8080":   "127.0.0.1:8080",
		"[::]:9000":      "[::1]:9000",
		"10.1.2.3:8080":  "10.1.2.3:8080",
		"localhost:8080": "localhost:8080",
	} {
		if got, err := loopbackTarget(in); err != nil || got != want {
			t.Errorf("loopbackTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
