// Package kserve checks the KServe manifests: rendered with kustomize,
// validated strictly against KServe's CRD schemas, and cross-checked
// against the real binary (flags, routes, the v2 protocol, the drain).
package kserve

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/distilbert-go/distilbert/deploy/internal/drain"
	"github.com/distilbert-go/distilbert/deploy/internal/live"
)

// servingRuntime and inferenceService are the fields the cross-checks
// read, decoded after the schema validation (which covers every field).
type servingRuntime struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Annotations           map[string]string `json:"annotations"`
		SupportedModelFormats []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"supportedModelFormats"`
		ProtocolVersions []string           `json:"protocolVersions"`
		Containers       []corev1.Container `json:"containers"`
	} `json:"spec"`
}

type inferenceService struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Predictor struct {
			TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds"`
			Model                         struct {
				Runtime         string `json:"runtime"`
				ProtocolVersion string `json:"protocolVersion"`
				ModelFormat     struct {
					Name    string `json:"name"`
					Version string `json:"version"`
				} `json:"modelFormat"`
				StorageURI string          `json:"storageUri"`
				Args       []string        `json:"args"`
				Env        []corev1.EnvVar `json:"env"`
			} `json:"model"`
		} `json:"predictor"`
	} `json:"spec"`
}

type rendered struct {
	runtimes []*servingRuntime
	isvcs    []*inferenceService
}

