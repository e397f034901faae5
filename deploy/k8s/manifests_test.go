// Package k8s renders the kustomize base and overlays beside it and checks
// every object strictly against its Go API type and against the service.
package k8s

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/distilbert-go/distilbert/deploy/internal/drain"
	"github.com/distilbert-go/distilbert/deploy/internal/live"
)

// rendered is one kustomization's output, each object decoded strictly.
type rendered struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  []*corev1.ConfigMap
	pvcs        []*corev1.PersistentVolumeClaim
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
	netpols     []*networkingv1.NetworkPolicy
	monitors    []*monitoringv1.ServiceMonitor
	promRules   []*monitoringv1.PrometheusRule
	kinds       map[string]int
}

// render runs kustomize on dir (a path in fs) and strictly decodes every
// object into its API type: an unknown or misspelt field is an error.
func render(fs filesys.FileSystem, dir string) (*rendered, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	r := &rendered{kinds: map[string]int{}}
	for _, res := range resMap.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			return nil, err
		}
		kind := res.GetKind()
		var obj any
		switch kind {
		case "Deployment":
			o := &appsv1.Deployment{}
			r.deployments, obj = append(r.deployments, o), o
		case "Service":
			o := &corev1.Service{}
			r.services, obj = append(r.services, o), o
		case "ConfigMap":
			o := &corev1.ConfigMap{}
			r.configMaps, obj = append(r.configMaps, o), o
		case "PersistentVolumeClaim":
			o := &corev1.PersistentVolumeClaim{}
			r.pvcs, obj = append(r.pvcs, o), o
		case "HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			r.hpas, obj = append(r.hpas, o), o
		case "PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			r.pdbs, obj = append(r.pdbs, o), o
		case "NetworkPolicy":
			o := &networkingv1.NetworkPolicy{}
			r.netpols, obj = append(r.netpols, o), o
		case "ServiceMonitor":
			o := &monitoringv1.ServiceMonitor{}
			r.monitors, obj = append(r.monitors, o), o
		case "PrometheusRule":
			o := &monitoringv1.PrometheusRule{}
			r.promRules, obj = append(r.promRules, o), o
		default:
			return nil, fmt.Errorf("%s: kind %s has no Go type in this test", res.CurId(), kind)
		}
		if err := decodeStrict(y, obj); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, res.GetName(), err)
		}
		r.kinds[kind]++
	}
	return r, nil
}

// decodeStrict decodes YAML as the API server does in strict mode: field
// names match case-sensitively (encoding/json would not), and unknown or
// duplicate fields are errors.
func decodeStrict(y []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(y)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

func TestBase(t *testing.T) {
	r, err := render(filesys.MakeFsOnDisk(), "base")
	if err != nil {
		t.Fatal(err)
	}
	for kind, n := range map[string]int{"Deployment": 1, "Service": 1, "ConfigMap": 1, "HorizontalPodAutoscaler": 1,
		"PodDisruptionBudget": 1, "NetworkPolicy": 1} {
		if r.kinds[kind] != n {
			t.Errorf("%d %s, want %d", r.kinds[kind], kind, n)
		}
	}
	crossCheck(t, r)
}

func TestExampleOverlay(t *testing.T) {
	r, err := render(filesys.MakeFsOnDisk(), "overlays/example")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.monitors) != 1 || len(r.promRules) != 1 || len(r.pvcs) != 1 {
		t.Fatalf("overlay kinds %v: want the monitoring and model-volume components", r.kinds)
	}
	crossCheck(t, r)
	d := r.deployments[0]
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/distilbert:v0.1.0" {
		t.Errorf("overlay image %q", img)
	}
	// The model volume is mounted read-only where DISTILBERT_MODEL points.
	model := r.configMaps[0].Data["DISTILBERT_MODEL"]
	mounted := false
	for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		if m.Name == "models" && m.ReadOnly && strings.HasPrefix(model, m.MountPath+"/") {
			mounted = true
		}
	}
	var claim string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "models" && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if !mounted || claim != r.pvcs[0].Name {
		t.Errorf("DISTILBERT_MODEL=%q not under a read-only mount of claim %q (claim in the volume %q)", model, r.pvcs[0].Name, claim)
	}

	// The ServiceMonitor scrapes the Service's named port at /metrics, as
	// job="distilbert" (what the rules and dashboard select).
	sm, svc := r.monitors[0], r.services[0]
	sel, err := metav1LabelSelector(sm.Spec.Selector.MatchLabels)
	if err != nil || !sel.Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor selector %v does not match the Service's labels %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if svc.Labels[sm.Spec.JobLabel] != "distilbert" {
		t.Errorf("ServiceMonitor jobLabel %q gives job %q, the rules select job=\"distilbert\"", sm.Spec.JobLabel, svc.Labels[sm.Spec.JobLabel])
	}
	for _, ep := range sm.Spec.Endpoints {
		if ep.Port != svc.Spec.Ports[0].Name || ep.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint %+v: want port %q path /metrics", ep, svc.Spec.Ports[0].Name)
		}
	}
	if n := len(r.promRules[0].Spec.Groups); n == 0 || len(r.promRules[0].Spec.Groups[0].Rules) < 6 {
		t.Errorf("PrometheusRule has %d groups", n)
	}
}

