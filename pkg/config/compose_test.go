package config_test

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	"gopkg.in/yaml.v3"

	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/envelope"
)

// repoRoot is the repository root relative to this package's directory, where
// go test runs.
const repoRoot = "../.."

// composeFile is the subset of a Compose file the tests look at. Fields whose
// Compose syntax has several forms are kept as nodes and decoded by helpers.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string    `yaml:"image"`
	Build       yaml.Node `yaml:"build"`       // "ctx" or {context, dockerfile}
	Environment yaml.Node `yaml:"environment"` // map or ["K=V", "K"]
	Volumes     yaml.Node `yaml:"volumes"`     // ["src:dst[:mode]"] or [{source, target, read_only}]
	DependsOn   yaml.Node `yaml:"depends_on"`  // [name] or {name: {...}}
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("parse docker-compose.yml: %v", err)
	}
	return c
}

func service(t *testing.T, c composeFile, name string) composeService {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no %q service", name)
	}
	return s
}

// environment decodes a service's environment in map form or list form. A
// variable listed without a value ("K" or "K:") maps to "".
func environment(t *testing.T, n yaml.Node) map[string]string {
	t.Helper()
	env := map[string]string{}
	switch n.Kind {
	case 0:
	case yaml.MappingNode:
		var m map[string]*string
		if err := n.Decode(&m); err != nil {
			t.Fatalf("environment: %v", err)
		}
		for k, v := range m {
			if v != nil {
				env[k] = *v
			} else {
				env[k] = ""
			}
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			t.Fatalf("environment: %v", err)
		}
		for _, e := range l {
			k, v, _ := strings.Cut(e, "=")
			env[k] = v
		}
	default:
		t.Fatalf("environment is neither a map nor a list (line %d)", n.Line)
	}
	return env
}

