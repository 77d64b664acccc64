package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// k8sObject is what TestKubernetesManifests reads of deploy/kubernetes.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string
	Metadata   struct{ Name string }
	Spec       struct {
		Replicas *int
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		}
		Strategy struct {
			RollingUpdate struct {
				MaxUnavailable any `yaml:"maxUnavailable"`
			} `yaml:"rollingUpdate"`
		}
		MinAvailable   any `yaml:"minAvailable"`
		MaxUnavailable any `yaml:"maxUnavailable"`
		Ports          []struct {
			Name       string
			Port       int
			TargetPort any `yaml:"targetPort"`
		}
		Template struct {
			Metadata struct {
				Labels      map[string]string
				Annotations map[string]string
			}
			Spec podSpec
		}
	}
	// A Service's selector is a plain map.
	ServiceSelector map[string]string `yaml:"-"`
}

type podSpec struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
		RunAsGroup   int  `yaml:"runAsGroup"`
	} `yaml:"securityContext"`
	Containers []struct {
		Name  string
		Ports []struct {
			Name          string
			ContainerPort int `yaml:"containerPort"`
		}
		Env []struct {
			Name      string
			Value     *string
			ValueFrom any `yaml:"valueFrom"`
		}
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		Lifecycle      struct {
			PreStop struct {
				Sleep struct{ Seconds int }
			} `yaml:"preStop"`
		}
		Resources struct {
			Requests map[string]string
			Limits   map[string]string
		}
		SecurityContext struct {
			ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
}

type probe struct {
	HTTPGet struct {
		Path string
		Port any
	} `yaml:"httpGet"`
}

func readManifests(t *testing.T) map[string]k8sObject {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("deploy", "kubernetes", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	objects := map[string]k8sObject{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var node yaml.Node
			if err := dec.Decode(&node); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			var o k8sObject
			if err := node.Decode(&o); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if o.Kind == "Service" {
				var svc struct {
					Spec struct{ Selector map[string]string }
				}
				if err := node.Decode(&svc); err != nil {
					t.Fatal(err)
				}
				o.ServiceSelector = svc.Spec.Selector
			}
			if _, dup := objects[o.Kind]; dup {
				t.Fatalf("two %s objects", o.Kind)
			}
			objects[o.Kind] = o
		}
	}
	return objects
}

// TestKubernetesManifests parses deploy/kubernetes and checks it against the
// server's settings (through loadConfig, as the server would read the
// Deployment's environment) and the image (Containerfile).
func TestKubernetesManifests(t *testing.T) {
	objects := readManifests(t)
	dep, svc, pdb := objects["Deployment"], objects["Service"], objects["PodDisruptionBudget"]
	if dep.APIVersion != "apps/v1" || svc.APIVersion != "v1" || pdb.APIVersion != "policy/v1" {
		t.Fatalf("want a Deployment (apps/v1), a Service (v1) and a PodDisruptionBudget (policy/v1); got %v", slices.Collect(func(yield func(string) bool) {
			for k, o := range objects {
				if !yield(k + " " + o.APIVersion) {
					return
				}
			}
		}))
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The environment, read by the server's own configuration code, with a
	// stand-in for each value kept in a Secret.
	fromSecrets := map[string]string{
		"DATABASE_URL":       "postgres://from-a-secret@db.example/sessionhub",
		"DATABASE_READ_URLS": "postgres://from-a-secret@standby.example/sessionhub",
		"NATS_URL":           "nats://from-a-secret@nats.example:4222",
	}
	env := map[string]string{}
	known := map[string]bool{"GOMEMLIMIT": true, "GOGC": true}
	for _, s := range settings {
		known[s.env] = true
	}
	for _, e := range c.Env {
		if !known[e.Name] && !strings.HasPrefix(e.Name, "OTEL_") {
			t.Errorf("env %s is not a sessionhub setting", e.Name)
		}
		switch {
		case e.Value != nil:
			env[e.Name] = *e.Value
		case e.ValueFrom != nil:
			v, ok := fromSecrets[e.Name]
			if !ok {
				t.Errorf("env %s comes from a Secret the test has no stand-in for", e.Name)
			}
			env[e.Name] = v
		}
	}
	cfg, err := loadConfig([]string{"sessionhub"}, envOf(env), io.Discard)
	if err != nil {
		t.Fatalf("the Deployment's environment does not load: %v", err)
	}
	if cfg.DatabaseURL == "" {
		t.Error("DATABASE_URL is unset: several replicas need PostgreSQL (SQLite is one process)")
	}

	// Port: the container's named port is the one the server listens on,
	// and the Service and probes use it by name.
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || strconv.Itoa(c.Ports[0].ContainerPort) != cfg.Port {
		t.Errorf("container ports %+v, want one named http on %s (PORT)", c.Ports, cfg.Port)
	}
	for _, p := range []struct {
		name string
		got  *probe
		path string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.got == nil || p.got.HTTPGet.Path != p.path || p.got.HTTPGet.Port != "http" {
			t.Errorf("%s probe %+v, want GET %s on port http", p.name, p.got, p.path)
		}
	}

	// Shutdown: the pod may take the preStop sleep plus the server's whole
	// drain before it is killed.
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second
	if grace <= preStop+cfg.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %s must exceed the preStop sleep %s + SHUTDOWN_TIMEOUT_SECONDS %s", grace, preStop, cfg.ShutdownTimeout)
	}
	def, err := strconv.Atoi(settingDefault(t, "SHUTDOWN_TIMEOUT_SECONDS"))
	if err != nil || grace <= preStop+time.Duration(def)*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s must also exceed the preStop sleep + the default SHUTDOWN_TIMEOUT_SECONDS (%d s)", grace, def)
	}

	// Resources from the measured RSS (89-97 MB under load, README) and the
	// memory alert (300 MB): requested above the measurement, limited above
	// the alert so the alert comes before the OOM kill.
	request, limit := mebibytes(t, c.Resources.Requests["memory"]), mebibytes(t, c.Resources.Limits["memory"])
	if request*(1<<20) < 97e6 || limit*(1<<20) <= 300e6 || c.Resources.Requests["cpu"] == "" {
		t.Errorf("resources %+v: want memory requested above the measured 97 MB, limited above the 300 MB alert, and a CPU request", c.Resources)
	}

	// The image: it exposes the default port, and runs as the pod's user
	// with its volume mounted (the root is read-only).
	if exposed := containerfileValue(t, "EXPOSE"); exposed != settingDefault(t, "PORT") {
		t.Errorf("Containerfile exposes %s, the default PORT is %s", exposed, settingDefault(t, "PORT"))
	}
	user, volume := containerfileValue(t, "USER"), containerfileValue(t, "VOLUME")
	if strconv.Itoa(pod.SecurityContext.RunAsUser)+":"+strconv.Itoa(pod.SecurityContext.RunAsGroup) != user || !pod.SecurityContext.RunAsNonRoot {
		t.Errorf("pod runs as %d:%d (non-root %v), the image as %s", pod.SecurityContext.RunAsUser, pod.SecurityContext.RunAsGroup, pod.SecurityContext.RunAsNonRoot, user)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || `["`+m.MountPath+`"]` == volume
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem || !mounted {
		t.Errorf("want a read-only root and the image's volume %s mounted: %+v", volume, c.VolumeMounts)
	}

	// Selectors: Deployment, Service and budget pick the same pods, and a
	// rollout or a drain never takes a ready replica away before another is up.
	labels := dep.Spec.Template.Metadata.Labels
	for name, sel := range map[string]map[string]string{
		"Deployment": dep.Spec.Selector.MatchLabels, "Service": svc.ServiceSelector, "PodDisruptionBudget": pdb.Spec.Selector.MatchLabels,
	} {
		if len(sel) == 0 {
			t.Errorf("%s has no selector", name)
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%s, the pods are labelled %v", name, k, v, labels)
			}
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != "http" {
		t.Errorf("service ports %+v, want one targeting the named port http", svc.Spec.Ports)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 || dep.Spec.Strategy.RollingUpdate.MaxUnavailable != 0 {
		t.Errorf("want at least 2 replicas and maxUnavailable 0 in rollouts")
	}
	if pdb.Spec.MaxUnavailable != 1 && pdb.Spec.MinAvailable == nil {
		t.Errorf("PodDisruptionBudget: maxUnavailable %v, minAvailable %v", pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
	}
	if a := dep.Spec.Template.Metadata.Annotations; a["prometheus.io/port"] != cfg.Port || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v, want port %s and /metrics", a, cfg.Port)
	}
}

func settingDefault(t *testing.T, env string) string {
	t.Helper()
	for _, s := range settings {
		if s.env == env {
			return s.def
		}
	}
	t.Fatalf("no setting %s", env)
	return ""
}

// mebibytes reads a Kubernetes memory quantity written in Mi or Gi.
func mebibytes(t *testing.T, q string) int64 {
	t.Helper()
	for suffix, factor := range map[string]int64{"Mi": 1, "Gi": 1024} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err == nil {
				return v * factor
			}
		}
	}
	t.Fatalf("memory quantity %q: write it in Mi or Gi", q)
	return 0
}

// containerfileValue returns the argument of Containerfile's instruction.
func containerfileValue(t *testing.T, instruction string) string {
	t.Helper()
	raw, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, instruction+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("Containerfile has no %s", instruction)
	return ""
}