func metav1LabelSelector(m map[string]string) (labels.Selector, error) {
	if len(m) == 0 {
		return nil, fmt.Errorf("empty selector")
	}
	return labels.SelectorFromSet(m), nil
}

// crossCheck checks what makes the objects work together: selectors,
// ports, probes against the real routes, flags against the real binary,
// the drain against the grace period, the HPA target.
func crossCheck(t *testing.T, r *rendered) {
	t.Helper()
	if len(r.deployments) != 1 || len(r.services) != 1 || len(r.configMaps) != 1 {
		t.Fatalf("kinds %v", r.kinds)
	}
	d, svc, cm := r.deployments[0], r.services[0], r.configMaps[0]
	pod := d.Spec.Template
	podLabels := labels.Set(pod.Labels)
	mustMatch := func(what string, m map[string]string) {
		t.Helper()
		if len(m) == 0 || !labels.SelectorFromSet(m).Matches(podLabels) {
			t.Errorf("%s selector %v does not match the pod labels %v", what, m, pod.Labels)
		}
	}
	mustMatch("Deployment", d.Spec.Selector.MatchLabels)
	mustMatch("Service", svc.Spec.Selector)
	for _, pdb := range r.pdbs {
		mustMatch("PodDisruptionBudget", pdb.Spec.Selector.MatchLabels)
	}
	for _, np := range r.netpols {
		mustMatch("NetworkPolicy", np.Spec.PodSelector.MatchLabels)
	}
	for _, c := range pod.Spec.TopologySpreadConstraints {
		mustMatch("topology spread "+c.TopologyKey, c.LabelSelector.MatchLabels)
	}
	zones := false
	for _, c := range pod.Spec.TopologySpreadConstraints {
		zones = zones || c.TopologyKey == "topology.kubernetes.io/zone"
	}
	if !zones {
		t.Error("no topology spread across zones")
	}

	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	// The container port is where the service listens (DISTILBERT_ADDR).
	addr := cm.Data["DISTILBERT_ADDR"]
	if addr == "" || !strings.HasSuffix(addr, fmt.Sprintf(":%d", ports["http"])) {
		t.Errorf("DISTILBERT_ADDR %q, container port http %d", addr, ports["http"])
	}
	for _, sp := range svc.Spec.Ports {
		if _, ok := ports[sp.TargetPort.String()]; !ok && sp.TargetPort.IntValue() != int(ports["http"]) {
			t.Errorf("Service port %s targets %s, not a container port %v", sp.Name, sp.TargetPort.String(), ports)
		}
	}
	probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe}
	wantPath := map[string]string{"liveness": "/healthz", "readiness": "/readyz", "startup": "/readyz"}
	for name, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", name)
			continue
		}
		if p.HTTPGet.Path != wantPath[name] {
			t.Errorf("%s probe path %q, want %q", name, p.HTTPGet.Path, wantPath[name])
		}
		if _, ok := ports[p.HTTPGet.Port.String()]; !ok {
			t.Errorf("%s probe port %s is not a named container port", name, p.HTTPGet.Port.String())
		}
		checkRoute(t, p.HTTPGet.Path)
	}
	checkRoute(t, "/metrics")

	// Hardening.
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context %+v", sc)
	}
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod security context %+v: want runAsNonRoot, uid 65532", psc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("no CPU request (the HPA needs it) or memory limit")
	}

	// The flags: the container reads the ConfigMap, and every key is a
	// flag of the real `distilbert serve`.
	fromCM := false
	for _, e := range c.EnvFrom {
		fromCM = fromCM || (e.ConfigMapRef != nil && e.ConfigMapRef.Name == cm.Name)
	}
	if !fromCM {
		t.Errorf("the container does not read ConfigMap %s", cm.Name)
	}
	flags := live.ServeFlags(t)
	for key := range cm.Data {
		name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(key, "DISTILBERT_"), "_", "-"))
		if !strings.HasPrefix(key, "DISTILBERT_") || !flags[name] {
			t.Errorf("ConfigMap key %s is not a flag of distilbert serve", key)
		}
	}

	for _, e := range drainErrs(r) {
		t.Error(e)
	}

	// The read-only root has writable mounts for the cache and /tmp.
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = true
	}
	home := ""
	for _, e := range c.Env {
		if e.Name == "HF_HOME" {
			home = e.Value
		}
	}
	if !mounts["/tmp"] || home == "" || !mounts[filepath.Dir(home)] {
		t.Errorf("HF_HOME %q and /tmp need writable mounts, have %v", home, mounts)
	}

	for _, h := range r.hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
			t.Errorf("HPA targets %+v, not Deployment %s", ref, d.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("HPA replicas %v..%d", h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
	}
	if len(r.hpas) != 1 {
		t.Errorf("%d HPAs", len(r.hpas))
	}
}

