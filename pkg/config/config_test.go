package config

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// clearEnv makes every DTBRIDGE_* key variable empty, which Load treats as
// unset, so the test does not depend on the caller's environment.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range Keys() {
		t.Setenv(EnvVar(k), "")
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadYAML(t *testing.T, content string) (Config, error) {
	t.Helper()
	return Load(LoadOptions{File: writeFile(t, t.TempDir(), "c.yaml", content)})
}

func validationKeys(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	return ve.Keys()
}

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if !Default().UsesEmbeddedServer() {
		t.Error("default should use the embedded server")
	}
}

func TestKeys(t *testing.T) {
	keys := Keys()
	if !slices.IsSorted(keys) {
		t.Errorf("Keys() not sorted: %v", keys)
	}
	if len(keys) != 44 {
		t.Errorf("len(Keys()) = %d, want 44: %v", len(keys), keys)
	}
	for _, k := range []string{"http.addr", "nats.tls.ca", "auth.allow_cidrs", "stream.max_bytes", "log.format"} {
		if !slices.Contains(keys, k) {
			t.Errorf("Keys() lacks %q", k)
		}
	}
	if got := EnvVar("auth.allow_cidrs"); got != "DTBRIDGE_AUTH_ALLOW_CIDRS" {
		t.Errorf("EnvVar = %q", got)
	}
}

func TestLoadNoFileGivesDefaults(t *testing.T) {
	clearEnv(t)
	t.Chdir(t.TempDir())
	c, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load() = %+v, want Default()", c)
	}
}

// TestExampleFile keeps configs/dtbridge.example.yaml in step with Default()
// and Keys().
func TestExampleFile(t *testing.T) {
	clearEnv(t)
	path := filepath.Join("..", "..", "configs", "dtbridge.example.yaml")
	c, err := Load(LoadOptions{File: path})
	if err != nil {
		t.Fatalf("Load(example) = %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		var got, want bytes.Buffer
		_ = c.WriteYAML(&got)
		_ = Default().WriteYAML(&want)
		t.Errorf("example differs from Default():\n--- example\n%s--- Default()\n%s", got.String(), want.String())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := yamlKeys(t, raw), Keys(); !slices.Equal(got, want) {
		t.Errorf("example keys = %v\nwant %v", got, want)
	}
}

// yamlKeys returns the sorted leaf key paths of a YAML document.
func yamlKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(m map[string]any, prefix string)
	walk = func(m map[string]any, prefix string) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(sub, prefix+k+".")
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	walk(doc, "")
	slices.Sort(keys)
	return keys
}

func TestLoadStructuralErrors(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name string
		yaml string
		keys []string
	}{
		{"unknown top-level", "bogus: 1\n", []string{"bogus"}},
		{"unknown nested", "stream:\n  name: X\n  bogus: 1\n", []string{"stream.bogus"}},
		{"unknown deep", "nats:\n  tls:\n    bogus: x\n", []string{"nats.tls.bogus"}},
		{"unknown section subtree", "extra:\n  a: 1\n", []string{"extra"}},
		{"several at once", "bogus: 1\nhttp:\n  adr: x\nlog:\n  colour: red\n", []string{"bogus", "http.adr", "log.colour"}},
		{"section not a mapping", "stream: 5\n", []string{"stream"}},
		{"leaf is a mapping", "http:\n  addr:\n    x: 1\n", []string{"http.addr"}},
		{"document not a mapping", "- a\n- b\n", []string{"(document)"}},
		{"undecodable int", "stream:\n  replicas: two\n", []string{"stream.replicas"}},
		{"duration without unit", "http:\n  read_timeout: 30\n", []string{"http.read_timeout"}},
		{"bad duration", "stream:\n  max_age: forever\n", []string{"stream.max_age"}},
		{"bad byte size", "limits:\n  max_body: 1.5MiB\n", []string{"limits.max_body"}},
		{"bad bool", "auth:\n  disabled: maybe\n", []string{"auth.disabled"}},
		{"decode and unknown together", "stream:\n  replicas: two\n  bogus: 1\n", []string{"stream.bogus", "stream.replicas"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, tt.yaml)
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			if got := validationKeys(t, err); !slices.Equal(got, tt.keys) {
				t.Errorf("keys = %v, want %v (err: %v)", got, tt.keys, err)
			}
			for _, k := range tt.keys {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name %q", err, k)
				}
			}
		})
	}
}