var schemas = func() map[string]*schema {
	out := map[string]*schema{}
	for _, f := range []string{"servingruntimes", "inferenceservices"} {
		m, err := loadCRD(filepath.Join("testdata", "serving.kserve.io_"+f+".yaml.gz"))
		if err != nil {
			panic(err)
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}()

// render runs kustomize on dir in fs and validates every object against
// its CRD schema; metadata, which CRD schemas leave open, is decoded
// strictly into metav1.ObjectMeta as the API server does.
func render(fs filesys.FileSystem, dir string) (*rendered, error) {
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	r := &rendered{}
	for _, res := range resMap.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSONStrict(y)
		if err != nil {
			return nil, err
		}
		id := res.GetApiVersion() + " " + res.GetKind()
		s := schemas[id]
		if s == nil {
			return nil, fmt.Errorf("%s %s: no CRD schema for %s", res.GetKind(), res.GetName(), id)
		}
		v, err := decodeJSON(j)
		if err != nil {
			return nil, err
		}
		// A CRD schema says only "metadata: type: object"; the API server
		// checks metadata as ObjectMeta, below.
		if m, ok := v.(map[string]any); ok {
			delete(m, "metadata")
		}
		if errs := s.validate(res.GetKind(), v); len(errs) > 0 {
			return nil, fmt.Errorf("%s %s:\n%s", res.GetKind(), res.GetName(), joinErrs(errs))
		}
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := decodeStrict(j, &meta, "apiVersion", "kind", "spec", "status"); err != nil {
			return nil, fmt.Errorf("%s %s metadata: %w", res.GetKind(), res.GetName(), err)
		}
		switch res.GetKind() {
		case "ServingRuntime":
			o := &servingRuntime{}
			err, r.runtimes = kjson.UnmarshalCaseSensitivePreserveInts(j, o), append(r.runtimes, o)
		case "InferenceService":
			o := &inferenceService{}
			err, r.isvcs = kjson.UnmarshalCaseSensitivePreserveInts(j, o), append(r.isvcs, o)
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// decodeStrict decodes j into obj failing on unknown or duplicate fields,
// except the top-level ones named in skip (checked elsewhere).
func decodeStrict(j []byte, obj any, skip ...string) error {
	strictErrs, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	var keep []error
	for _, e := range strictErrs {
		skipped := false
		for _, s := range skip {
			skipped = skipped || strings.Contains(e.Error(), `unknown field "`+s+`"`)
		}
		if !skipped {
			keep = append(keep, e)
		}
	}
	return errors.Join(keep...)
}

func TestManifests(t *testing.T) {
	r, err := render(filesys.MakeFsOnDisk(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.runtimes) != 1 || len(r.isvcs) != 2 {
		t.Fatalf("%d ServingRuntimes, %d InferenceServices: want 1 and 2", len(r.runtimes), len(r.isvcs))
	}
	rt := r.runtimes[0]
	if len(rt.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(rt.Spec.Containers))
	}
	c := rt.Spec.Containers[0]
	if c.Name != "kserve-container" {
		t.Errorf("container %q: KServe merges the InferenceService's model into kserve-container", c.Name)
	}

	// Every argument after serve is a real flag, and --addr's port is the
	// container port that the probes and the metrics annotation use.
	flags := live.ServeFlags(t)
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("args %v: want serve first", c.Args)
	}
	var port int32
	if len(c.Ports) == 1 {
		port = c.Ports[0].ContainerPort
	}
	checkFlags(t, "ServingRuntime", c.Args[1:], flags)
	if addr := flagValue(c.Args, "addr"); !strings.HasSuffix(addr, fmt.Sprintf(":%d", port)) {
		t.Errorf("--addr %q does not listen on the container port %d", addr, port)
	}
	if p := rt.Spec.Annotations["prometheus.kserve.io/port"]; p != strconv.Itoa(int(port)) {
		t.Errorf("prometheus.kserve.io/port %q, container port %d", p, port)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(e.Name, "DISTILBERT_"), "_", "-"))
		if !strings.HasPrefix(e.Name, "DISTILBERT_") || !flags[name] {
			t.Errorf("env %s is not a flag of distilbert serve", e.Name)
		}
	}
	for _, is := range r.isvcs {
		checkFlags(t, "InferenceService "+is.Metadata.Name, is.Spec.Predictor.Model.Args, flags)
	}

	// The drain fits: KServe's ServingRuntime has no
	// terminationGracePeriodSeconds, so the predictor pod gets the
	// InferenceService's or else Kubernetes' default (30 s; Knative
	// serverless mode uses its revision timeout, longer still).
	delay, grace, err := drain.Env(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range r.isvcs {
		kill := 30 * time.Second
		if tg := is.Spec.Predictor.TerminationGracePeriodSeconds; tg != nil {
			kill = time.Duration(*tg) * time.Second
		}
		p := drain.Plan{Delay: delay, Grace: grace, Kill: kill}
		if rp := c.ReadinessProbe; rp != nil {
			p.ReadinessPeriod, p.ReadinessFailures = time.Duration(rp.PeriodSeconds)*time.Second, rp.FailureThreshold
		}
		if rp := c.ReadinessProbe; rp == nil || rp.PeriodSeconds == 0 {
			t.Error("readiness probe without periodSeconds: the drain check needs it explicit")
		}
		for _, e := range p.Check() {
			t.Errorf("InferenceService %s: %v", is.Metadata.Name, e)
		}
	}

	// The InferenceServices select this runtime, its format and protocol.
	for _, is := range r.isvcs {
		m := is.Spec.Predictor.Model
		if m.Runtime != rt.Metadata.Name {
			t.Errorf("%s: runtime %q, want %q", is.Metadata.Name, m.Runtime, rt.Metadata.Name)
		}
		ok := false
		for _, f := range rt.Spec.SupportedModelFormats {
			ok = ok || (f.Name == m.ModelFormat.Name && f.Version == m.ModelFormat.Version)
		}
		if !ok {
			t.Errorf("%s: model format %+v not supported by the runtime %+v", is.Metadata.Name, m.ModelFormat, rt.Spec.SupportedModelFormats)
		}
		if len(rt.Spec.ProtocolVersions) != 1 || m.ProtocolVersion != rt.Spec.ProtocolVersions[0] || m.ProtocolVersion != "v2" {
			t.Errorf("%s: protocol %q, runtime %v: want v2", is.Metadata.Name, m.ProtocolVersion, rt.Spec.ProtocolVersions)
		}
		// KServe's storage initializer puts storageUri's files in /mnt/models.
		if (m.StorageURI != "") != (flagValue(m.Args, "model") == "/mnt/models") {
			t.Errorf("%s: storageUri %q with args %v: want --model=/mnt/models exactly when there is a storageUri", is.Metadata.Name, m.StorageURI, m.Args)
		}
	}

	// The real binary, run with the runtime's arguments and environment as
	// KServe would for InferenceService "sentiment": the probe and metrics
	// paths answer 200 on the container port, and the v2 route named by
	// --served-model-name={{.Name}} infers.
	for _, e := range c.Env {
		t.Setenv(e.Name, e.Value)
	}
	var args []string
	for _, a := range c.Args[1:] {
		if strings.HasPrefix(a, "--addr") {
			continue // live.Start listens on a free loopback port instead
		}
		args = append(args, strings.ReplaceAll(a, "{{.Name}}", "sentiment"))
	}
	s := live.Start(t, live.FreePort(t), args...)
	base := "http://" + s.Addr
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", name)
			continue
		}
		if p.HTTPGet.Port.IntValue() != int(port) {
			t.Errorf("%s probe port %s, container port %d", name, p.HTTPGet.Port.String(), port)
		}
		if !strings.HasPrefix(p.HTTPGet.Path, "/v2/health/") {
			t.Errorf("%s probe %s: want the protocol's /v2/health routes", name, p.HTTPGet.Path)
		}
		get(t, base+p.HTTPGet.Path, 200)
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/v2/health/ready" {
		t.Errorf("readiness probe %s: want /v2/health/ready, which follows /readyz", c.ReadinessProbe.HTTPGet.Path)
	}
	get(t, base+rt.Spec.Annotations["prometheus.kserve.io/path"], 200)
	get(t, base+"/v2/models/sentiment/ready", 200)
	resp, err := http.Post(base+"/v2/models/sentiment/infer", "application/json",
		strings.NewReader(`{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["loved it"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"model_name":"sentiment"`) {
		t.Errorf("POST /v2/models/sentiment/infer: %d %s", resp.StatusCode, body)
	}
}

// checkFlags fails on an argument that is not --flag or --flag=value of a
// real flag of distilbert serve.
func checkFlags(t *testing.T, what string, args []string, flags map[string]bool) {
	t.Helper()
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !flags[name] {
			t.Errorf("%s: argument %q is not a flag of distilbert serve", what, a)
		}
	}
}

