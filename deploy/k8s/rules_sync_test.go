package k8s

import (
	"os"
	"strings"
	"testing"
)

// TestPrometheusRuleMatchesRulesFile keeps the operator's PrometheusRule
// and deploy/prometheus/rules.yml (what promtool tests) the same rules.
func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	rules, err := os.ReadFile("../prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	cr, err := os.ReadFile("components/monitoring/prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := string(rules)[strings.Index(string(rules), "groups:"):]
	var want strings.Builder
	for _, line := range strings.SplitAfter(body, "\n") {
		if strings.TrimSpace(line) != "" {
			want.WriteString("  ")
		}
		want.WriteString(line)
	}
	got := string(cr)
	i := strings.Index(got, "\nspec:\n")
	if i < 0 {
		t.Fatal("prometheusrule.yaml has no spec")
	}
	if got[i+len("\nspec:\n"):] != want.String() {
		t.Error("components/monitoring/prometheusrule.yaml differs from deploy/prometheus/rules.yml: copy the groups there, indented under spec")
	}
}