func TestLoadAcceptedForms(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name  string
		yaml  string
		check func(Config) bool
	}{
		{"empty file", "", func(c Config) bool { return reflect.DeepEqual(c, Default()) }},
		{"null section", "stream:\n", func(c Config) bool { return reflect.DeepEqual(c, Default()) }},
		{"null leaf keeps default", "http:\n  addr:\n", func(c Config) bool { return c.HTTP.Addr == ":8080" }},
		{"byte size as int", "limits:\n  max_body: 2048\n", func(c Config) bool { return c.Limits.MaxBody == 2*KiB }},
		{"byte size -1", "stream:\n  max_bytes: -1\n", func(c Config) bool { return c.Stream.MaxBytes == Unlimited }},
		{"byte size string", "stream:\n  max_bytes: 10GiB\n", func(c Config) bool { return c.Stream.MaxBytes == 10*GiB }},
		{"duration string", "stream:\n  duplicate_window: 90s\n", func(c Config) bool { return c.Stream.DuplicateWindow == 90*time.Second }},
		{"duration zero", "http:\n  idle_timeout: 0\n", func(c Config) bool { return c.HTTP.IdleTimeout == 0 }},
		{"float rate", "limits:\n  rate: 2.5\n", func(c Config) bool { return c.Limits.Rate == 2.5 }},
		{"yaml list", "auth:\n  allow_cidrs: [10.0.0.0/8, 192.168.1.1]\n", func(c Config) bool {
			return slices.Equal(c.Auth.AllowCIDRs, []string{"10.0.0.0/8", "192.168.1.1"})
		}},
		{"empty list is nil", "auth:\n  tokens: []\n", func(c Config) bool { return c.Auth.Tokens == nil }},
		{"public_url slash stripped", "http:\n  public_url: https://hooks.example.com/dt/\n", func(c Config) bool {
			return c.HTTP.PublicURL == "https://hooks.example.com/dt"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		keys   []string // nil = valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"replicas 2 embedded", func(c *Config) { c.Stream.Replicas = 2 }, []string{"stream.replicas"}},
		{"replicas 3 external", func(c *Config) { c.Stream.Replicas = 3; c.NATS.URL = "nats://a:4222,nats://b:4222" }, nil},
		{"replicas 6", func(c *Config) { c.Stream.Replicas = 6; c.NATS.URL = "nats://a:4222" }, []string{"stream.replicas"}},
		{"negative duration", func(c *Config) { c.HTTP.ReadTimeout = -time.Second }, []string{"http.read_timeout"}},
		{"bad cidr", func(c *Config) { c.Auth.AllowCIDRs = []string{"10.0.0.0/33"} }, []string{"auth.allow_cidrs"}},
		{"bad proxy", func(c *Config) { c.Auth.TrustedProxies = []string{"proxy.local"} }, []string{"auth.trusted_proxies"}},
		{"bad sync", func(c *Config) { c.Embedded.Sync = "never" }, []string{"embedded.sync"}},
		{"bad http.addr", func(c *Config) { c.HTTP.Addr = "8080" }, []string{"http.addr"}},
		{"bad http port", func(c *Config) { c.HTTP.Addr = ":http" }, []string{"http.addr"}},
		{"host http.addr", func(c *Config) { c.HTTP.Addr = "0.0.0.0:80" }, nil},
		{"public_url ftp", func(c *Config) { c.HTTP.PublicURL = "ftp://x" }, []string{"http.public_url"}},
		{"public_url relative", func(c *Config) { c.HTTP.PublicURL = "/hooks" }, []string{"http.public_url"}},
		{"public_url ok", func(c *Config) { c.HTTP.PublicURL = "https://hooks.example.com/dt" }, nil},
		{"embedded.listen bad", func(c *Config) { c.Embedded.Listen = "localhost" }, []string{"embedded.listen"}},
		{"embedded.listen ignored external", func(c *Config) { c.Embedded.Listen = "x"; c.NATS.URL = "tls://n:4222" }, nil},
		{"nats.url scheme", func(c *Config) { c.NATS.URL = "http://n:4222" }, []string{"nats.url"}},
		{"nats.url empty entry", func(c *Config) { c.NATS.URL = "nats://a:4222,," }, []string{"nats.url"}},
		{"nats.url ws ok", func(c *Config) { c.NATS.URL = "ws://a:8080, wss://b" }, nil},
		{"tls cert without key", func(c *Config) { c.NATS.TLS.Cert = "c.pem" }, []string{"nats.tls.key"}},
		{"tls key without cert", func(c *Config) { c.NATS.TLS.Key = "k.pem" }, []string{"nats.tls.cert"}},
		{"creds and token", func(c *Config) { c.NATS.Creds = "a.creds"; c.NATS.Token = "t" }, []string{"nats.token"}},
		{"user without password", func(c *Config) { c.NATS.User = "u" }, []string{"nats.password"}},
		{"password without user", func(c *Config) { c.NATS.Password = "p" }, []string{"nats.password"}},
		{"user and password", func(c *Config) { c.NATS.User = "u"; c.NATS.Password = "p" }, nil},
		{"empty data dir", func(c *Config) { c.Data.Dir = "" }, []string{"data.dir"}},
		{"stream name dot", func(c *Config) { c.Stream.Name = "A.B" }, []string{"stream.name"}},
		{"stream name wildcard", func(c *Config) { c.Stream.Name = "A>" }, []string{"stream.name"}},
		{"stream name space", func(c *Config) { c.Stream.Name = "A B" }, []string{"stream.name"}},
		{"stream name empty", func(c *Config) { c.Stream.Name = "" }, []string{"stream.name"}},
		{"max_age zero", func(c *Config) { c.Stream.MaxAge = 0 }, []string{"stream.max_age"}},
		{"max_bytes zero", func(c *Config) { c.Stream.MaxBytes = 0 }, []string{"stream.max_bytes"}},
		{"max_bytes -2", func(c *Config) { c.Stream.MaxBytes = -2 }, []string{"stream.max_bytes"}},
		{"dup window small", func(c *Config) { c.Stream.DuplicateWindow = 50 * time.Millisecond }, []string{"stream.duplicate_window"}},
		{"dup window > max_age", func(c *Config) { c.Stream.MaxAge = time.Minute }, []string{"stream.duplicate_window"}},
		{"prefix upper", func(c *Config) { c.Subject.Prefix = "DT" }, []string{"subject.prefix"}},
		{"prefix dot", func(c *Config) { c.Subject.Prefix = "a.b" }, []string{"subject.prefix"}},
		{"template no type", func(c *Config) { c.Subject.Template = "{prefix}.{channel}" }, []string{"subject.template"}},
		{"template no prefix", func(c *Config) { c.Subject.Template = "x.{type}" }, []string{"subject.template"}},
		{"template unknown placeholder", func(c *Config) { c.Subject.Template = "{prefix}.{foo}.{type}" }, []string{"subject.template"}},
		{"template empty token", func(c *Config) { c.Subject.Template = "{prefix}..{type}" }, []string{"subject.template"}},
		{"template wildcard", func(c *Config) { c.Subject.Template = "{prefix}.*.{type}" }, []string{"subject.template"}},
		{"template unbalanced", func(c *Config) { c.Subject.Template = "{prefix}.{type" }, []string{"subject.template"}},
		{"template account", func(c *Config) { c.Subject.Template = "{prefix}.{account}.{channel}.{type}" }, nil},
		{"basic no colon", func(c *Config) { c.Auth.Basic = []string{"alice"} }, []string{"auth.basic"}},
		{"basic empty user", func(c *Config) { c.Auth.Basic = []string{":pw"} }, []string{"auth.basic"}},
		{"basic colon in password", func(c *Config) { c.Auth.Basic = []string{"alice:pa:ss"} }, nil},
		{"token short", func(c *Config) { c.Auth.Tokens = []string{"short"} }, []string{"auth.tokens"}},
		{"token empty", func(c *Config) { c.Auth.Tokens = []string{""} }, []string{"auth.tokens"}},
		{"header bad", func(c *Config) { c.Auth.Header = "X Token" }, []string{"auth.header"}},
		{"header ok", func(c *Config) { c.Auth.Header = "X-Dtbridge-Token" }, nil},
		{"max_body small", func(c *Config) { c.Limits.MaxBody = 512 }, []string{"limits.max_body"}},
		{"max_body big", func(c *Config) { c.Limits.MaxBody = 17 * MiB }, []string{"limits.max_body"}},
		{"max_parts zero", func(c *Config) { c.Limits.MaxParts = 0 }, []string{"limits.max_parts"}},
		{"batch_max over the server limit", func(c *Config) { c.Publish.BatchMax = 1001 }, []string{"publish.batch_max"}},
		{"batch_max negative", func(c *Config) { c.Publish.BatchMax = -1 }, []string{"publish.batch_max"}},
		{"rate negative", func(c *Config) { c.Limits.Rate = -1 }, []string{"limits.rate"}},
		{"rate without burst", func(c *Config) { c.Limits.Rate = 5 }, []string{"limits.burst"}},
		{"burst negative", func(c *Config) { c.Limits.Burst = -1 }, []string{"limits.burst"}},
		{"rate and burst", func(c *Config) { c.Limits.Rate = 5; c.Limits.Burst = 10 }, nil},
		{"attempt > timeout", func(c *Config) { c.Publish.AttemptTimeout = 20 * time.Second }, []string{"publish.attempt_timeout"}},
		{"publish budget outlives the write timeout", func(c *Config) { c.Publish.Timeout = 30 * time.Second }, []string{"http.shutdown_timeout", "publish.timeout"}},
		{"shutdown shorter than the publish budget", func(c *Config) { c.HTTP.ShutdownTimeout = 5 * time.Second }, []string{"http.shutdown_timeout"}},
		{"publish zero", func(c *Config) { c.Publish.Timeout = 0; c.Publish.AttemptTimeout = 0 }, []string{"publish.attempt_timeout", "publish.timeout"}},
		{"log level", func(c *Config) { c.Log.Level = "trace" }, []string{"log.level"}},
		{"log format", func(c *Config) { c.Log.Format = "text" }, []string{"log.format"}},
		{"all reported", func(c *Config) {
			c.Stream.Replicas = 2
			c.HTTP.WriteTimeout = -1
			c.Auth.AllowCIDRs = []string{"nope"}
			c.Embedded.Sync = "sometimes"
		}, []string{"auth.allow_cidrs", "embedded.sync", "http.write_timeout", "stream.replicas"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if tt.keys == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors for %v", tt.keys)
			}
			if got := validationKeys(t, err); !slices.Equal(got, tt.keys) {
				t.Errorf("keys = %v, want %v (err: %v)", got, tt.keys, err)
			}
		})
	}
}