func TestEnvironmentForms(t *testing.T) {
	tests := []struct {
		name, doc string
		want      map[string]string
	}{
		{"map", "A: x\nB: ${Y:-d}\nC:\n", map[string]string{"A": "x", "B": "${Y:-d}", "C": ""}},
		{"list", "- A=x\n- B=${Y:-d}\n- C\n- D=a=b\n", map[string]string{"A": "x", "B": "${Y:-d}", "C": "", "D": "a=b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatal(err)
			}
			got := environment(t, *doc.Content[0])
			if len(got) != len(tt.want) {
				t.Fatalf("environment = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("environment[%q] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// buildContext returns the build context of a service ("" when it has none).
func buildContext(t *testing.T, n yaml.Node) string {
	t.Helper()
	switch n.Kind {
	case 0:
		return ""
	case yaml.ScalarNode:
		return n.Value
	case yaml.MappingNode:
		var b struct {
			Context string `yaml:"context"`
		}
		if err := n.Decode(&b); err != nil {
			t.Fatalf("build: %v", err)
		}
		if b.Context == "" {
			return "."
		}
		return b.Context
	}
	t.Fatalf("build is neither a string nor a map (line %d)", n.Line)
	return ""
}

// volumeMount is one volume of a service; Source is a host path or a named volume.
type volumeMount struct {
	Source, Target string
	ReadOnly       bool
}

func volumes(t *testing.T, n yaml.Node) []volumeMount {
	t.Helper()
	if n.Kind == 0 {
		return nil
	}
	var out []volumeMount
	for _, e := range n.Content {
		switch e.Kind {
		case yaml.ScalarNode: // source:target[:mode]
			parts := strings.Split(e.Value, ":")
			v := volumeMount{Source: parts[0]}
			if len(parts) > 1 {
				v.Target = parts[1]
			}
			if len(parts) > 2 {
				v.ReadOnly = slices.Contains(strings.Split(parts[2], ","), "ro")
			}
			out = append(out, v)
		case yaml.MappingNode:
			var l struct {
				Source   string `yaml:"source"`
				Target   string `yaml:"target"`
				ReadOnly bool   `yaml:"read_only"`
			}
			if err := e.Decode(&l); err != nil {
				t.Fatalf("volumes: %v", err)
			}
			out = append(out, volumeMount{l.Source, l.Target, l.ReadOnly})
		default:
			t.Fatalf("volume entry neither a string nor a map (line %d)", e.Line)
		}
	}
	return out
}

func dependsOn(t *testing.T, n yaml.Node) []string {
	t.Helper()
	var names []string
	switch n.Kind {
	case 0:
	case yaml.SequenceNode:
		if err := n.Decode(&names); err != nil {
			t.Fatalf("depends_on: %v", err)
		}
	case yaml.MappingNode:
		for i := 0; i < len(n.Content); i += 2 {
			names = append(names, n.Content[i].Value)
		}
	default:
		t.Fatalf("depends_on is neither a list nor a map (line %d)", n.Line)
	}
	return names
}

func TestComposeDtbridgeService(t *testing.T) {
	c := loadCompose(t)
	s := service(t, c, "dtbridge")

	ctx := buildContext(t, s.Build)
	if ctx == "" {
		t.Fatal("dtbridge service has no build")
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if got, want := abs(filepath.Join(repoRoot, ctx)), abs(repoRoot); got != want {
		t.Errorf("dtbridge build context = %q (%s), want the repository root %s", ctx, got, want)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "Dockerfile")); err != nil {
		t.Errorf("build context has no Dockerfile: %v", err)
	}

	env := environment(t, s.Environment)
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[config.EnvVar(k)] = true
	}
	n := 0
	for k := range env {
		if !strings.HasPrefix(k, config.EnvPrefix+"_") {
			continue
		}
		n++
		if !known[k] {
			t.Errorf("environment sets %s, which is not config.EnvVar of any config key", k)
		}
	}
	if n == 0 {
		t.Error("dtbridge service sets no DTBRIDGE_ variables")
	}

	natsURL := env[config.EnvVar("nats.url")]
	u, err := url.Parse(natsURL)
	if err != nil || u.Scheme != "nats" || u.Hostname() != "nats" {
		t.Errorf("%s = %q, want nats://nats:<port> (err %v)", config.EnvVar("nats.url"), natsURL, err)
	}
	if _, ok := c.Services["nats"]; !ok {
		t.Error(`docker-compose.yml has no "nats" service for DTBRIDGE_NATS_URL to reach`)
	}
	if !slices.Contains(dependsOn(t, s.DependsOn), "nats") {
		t.Error("dtbridge does not depend_on nats")
	}
}

// interpolate resolves Compose's ${VAR}, ${VAR:-default} and ${VAR:?err}
// against vars (a missing VAR counts as unset).
func interpolate(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	re := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sub := re.FindStringSubmatch(m)
		if v := vars[sub[1]]; v != "" {
			return v
		}
		if sub[2] == ":?" {
			t.Fatalf("%s is required by docker-compose.yml: %s", sub[1], sub[3])
		}
		return sub[3]
	})
}

// TestComposeEnvironmentValidates loads the dtbridge service's environment
// (as Compose would interpolate it, with the required token supplied) through
// config.Load and checks that Validate accepts it.
func TestComposeEnvironmentValidates(t *testing.T) {
	for _, k := range config.Keys() {
		t.Setenv(config.EnvVar(k), "")
	}
	env := environment(t, service(t, loadCompose(t), "dtbridge").Environment)
	vars := map[string]string{"DTBRIDGE_AUTH_TOKENS": "0123456789abcdef0123456789abcdef"}
	for k, v := range env {
		if strings.HasPrefix(k, config.EnvPrefix+"_") {
			t.Setenv(k, interpolate(t, v, vars))
		}
	}
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(config.LoadOptions{File: empty})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.UsesEmbeddedServer() {
		t.Error("compose config would run the embedded NATS server")
	}
}

func TestComposeNATSService(t *testing.T) {
	s := service(t, loadCompose(t), "nats")
	if !strings.HasPrefix(s.Image, "nats:") {
		t.Errorf("nats image = %q, want nats:<version>", s.Image)
	}
	var mounted bool
	for _, v := range volumes(t, s.Volumes) {
		if filepath.Clean(v.Source) == filepath.Join("configs", "nats.conf") {
			mounted = true
			if !v.ReadOnly {
				t.Errorf("configs/nats.conf is mounted at %s read-write, want read-only", v.Target)
			}
		}
	}
	if !mounted {
		t.Error("nats service does not mount ./configs/nats.conf")
	}
}

func TestNATSConf(t *testing.T) {
	m, err := conf.ParseFile(filepath.Join(repoRoot, "configs", "nats.conf"))
	if err != nil {
		t.Fatalf("parse configs/nats.conf: %v", err)
	}
	mp, ok := m["max_payload"].(int64)
	if !ok {
		t.Fatalf("max_payload = %#v, want an integer size", m["max_payload"])
	}
	maxBody := int64(config.Default().Limits.MaxBody)
	if maxBody != 1<<20 {
		t.Errorf("default limits.max_body = %d, the comment in nats.conf assumes 1MiB", maxBody)
	}
	if need := envelope.MaxSize(maxBody); mp < need {
		t.Errorf("max_payload = %d, want ≥ envelope.MaxSize(%d) = %d", mp, maxBody, need)
	}
	js, ok := m["jetstream"].(map[string]any)
	if !ok {
		t.Fatalf("jetstream = %#v, want a block", m["jetstream"])
	}
	if got := js["sync_interval"]; got != "always" {
		t.Errorf("jetstream.sync_interval = %#v, want \"always\"", got)
	}
	if got := js["store_dir"]; got != "/data" {
		t.Errorf("jetstream.store_dir = %#v, want /data (the nats-data volume)", got)
	}
}