// drainErrs checks the rendered deployment's shutdown arithmetic (see
// drain.Plan): the ConfigMap's delay and grace, the preStop sleep if any,
// terminationGracePeriodSeconds and the readiness probe.
func drainErrs(r *rendered) []error {
	cm, pod := r.configMaps[0], r.deployments[0].Spec.Template.Spec
	c := pod.Containers[0]
	delay, grace, err := drain.Env(cm.Data)
	if err != nil {
		return []error{err}
	}
	p := drain.Plan{Delay: delay, Grace: grace}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		p.PreStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if tg := pod.TerminationGracePeriodSeconds; tg != nil {
		p.Kill = time.Duration(*tg) * time.Second
	} else {
		p.Kill = 30 * time.Second // the API server's default
	}
	rp := c.ReadinessProbe
	if rp == nil || rp.PeriodSeconds == 0 {
		return []error{fmt.Errorf("readiness probe without periodSeconds: the drain check needs it explicit")}
	}
	p.ReadinessPeriod, p.ReadinessFailures = time.Duration(rp.PeriodSeconds)*time.Second, rp.FailureThreshold
	return p.Check()
}

var serveURL string

// checkRoute asks a real `distilbert serve` for path: it must answer 200.
func checkRoute(t *testing.T, path string) {
	t.Helper()
	if serveURL == "" {
		s := live.Start(t, live.FreePort(t))
		serveURL = "http://" + s.Addr
		// Shared by the tests of this package; stopped when the first
		// test using it ends, so start it again in the next.
		t.Cleanup(func() { serveURL = "" })
	}
	resp, err := http.Get(serveURL + path)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s on the real service: %d", path, resp.StatusCode)
	}
}

