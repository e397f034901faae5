// Package prometheus checks the Prometheus config and alert rules beside
// it with promtool, and runs a real Prometheus against a real service.
package prometheus

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/distilbert-go/distilbert/deploy/internal/live"
)

func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin := live.NeedTool(t, "promtool", "prometheus")
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestConfigAndRules(t *testing.T) {
	promtool(t, "check", "config", "prometheus.yml")
	promtool(t, "check", "rules", "rules.yml")
	// Each alert has a test case in which it fires (rules_test.yml).
	promtool(t, "test", "rules", "rules_test.yml")
}

// TestRulesCountEveryInferenceRoute runs rules_test.yml against a copy of
// rules.yml whose selectors know only the native routes, as they once
// did: the cases where only v2 infer fails or is slow must then fail, so
// they prove the shipped rules count v2 traffic.
func TestRulesCountEveryInferenceRoute(t *testing.T) {
	bin := live.NeedTool(t, "promtool", "prometheus")
	rules, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("rules_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	const all, native = `path=~"/predict|/predict/batch|/v2/models/.+/infer"`, `path=~"/predict|/predict/batch"`
	if n := strings.Count(string(rules), all); n != 3 {
		t.Fatalf("rules.yml has %d selectors of every inference route, want 3 (p95 latency, and the error ratio's two)", n)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(strings.ReplaceAll(string(rules), all, native)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "test", "rules", filepath.Join(dir, "rules_test.yml")).CombinedOutput()
	if err == nil {
		t.Fatalf("rules without the v2 route pass rules_test.yml:\n%s", out)
	}
	for _, name := range []string{"error ratio from v2 infer alone", "p95 latency from v2 infer alone"} {
		if !strings.Contains(string(out), "name: "+name+",") {
			t.Errorf("case %q did not fail without the v2 route:\n%s", name, out)
		}
	}
}

// TestEveryAlertHasAFiringCase keeps rules_test.yml complete: a new alert
// without a case in which it fires fails here.
func TestEveryAlertHasAFiringCase(t *testing.T) {
	rules, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("rules_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\S+)`).FindAllStringSubmatch(string(rules), -1)
	if len(alerts) < 6 {
		t.Fatalf("found %d alerts in rules.yml", len(alerts))
	}
	// A firing case: "alertname: X" followed by a non-empty exp_alerts list.
	firing := regexp.MustCompile(`alertname: (\S+)\n\s*exp_alerts:\n\s*- exp_labels`)
	fires := map[string]bool{}
	for _, m := range firing.FindAllStringSubmatch(string(tests), -1) {
		fires[m[1]] = true
	}
	for _, a := range alerts {
		if !fires[a[1]] {
			t.Errorf("alert %s has no firing case in rules_test.yml", a[1])
		}
	}
}

// TestLivePrometheus starts Debian's Prometheus against a real `distilbert
// serve` on loopback with the rules, checks that the target is up and the
// rules evaluate without error, and that every series selector of every
// rule and dashboard query matches a live series after a little load;
// each dashboard query must also return data.
func TestLivePrometheus(t *testing.T) {
	promBin := live.NeedTool(t, "prometheus", "prometheus")
	t0 := time.Now()
	// A one-sequence queue, so that a burst gets some 503s: the error
	// ratio and shedding rules need 5xx series.
	svc := live.Start(t, live.FreePort(t), "--cache-size", "16", "--max-queue", "1", "--served-model-name", "sentiment")
	t.Logf("service ready after %v", time.Since(t0).Round(time.Millisecond))

	dir := t.TempDir()
	rules, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	// The shipped config, with the compose stack's targets replaced by the
	// loopback service and a fast scrape.
	targets := regexp.MustCompile(`- targets: \[.*\]`)
	if !targets.Match(cfg) {
		t.Fatal("prometheus.yml: no static targets line to rewrite")
	}
	live := strings.NewReplacer("scrape_interval: 15s", "scrape_interval: 1s",
		"evaluation_interval: 15s", "evaluation_interval: 1s",
		"scrape_timeout: 5s", "scrape_timeout: 1s").Replace(
		targets.ReplaceAllString(string(cfg), fmt.Sprintf(`- targets: ["%s"]`, svc.Addr)))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(live), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr,
		"--log.level=warn")
	var promLog strings.Builder
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { prom.Wait(); close(exited) }()
	t.Cleanup(func() {
		prom.Process.Kill()
		<-exited
	})
	api := "http://" + promAddr
	if err := waitReady(api+"/-/ready", 60*time.Second, exited); err != nil {
		t.Fatalf("prometheus: %v\n%s", err, promLog.String())
	}

	// A little load: single and batch predictions, a cache hit, a 404.
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range 20 {
		body := fmt.Sprintf(`{"text":"review number %d was rather good"}`, i%10)
		resp, err := client.Post("http://"+svc.Addr+"/predict", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/predict: %d", resp.StatusCode)
		}
	}
	resp, err := client.Post("http://"+svc.Addr+"/predict/batch", "application/json",
		strings.NewReader(`{"texts":["awful","wonderful","fine"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, err := client.Get("http://" + svc.Addr + "/nowhere"); err == nil {
		resp.Body.Close()
	}
	// The other inference routes: the Open Inference Protocol's infer (its
	// own path label) and TEI-shaped bodies on /predict, which must land
	// in /predict's series (the rules and panels have no other way to see
	// them): its counter grows by exactly the TEI requests sent.
	for i := range 5 {
		post(t, client, "http://"+svc.Addr+"/v2/models/sentiment/infer",
			fmt.Sprintf(`{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","data":["v2 text %d","another"]}]}`, i))
	}
	before := counter(t, "http://"+svc.Addr+"/metrics", `distilbert_http_requests_total{path="/predict",status="200"}`)
	for i := range 4 {
		post(t, client, "http://"+svc.Addr+"/predict", fmt.Sprintf(`{"inputs":"a tei request %d","raw_scores":false}`, i))
	}
	if after := counter(t, "http://"+svc.Addr+"/metrics", `distilbert_http_requests_total{path="/predict",status="200"}`); after != before+4 {
		t.Errorf("4 TEI requests moved /predict's 200 counter from %v to %v", before, after)
	}
	if !burstUntil503(t, client, "http://"+svc.Addr+"/predict") {
		t.Fatal("no 503 from a burst against a one-sequence queue")
	}
	t.Logf("load sent after %v", time.Since(t0).Round(time.Millisecond))

	// The target is up, and a few scrapes after the load are in.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var res struct {
			Data struct {
				ActiveTargets []struct {
					Health    string `json:"health"`
					LastError string `json:"lastError"`
					Labels    map[string]string
				} `json:"activeTargets"`
			} `json:"data"`
		}
		getJSON(t, api+"/api/v1/targets", &res)
		up := len(res.Data.ActiveTargets) == 1 && res.Data.ActiveTargets[0].Health == "up" &&
			res.Data.ActiveTargets[0].Labels["job"] == "distilbert"
		if up && countScrapes(t, api) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target not up with 5 scrapes: %+v\n%s", res.Data.ActiveTargets, promLog.String())
		}
		time.Sleep(500 * time.Millisecond)
	}

	t.Logf("target up after %v", time.Since(t0).Round(time.Millisecond))

	// Every rule evaluates cleanly.
	var rulesRes struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Query     string `json:"query"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	exprs := map[string]string{} // where → expression
	deadline = time.Now().Add(30 * time.Second)
	for {
		getJSON(t, api+"/api/v1/rules", &rulesRes)
		healthy, n := true, 0
		for _, g := range rulesRes.Data.Groups {
			for _, r := range g.Rules {
				n++
				exprs["rule "+r.Name] = r.Query
				if r.Health != "ok" {
					healthy = false
				}
			}
		}
		if n < 6 {
			t.Fatalf("prometheus loaded %d rules", n)
		}
		if healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not healthy: %+v", rulesRes.Data.Groups)
		}
		time.Sleep(500 * time.Millisecond)
	}

	dashboard := dashboardQueries(t, "../grafana/dashboards/distilbert.json")
	for where, q := range dashboard {
		exprs[where] = q
	}
	names := make([]string, 0, len(exprs))
	for where := range exprs {
		names = append(names, where)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, where := range names {
		sels := selectors(exprs[where])
		if len(sels) == 0 {
			t.Errorf("%s: no series selector found in %q", where, exprs[where])
		}
		for _, sel := range sels {
			if seen[sel] {
				continue
			}
			seen[sel] = true
			var res struct {
				Status string           `json:"status"`
				Data   []map[string]any `json:"data"`
			}
			getJSON(t, api+"/api/v1/series?"+url.Values{"match[]": {sel}}.Encode(), &res)
			if len(res.Data) == 0 {
				t.Errorf("%s: selector %s matches no live series", where, sel)
			}
		}
	}
	// A selector of the prediction routes must match each route's own
	// live series, not just any one of them (/predict alone would do).
	inferRoutes := []string{"/predict", "/predict/batch", "/v2/models/{name}/infer"}
	routeSels := 0
	for _, where := range names {
		for _, sel := range selectors(exprs[where]) {
			if !strings.Contains(sel, "path=~") || strings.Contains(sel, `status=~"5..`) {
				continue // not a route selector, or one of 5xx (no 5xx on v2 here)
			}
			routeSels++
			for _, route := range inferRoutes {
				one := strings.TrimSuffix(sel, "}") + fmt.Sprintf(`, path=%q}`, route)
				var res struct {
					Data []map[string]any `json:"data"`
				}
				getJSON(t, api+"/api/v1/series?"+url.Values{"match[]": {one}}.Encode(), &res)
				if len(res.Data) == 0 {
					t.Errorf("%s: selector %s does not count route %s (no live series for %s)", where, sel, route, one)
				}
			}
		}
	}
	if routeSels < 5 {
		t.Errorf("only %d route selectors checked per route; want the latency and request panels and rules", routeSels)
	}
	for _, where := range sortedKeys(dashboard) {
		var res struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []any `json:"result"`
			} `json:"data"`
		}
		getJSON(t, api+"/api/v1/query?"+url.Values{"query": {dashboard[where]}}.Encode(), &res)
		if res.Status != "success" || len(res.Data.Result) == 0 {
			t.Errorf("%s: %q returned nothing (%s %s)", where, dashboard[where], res.Status, res.Error)
		}
	}
	t.Logf("%d expressions, %d distinct selectors checked", len(exprs), len(seen))
}

