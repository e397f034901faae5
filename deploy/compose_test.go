// Package deploy holds the checks of the compose stack; the other deploy
// artefacts are checked in their folders' packages.
package deploy

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/distilbert-go/distilbert/deploy/internal/drain"
	"github.com/distilbert-go/distilbert/deploy/internal/live"
)

// loadCompose loads a compose file with compose-go, the library docker
// compose uses: schema validation (unknown keys fail), interpolation,
// normalisation and consistency checks.
func loadCompose(t *testing.T, path string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithName("distilbert"),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func TestCompose(t *testing.T) {
	p, err := loadCompose(t, "compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"distilbert-1", "distilbert-2", "nginx", "prometheus", "grafana"} {
		if _, err := p.GetService(name); err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
	}
	flags := live.ServeFlags(t)
	for _, name := range []string{"distilbert-1", "distilbert-2"} {
		s, _ := p.GetService(name)
		if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || s.User != "65532:65532" {
			t.Errorf("%s: read_only %v, cap_drop %v, user %q", name, s.ReadOnly, s.CapDrop, s.User)
		}
		if s.HealthCheck == nil || !slices.Equal(s.HealthCheck.Test, types.HealthCheckTest{"CMD", "/distilbert", "healthcheck"}) {
			t.Errorf("%s: health check %+v", name, s.HealthCheck)
		}
		for _, e := range composeDrainErrs(s) {
			t.Errorf("%s: %v", name, e)
		}
		for k := range s.Environment {
			flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "DISTILBERT_"), "_", "-"))
			if !strings.HasPrefix(k, "DISTILBERT_") || !flags[flag] {
				t.Errorf("%s: environment %s is not a flag of distilbert serve", name, k)
			}
		}
		for _, e := range trustedProxiesErrs(p, s) {
			t.Errorf("%s: %v", name, e)
		}
		if s.Build == nil || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: build %+v", name, s.Build)
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Every bind mount names a file or folder of this repository, and the
	// nginx config names both replicas.
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s: %v", s.Name, v.Source, err)
			}
		}
	}
	nginx, _ := p.GetService("nginx")
	var conf string
	for _, v := range nginx.Volumes {
		if v.Target == "/etc/nginx/nginx.conf" {
			conf = v.Source
		}
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatalf("nginx config: %v", err)
	}
	for _, want := range []string{"least_conn", "server distilbert-1:8080", "server distilbert-2:8080", "max_fails=", "http_503"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("nginx.conf has no %q", want)
		}
	}
	prom, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(prom), `"distilbert-1:8080", "distilbert-2:8080"`) {
		t.Error("prometheus.yml does not scrape the compose services")
	}
}

// trustedProxiesErrs: a replica trusts exactly the subnets of the
// networks it shares with nginx, fixed in the compose file, so that
// X-Forwarded-For from nginx names the client and nothing outside the
// stack is trusted.
func trustedProxiesErrs(p *types.Project, s types.ServiceConfig) []error {
	v := s.Environment["DISTILBERT_TRUSTED_PROXIES"]
	if v == nil || *v == "" {
		return []error{fmt.Errorf("no DISTILBERT_TRUSTED_PROXIES: behind nginx every client is nginx's address")}
	}
	nginx, err := p.GetService("nginx")
	if err != nil {
		return []error{err}
	}
	var errs []error
	var want, got []string
	for net := range nginx.Networks {
		if _, ok := s.Networks[net]; !ok {
			continue
		}
		cfg := p.Networks[net]
		if len(cfg.Ipam.Config) != 1 || cfg.Ipam.Config[0].Subnet == "" {
			errs = append(errs, fmt.Errorf("network %s, shared with nginx, has no fixed subnet (ipam.config[0].subnet)", net))
			continue
		}
		want = append(want, cfg.Ipam.Config[0].Subnet)
	}
	for _, f := range strings.Split(*v, ",") {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(f))
		if err != nil {
			errs = append(errs, fmt.Errorf("DISTILBERT_TRUSTED_PROXIES entry %q: %v", f, err))
			continue
		}
		got = append(got, pfx.Masked().String())
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		errs = append(errs, fmt.Errorf("DISTILBERT_TRUSTED_PROXIES %v, want the subnets shared with nginx %v", got, want))
	}
	return errs
}

