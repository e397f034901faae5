package main

import (
	"regexp"
	"strings"
	"testing"
)

// The usage text lists every subcommand run dispatches, and every flag it
// shows for a command exists in that command's --help.
func TestUsageMatchesCommands(t *testing.T) {
	modelFlags := []string{"--model", "--model-sha256", "--quantize", "--device"}
	flagRE := regexp.MustCompile(`--[a-z0-9-]+`)
	for _, line := range strings.Split(usage, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "distilbert" || strings.HasSuffix(fields[1], ":") {
			continue
		}
		cmd := fields[1]
		if cmd == "version" || cmd == "help" {
			var out, errs strings.Builder
			if code := run([]string{cmd}, strings.NewReader(""), &out, &errs); code != 0 {
				t.Errorf("%s: exit %d %s", cmd, code, errs.String())
			}
			continue
		}
		var out, errs strings.Builder
		if code := run([]string{cmd, "--help"}, strings.NewReader(""), &out, &errs); code != 0 {
			t.Errorf("%s --help: exit %d %s", cmd, code, errs.String())
			continue
		}
		help := out.String()
		want := flagRE.FindAllString(line, -1)
		if strings.Contains(line, "[model flags]") {
			want = append(want, modelFlags...)
		}
		for _, f := range want {
			if f == "--help" {
				continue
			}
			if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(f[2:]) + `\b`).MatchString(help) {
				t.Errorf("usage shows %s for %s, which its --help does not list", f, cmd)
			}
		}
	}
	// Every command run knows is in the usage text.
	for _, cmd := range []string{"predict", "tokenize", "inspect", "bench", "serve", "download", "healthcheck", "version"} {
		if !strings.Contains(usage, "distilbert "+cmd+" ") && !strings.Contains(usage, "distilbert "+cmd+"\n") {
			t.Errorf("usage does not list %s", cmd)
		}
	}
	var out, errs strings.Builder
	if code := run([]string{"no-such-command"}, strings.NewReader(""), &out, &errs); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
}