// TestTypoFails renders broken copies: a misspelt field anywhere must make
// the strict decode fail, so the checks above cannot pass vacuously.
func TestTypoFails(t *testing.T) {
	for _, tc := range []struct{ file, from, to string }{
		{"base/deployment.yaml", "readinessProbe:", "readinesProbe:"},
		{"base/deployment.yaml", "readOnlyRootFilesystem:", "readOnlyRootFileSystem:"},
		{"base/service.yaml", "targetPort:", "target_port:"},
		{"base/hpa.yaml", "averageUtilization:", "averageUtilisation:"},
		{"base/pdb.yaml", "maxUnavailable:", "maxUnavailible:"},
		{"base/networkpolicy.yaml", "policyTypes:", "policyType:"},
		{"components/monitoring/servicemonitor.yaml", "scrapeTimeout:", "scrape_timeout:"},
		{"components/monitoring/prometheusrule.yaml", "annotations:", "anotations:"},
		{"components/model-volume/pvc.yaml", "accessModes:", "accessMode:"},
	} {
		t.Run(tc.file+"/"+tc.to, func(t *testing.T) {
			fs := brokenCopy(t, tc.file, tc.from, tc.to)
			if _, err := render(fs, "/k8s/overlays/example"); err == nil {
				t.Errorf("%s with %q rendered and decoded without error", tc.file, tc.to)
			} else {
				t.Logf("as expected: %v", err)
			}
		})
	}
}

// brokenCopy is an in-memory copy of the manifests, at /k8s, with the
// first from in file replaced by to.
func brokenCopy(t *testing.T, file, from, to string) filesys.FileSystem {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	copyTree(t, fs, ".", "/k8s")
	p := filepath.Join("/k8s", file)
	b, err := fs.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		t.Fatalf("%s has no %q", file, from)
	}
	if err := fs.WriteFile(p, []byte(strings.Replace(string(b), from, to, 1))); err != nil {
		t.Fatal(err)
	}
	return fs
}

// copyTree copies the YAML files under dir on disk into fs at to.
func copyTree(t *testing.T, fs filesys.FileSystem, dir, to string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		target := filepath.Join(to, p)
		if err := fs.MkdirAll(filepath.Dir(target)); err != nil {
			return err
		}
		return fs.WriteFile(target, b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDrainBrokenCopies renders copies whose shutdown settings do not fit
// together; each must fail the drain check that TestBase passes.
func TestDrainBrokenCopies(t *testing.T) {
	for _, tc := range []struct{ file, from, to string }{
		{"base/deployment.yaml", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 20"},
		{"base/configmap.yaml", `DISTILBERT_SHUTDOWN_DELAY: "8s"`, `DISTILBERT_SHUTDOWN_DELAY: "12s"`},
		{"base/configmap.yaml", `DISTILBERT_SHUTDOWN_DELAY: "8s"`, `DISTILBERT_SHUTDOWN_DELAY: "4s"`},
		{"base/configmap.yaml", `  DISTILBERT_SHUTDOWN_DELAY: "8s"` + "\n", ""},
		{"base/deployment.yaml", "periodSeconds: 3\n            failureThreshold: 2", "periodSeconds: 5\n            failureThreshold: 2"},
		{"base/deployment.yaml", "          volumeMounts:", "          lifecycle:\n            preStop:\n              sleep:\n                seconds: 15\n          volumeMounts:"},
	} {
		t.Run(tc.file+"/"+strings.Fields(tc.to + " removed")[0], func(t *testing.T) {
			fs := brokenCopy(t, tc.file, tc.from, tc.to)
			r, err := render(fs, "/k8s/base")
			if err != nil {
				t.Fatal(err)
			}
			if errs := drainErrs(r); len(errs) == 0 {
				t.Errorf("%s with %q passes the drain check", tc.file, tc.to)
			} else {
				t.Logf("as expected: %v", errs)
			}
		})
	}
}