// composeDrainErrs checks a replica's shutdown arithmetic (drain.Plan):
// delay and grace from its environment, SIGKILL at stop_grace_period, no
// readiness probe (nginx does not follow one).
func composeDrainErrs(s types.ServiceConfig) []error {
	env := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	delay, grace, err := drain.Env(env)
	if err != nil {
		return []error{err}
	}
	if s.StopGracePeriod == nil {
		return []error{fmt.Errorf("no stop_grace_period: compose's default of 10 s is below the grace %v", grace)}
	}
	return drain.Plan{Delay: delay, Grace: grace, Kill: time.Duration(*s.StopGracePeriod)}.Check()
}

// TestComposeDrainBrokenCopies: copies of the compose file whose drain
// does not fit must fail the check that TestCompose passes.
func TestComposeDrainBrokenCopies(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to string }{
		{"stop_grace_period: 30s", "stop_grace_period: 20s"},
		{"stop_grace_period: 30s", ""},
		{`DISTILBERT_SHUTDOWN_DELAY: "2s"`, `DISTILBERT_SHUTDOWN_DELAY: "11s"`},
	} {
		p, err := loadCompose(t, writeCopy(t, strings.Replace(string(b), tc.from, tc.to, 1)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.GetService("distilbert-1")
		if err != nil {
			t.Fatal(err)
		}
		if errs := composeDrainErrs(s); len(errs) == 0 {
			t.Errorf("compose.yaml with %q passes the drain check", tc.to)
		} else {
			t.Logf("as expected: %v", errs)
		}
	}
}

// writeCopy writes a compose file's text into a temporary directory beside
// links to the folders it mounts, and returns its path.
func writeCopy(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"nginx", "prometheus", "grafana"} {
		os.Symlink(filepath.Join(mustAbs(t, "."), sub), filepath.Join(dir, sub))
	}
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestComposeTypoFails: a misspelt key in a copy of the compose file must
// fail to load.
func TestComposeTypoFails(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to string }{
		{"ipam:", "ipam_config:"},
		{"stop_grace_period:", "stop_grace_periode:"},
		{"read_only: true", "readonly: true"},
		{"depends_on:", "depend_on:"},
	} {
		dir := t.TempDir()
		for _, sub := range []string{"nginx", "prometheus", "grafana"} {
			os.Symlink(filepath.Join(mustAbs(t, "."), sub), filepath.Join(dir, sub))
		}
		broken := strings.Replace(string(b), tc.from, tc.to, 1)
		if broken == string(b) {
			t.Fatalf("compose.yaml has no %q", tc.from)
		}
		path := filepath.Join(dir, "compose.yaml")
		if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := loadCompose(t, path); err == nil {
			t.Errorf("compose.yaml with %q loaded without error", tc.to)
		} else {
			t.Logf("as expected: %v", err)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestComposeTrustedProxiesBrokenCopies: a replica that trusts no proxy,
// or a subnet that is not the stack's, must fail trustedProxiesErrs.
func TestComposeTrustedProxiesBrokenCopies(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to string }{
		{`DISTILBERT_TRUSTED_PROXIES: "172.28.0.0/24"`, ""},
		{`DISTILBERT_TRUSTED_PROXIES: "172.28.0.0/24"`, `DISTILBERT_TRUSTED_PROXIES: "0.0.0.0/0"`},
		{"        - subnet: 172.28.0.0/24", "        - subnet: 172.29.0.0/24"},
	} {
		p, err := loadCompose(t, writeCopy(t, strings.Replace(string(b), tc.from, tc.to, 1)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.GetService("distilbert-1")
		if err != nil {
			t.Fatal(err)
		}
		if errs := trustedProxiesErrs(p, s); len(errs) == 0 {
			t.Errorf("compose.yaml with %q passes the trusted-proxies check", tc.to)
		} else {
			t.Logf("as expected: %v", errs)
		}
	}
}