func TestValidationErrorFormat(t *testing.T) {
	c := Default()
	c.Stream.Replicas = 2
	c.Log.Level = "loud"
	err := c.Validate()
	want := `log.level: must be one of debug, info, warn, error (got "loud"); ` +
		"stream.replicas: must be 1 with the embedded server (nats.url is empty)"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
}

func TestValidateFromFileReportsEachKey(t *testing.T) {
	clearEnv(t)
	c, err := loadYAML(t, `
stream:
  replicas: 2
http:
  read_timeout: -5s
auth:
  allow_cidrs: [10.0.0.0/8, 300.1.1.1]
embedded:
  sync: sometimes
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"auth.allow_cidrs", "embedded.sync", "http.read_timeout", "stream.replicas"}
	if got := validationKeys(t, c.Validate()); !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
}

func TestValidateDoesNotLeakSecrets(t *testing.T) {
	c := Default()
	c.Auth.Tokens = []string{"tooshortsecret"}
	c.Auth.Basic = []string{"s3cretnocolon", "alice:"}
	c.NATS.Password = "hunter2hunter2"
	err := c.Validate()
	if err == nil {
		t.Fatal("want error")
	}
	for _, s := range []string{"tooshortsecret", "s3cretnocolon", "hunter2hunter2"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q leaks %q", err, s)
		}
	}
}

func TestEnvOverride(t *testing.T) {
	clearEnv(t)
	tokA, tokB := "aaaaaaaaaaaaaaaa1", "bbbbbbbbbbbbbbbb2"
	file := writeFile(t, t.TempDir(), "c.yaml", "http:\n  addr: \":9000\"\n")
	t.Setenv("DTBRIDGE_NATS_URL", "nats://n1:4222,nats://n2:4222")
	t.Setenv("DTBRIDGE_AUTH_TOKENS", " "+tokA+" , ,"+tokB+",")
	t.Setenv("DTBRIDGE_AUTH_ALLOW_CIDRS", "10.0.0.0/8")
	t.Setenv("DTBRIDGE_LIMITS_MAX_BODY", "2MiB")
	t.Setenv("DTBRIDGE_STREAM_DUPLICATE_WINDOW", "5m")
	t.Setenv("DTBRIDGE_STREAM_REPLICAS", "3")
	t.Setenv("DTBRIDGE_AUTH_DISABLED", "true")
	t.Setenv("DTBRIDGE_LIMITS_RATE", "2.5")
	t.Setenv("DTBRIDGE_NATS_TLS_CA", "/etc/ca.pem")
	c, err := Load(LoadOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.HTTP.Addr = ":9000"
	want.NATS.URL = "nats://n1:4222,nats://n2:4222"
	want.Auth.Tokens = []string{tokA, tokB}
	want.Auth.AllowCIDRs = []string{"10.0.0.0/8"}
	want.Limits.MaxBody = 2 * MiB
	want.Stream.DuplicateWindow = 5 * time.Minute
	want.Stream.Replicas = 3
	want.Auth.Disabled = true
	want.Limits.Rate = 2.5
	want.NATS.TLS.CA = "/etc/ca.pem"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if c.UsesEmbeddedServer() {
		t.Error("UsesEmbeddedServer with nats.url set")
	}
}

func TestEnvBadValueNamesKey(t *testing.T) {
	clearEnv(t)
	t.Chdir(t.TempDir())
	t.Setenv("DTBRIDGE_STREAM_MAX_AGE", "a month")
	t.Setenv("DTBRIDGE_LIMITS_MAX_PARTS", "many")
	_, err := Load(LoadOptions{})
	want := []string{"limits.max_parts", "stream.max_age"}
	if got := validationKeys(t, err); !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
}

func TestPrecedence(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", `
http:
  addr: ":1111"
log:
  level: debug
  format: console
data:
  dir: /from/file
`)
	t.Setenv("DTBRIDGE_HTTP_ADDR", ":2222")
	t.Setenv("DTBRIDGE_LOG_LEVEL", "warn")
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	BindFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--http.addr=:3333", "--auth.tokens", "cccccccccccccccc,dddddddddddddddd", "--auth.disabled"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(LoadOptions{Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key       string
		got, want any
	}{
		{"http.addr (flag > env > file)", c.HTTP.Addr, ":3333"},
		{"log.level (env > file)", c.Log.Level, "warn"},
		{"log.format (file > default)", c.Log.Format, "console"},
		{"data.dir (file > unset flag default)", c.Data.Dir, "/from/file"},
		{"nats.name (default)", c.NATS.Name, "dtbridge"},
		{"auth.tokens (flag list)", c.Auth.Tokens, []string{"cccccccccccccccc", "dddddddddddddddd"}},
		{"auth.disabled (bare bool flag)", c.Auth.Disabled, true},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.key, tt.got, tt.want)
		}
	}
}

func TestBindFlags(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	BindFlags(fs)
	for _, k := range append(Keys(), ConfigFlag) {
		if fs.Lookup(k) == nil {
			t.Errorf("no flag --%s", k)
		}
	}
	if got := fs.Lookup("stream.max_age").DefValue; got != "720h0m0s" {
		t.Errorf("stream.max_age default shown as %q", got)
	}
	if ConfigFileFlag(fs) != "" || ConfigFileFlag(nil) != "" {
		t.Error("ConfigFileFlag should be empty before parsing / for nil")
	}
	if err := fs.Parse([]string{"--config=/x/y.yaml"}); err != nil {
		t.Fatal(err)
	}
	if got := ConfigFileFlag(fs); got != "/x/y.yaml" {
		t.Errorf("ConfigFileFlag = %q", got)
	}
}

func TestMissingExplicitConfig(t *testing.T) {
	clearEnv(t)
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	BindFlags(flags)
	if err := flags.Parse([]string{"--config", missing}); err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]LoadOptions{
		"File":     {File: missing},
		"--config": {Flags: flags},
	} {
		_, err := Load(opts)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: Load = %v, want fs.ErrNotExist", name, err)
		}
	}
}

func TestDefaultFileUsedWhenPresent(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, "http:\n  addr: \":9999\"\n")
	t.Chdir(dir)
	c, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != ":9999" {
		t.Errorf("http.addr = %q, want :9999 from %s", c.HTTP.Addr, DefaultFile)
	}
	// An explicit file replaces the default one.
	other := writeFile(t, dir, "other.yaml", "log:\n  level: warn\n")
	c, err = Load(LoadOptions{File: other})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != ":8080" || c.Log.Level != "warn" {
		t.Errorf("explicit file: addr=%q level=%q", c.HTTP.Addr, c.Log.Level)
	}
}

func TestInvalidYAML(t *testing.T) {
	clearEnv(t)
	_, err := loadYAML(t, "http: [unclosed\n")
	var ve *ValidationError
	if err == nil || errors.As(err, &ve) {
		t.Fatalf("Load = %v, want a YAML syntax error", err)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in    string
		want  ByteSize
		print string
	}{
		{"1048576", MiB, "1MiB"},
		{"512KiB", 512 * KiB, "512KiB"},
		{"1MiB", MiB, "1MiB"},
		{"2GiB", 2 * GiB, "2GiB"},
		{"3TiB", 3 * TiB, "3TiB"},
		{"1536KiB", 1536 * KiB, "1536KiB"},
		{"1024MiB", GiB, "1GiB"},
		{"10MB", 10_000_000, "10000000"},
		{"10KB", 10_000, "10000"},
		{"1000", 1000, "1000"},
		{"0", 0, "0"},
		{"100B", 100, "100"},
		{"8 kib", 8 * KiB, "8KiB"},
		{"unlimited", Unlimited, "unlimited"},
		{"Unlimited", Unlimited, "unlimited"},
		{"-1", Unlimited, "unlimited"},
		{"-2048", -2 * KiB, "-2KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.print {
				t.Errorf("String() = %q, want %q", s, tt.print)
			}
			var back ByteSize
			text, _ := got.MarshalText()
			if err := back.UnmarshalText(text); err != nil || back != got {
				t.Errorf("round trip %q -> %d, %v; want %d", text, back, err, got)
			}
		})
	}
	for _, bad := range []string{"", "MiB", "1.5MiB", "1PiB", "ten", "1 M", "9223372036854775807KiB", "--1"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) succeeded, want error", bad)
		}
	}
}

func TestRedactedWriteYAML(t *testing.T) {
	secrets := []string{"natsPassw0rd!", "natsT0ken!", "tokenOne-0123456789", "tokenTwo-0123456789", "basicPw:with:colons", "nopairsecret", "urlPassw0rd"}
	c := Default()
	c.NATS.URL = "nats://urluser:urlPassw0rd@n1:4222"
	c.NATS.User = "natsuser"
	c.NATS.Password = secrets[0]
	c.NATS.Token = secrets[1]
	c.Auth.Tokens = []string{secrets[2], secrets[3], ""}
	c.Auth.Basic = []string{"alice:" + secrets[4], "bob:", secrets[5]}
	c.Auth.AllowCIDRs = []string{"10.0.0.0/8"}
	orig := c.Auth.Tokens[0]

	r := c.Redacted()
	var buf bytes.Buffer
	if err := r.WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("redacted YAML contains secret %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"natsuser", "alice:REDACTED", "bob:", "urluser:REDACTED@n1:4222", "10.0.0.0/8", "DOUBLETICK", "720h0m0s", "max_bytes: unlimited", "max_body: 1MiB"} {
		if !bytes.Contains(out, []byte(s)) {
			t.Errorf("redacted YAML lacks %q:\n%s", s, out)
		}
	}
	if got := r.Auth.Tokens; !slices.Equal(got, []string{Redaction, Redaction, ""}) {
		t.Errorf("tokens = %v", got)
	}
	if c.Auth.Tokens[0] != orig {
		t.Error("Redacted modified the original")
	}
	if d := Default().Redacted(); !reflect.DeepEqual(d, Default()) {
		t.Errorf("redacting defaults changed them: %+v", d)
	}
}

func TestWriteYAMLRoundTrip(t *testing.T) {
	clearEnv(t)
	c := Default()
	c.NATS.URL = "nats://a:4222"
	c.Stream.Replicas = 3
	c.Stream.MaxBytes = 10 * GiB
	c.Limits.MaxBody = 1536 * KiB
	c.Limits.Rate = 0.5
	c.Limits.Burst = 4
	c.Auth.Basic = []string{"alice:pa:ss"}
	c.Auth.TrustedProxies = []string{"127.0.0.1", "::1"}
	c.HTTP.PublicURL = "https://x.example"
	for _, want := range []Config{Default(), c} {
		var buf bytes.Buffer
		if err := want.WriteYAML(&buf); err != nil {
			t.Fatal(err)
		}
		got, err := loadYAML(t, buf.String())
		if err != nil {
			t.Fatalf("reloading:\n%s\n%v", buf.String(), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n%s\ngot  %+v\nwant %+v", buf.String(), got, want)
		}
	}
}

func TestAuthHelpers(t *testing.T) {
	a := Auth{
		AllowCIDRs:     []string{"10.1.2.3/8", "192.168.0.7", " 2001:db8::1 "},
		TrustedProxies: []string{"fd00::/8"},
	}
	got, err := a.ParsedCIDRs()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.168.0.7/32"),
		netip.MustParsePrefix("2001:db8::1/128"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("ParsedCIDRs = %v, want %v", got, want)
	}
	if p, err := a.ParsedTrustedProxies(); err != nil || len(p) != 1 {
		t.Errorf("ParsedTrustedProxies = %v, %v", p, err)
	}
	for _, bad := range []string{"", "10.0.0.0/33", "fe80::1%eth0", "host"} {
		if _, err := (Auth{TrustedProxies: []string{bad}}).ParsedTrustedProxies(); err == nil || !strings.Contains(err.Error(), "auth.trusted_proxies") {
			t.Errorf("ParsedTrustedProxies(%q) = %v, want error naming the key", bad, err)
		}
	}
	if a.Configured() {
		t.Error("Configured() with no credentials")
	}
	if !(Auth{Basic: []string{"u:p"}}).Configured() || !(Auth{Tokens: []string{"t"}}).Configured() {
		t.Error("Configured() false with credentials")
	}
}