// post sends body as JSON to u and wants 200.
func post(t *testing.T, client *http.Client, u, body string) {
	t.Helper()
	resp, err := client.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, b)
	}
}

// counter reads one sample, given as its exposition line's name and
// labels, from a /metrics page (0 when absent).
func counter(t *testing.T, u, sample string) float64 {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// burstUntil503 sends bursts of long concurrent texts until one is
// refused with 503 (queue full); false after a few bursts without.
func burstUntil503(t *testing.T, client *http.Client, u string) bool {
	text := strings.Repeat("the plot moves slowly but the acting is superb ", 40)
	for range 5 {
		codes := make(chan int, 16)
		for i := range 16 {
			go func() {
				body := fmt.Sprintf(`{"text":%q}`, fmt.Sprint(i, text))
				resp, err := client.Post(u, "application/json", strings.NewReader(body))
				if err != nil {
					codes <- 0
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		got := false
		for range 16 {
			if <-codes == http.StatusServiceUnavailable {
				got = true
			}
		}
		if got {
			return true
		}
	}
	return false
}

// countScrapes is how many scrapes of the service Prometheus has stored.
func countScrapes(t *testing.T, api string) int {
	var res struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(t, api+"/api/v1/query?"+url.Values{"query": {`count_over_time(up{job="distilbert"}[1m])`}}.Encode(), &res)
	if len(res.Data.Result) != 1 || len(res.Data.Result[0].Value) != 2 {
		return 0
	}
	var n int
	fmt.Sscan(fmt.Sprint(res.Data.Result[0].Value[1]), &n)
	return n
}

// dashboardQueries returns each panel target's expression with Grafana's
// variables set as a viewer of this one service would have them.
func dashboardQueries(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer(`$job`, `distilbert`, `$instance`, `.*`, `$__rate_interval`, `30s`)
	out := map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q target %s has no expression", p.Title, tg.RefID)
				continue
			}
			if strings.Contains(vars.Replace(tg.Expr), "$") {
				t.Errorf("panel %q: unknown variable in %q", p.Title, tg.Expr)
			}
			out[fmt.Sprintf("panel %q %s", p.Title, tg.RefID)] = vars.Replace(tg.Expr)
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d dashboard queries", len(out))
	}
	return out
}

// selectorRE finds the series selectors of a PromQL expression: a metric
// name of this service's families (distilbert_, process_, go_) or up, with
// its label matchers. Function names, label names in by (...) and strings
// cannot match these prefixes.
var selectorRE = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:$"])((?:distilbert|process|go)_[a-zA-Z0-9_]+|up)(\{[^}]*\})?`)

func selectors(expr string) []string {
	var out []string
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

func TestSelectors(t *testing.T) {
	got := selectors(`sum by (le) (rate(distilbert_http_request_duration_seconds_bucket{job="d", path=~"/predict"}[5m])) / up{job="d"} + go_goroutines`)
	want := []string{`distilbert_http_request_duration_seconds_bucket{job="d", path=~"/predict"}`, `up{job="d"}`, `go_goroutines`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", u, err, b)
	}
}

func waitReady(u string, timeout time.Duration, exited <-chan struct{}) error {
	return live.WaitReady(u, timeout, exited)
}

func freePort(t *testing.T) int { return live.FreePort(t) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