// flagValue is the value of --name=value in args ("" when absent).
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), name+"="); ok {
			return v
		}
	}
	return ""
}

func get(t *testing.T, url string, want int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Errorf("GET %s on the real service: %d, want %d", url, resp.StatusCode, want)
	}
}

// TestTypoFails renders broken copies: a misspelt field, a wrong type or
// a misspelt metadata field must fail, so the checks above cannot pass
// vacuously.
func TestTypoFails(t *testing.T) {
	for _, tc := range []struct{ file, from, to string }{
		{"servingruntime.yaml", "supportedModelFormats:", "supportedModelFormat:"},
		{"servingruntime.yaml", "readinessProbe:", "readinesProbe:"},
		{"servingruntime.yaml", "readOnlyRootFilesystem:", "readOnlyRootFileSystem:"},
		{"servingruntime.yaml", "containerPort: 8080", `containerPort: "8080"`},
		{"servingruntime.yaml", "multiModel: false", "multiModel: no-thanks"},
		{"servingruntime.yaml", "  labels:", "  label:"},
		{"inferenceservice.yaml", "protocolVersion:", "protocolVersions:"},
		{"inferenceservice.yaml", "minReplicas:", "minReplica:"},
		{"inferenceservice-checkpoint.yaml", "storageUri:", "storageURI:"},
		{"inferenceservice-checkpoint.yaml", "maxReplicas: 4", "maxReplicas: 4.5"},
	} {
		t.Run(tc.file+"/"+tc.to, func(t *testing.T) {
			fs := filesys.MakeFsInMemory()
			for _, f := range []string{"kustomization.yaml", "servingruntime.yaml", "inferenceservice.yaml", "inferenceservice-checkpoint.yaml"} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if f == tc.file {
					if !strings.Contains(string(b), tc.from) {
						t.Fatalf("%s has no %q", f, tc.from)
					}
					b = []byte(strings.Replace(string(b), tc.from, tc.to, 1))
				}
				if err := fs.WriteFile("/kserve/"+f, b); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := render(fs, "/kserve"); err == nil {
				t.Errorf("%s with %q rendered and validated without error", tc.file, tc.to)
			} else {
				t.Logf("as expected: %v", err)
			}
		})
	}
}
