package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets tests run this binary's main in a child process, which is
// how start-up behaviour (DISTILBERT_KERNELS, read once) is tested.
func TestMain(m *testing.M) {
	if os.Getenv("DISTILBERT_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func runChild(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "DISTILBERT_TEST_RUN_MAIN=1"), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

func TestKernelsEnvVar(t *testing.T) {
	code, out, errs := runChild(t, []string{"DISTILBERT_KERNELS=generic"}, "inspect")
	if code != 0 || !strings.Contains(out, "kernels      generic") {
		t.Fatalf("forced generic: exit %d\n%s%s", code, out, errs)
	}
	for _, bad := range []string{"bogus", "avx512", "neon"} {
		code, _, errs = runChild(t, []string{"DISTILBERT_KERNELS=" + bad}, "predict", "fine")
		if (bad == "avx512" || bad == "neon") && code == 0 {
			continue // this CPU and build have it
		}
		if code != 1 || !strings.Contains(errs, "DISTILBERT_KERNELS="+bad) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("DISTILBERT_KERNELS=%s: exit %d, stderr %q; want one clear line and exit 1", bad, code, errs)
		}
	}
}
