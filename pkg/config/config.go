package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Embedded server fsync policies (embedded.sync).
const (
	// SyncAlways fsyncs every write before the publish is acknowledged.
	SyncAlways = "always"
	// SyncInterval fsyncs on the server's periodic interval (faster, can lose
	// the last acknowledged messages on power loss).
	SyncInterval = "interval"
)

// Log levels (log.level) and formats (log.format).
const (
	LogLevelDebug = "debug"
	LogLevelInfo  = "info"
	LogLevelWarn  = "warn"
	LogLevelError = "error"

	LogFormatJSON    = "json"
	LogFormatConsole = "console"
)

// Redaction is the text [Config.Redacted] puts in place of a secret.
const Redaction = "REDACTED"

// Config is dtbridge's whole configuration. The zero value is not useful;
// start from [Default] or [Load]. Each leaf field's key path (as used in
// YAML, in flags and, upper-cased with "_", in DTBRIDGE_* environment
// variables) is given by the mapstructure tags; see [Keys].
type Config struct {
	HTTP     HTTP     `mapstructure:"http" yaml:"http"`
	NATS     NATS     `mapstructure:"nats" yaml:"nats"`
	Embedded Embedded `mapstructure:"embedded" yaml:"embedded"`
	Data     Data     `mapstructure:"data" yaml:"data"`
	Stream   Stream   `mapstructure:"stream" yaml:"stream"`
	Subject  Subject  `mapstructure:"subject" yaml:"subject"`
	Auth     Auth     `mapstructure:"auth" yaml:"auth"`
	Limits   Limits   `mapstructure:"limits" yaml:"limits"`
	Publish  Publish  `mapstructure:"publish" yaml:"publish"`
	Log      Log      `mapstructure:"log" yaml:"log"`
	Replay   Replay   `mapstructure:"replay" yaml:"replay"`
}

// HTTP configures the webhook listener.
type HTTP struct {
	// Addr is the listen address, host:port (default ":8080").
	Addr string `mapstructure:"addr" yaml:"addr" usage:"HTTP listen address, host:port"`
	// PublicURL is the externally visible base URL (default "", unset). When
	// set it must be an absolute http or https URL; [Load] strips trailing "/".
	PublicURL string `mapstructure:"public_url" yaml:"public_url" usage:"externally visible base URL (http or https), empty if unknown"`
	// ReadHeaderTimeout defaults to 5s.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout" yaml:"read_header_timeout" usage:"HTTP read header timeout"`
	// ReadTimeout defaults to 30s.
	ReadTimeout time.Duration `mapstructure:"read_timeout" yaml:"read_timeout" usage:"HTTP read timeout"`
	// WriteTimeout defaults to 30s.
	WriteTimeout time.Duration `mapstructure:"write_timeout" yaml:"write_timeout" usage:"HTTP write timeout"`
	// IdleTimeout defaults to 120s.
	IdleTimeout time.Duration `mapstructure:"idle_timeout" yaml:"idle_timeout" usage:"HTTP keep-alive idle timeout"`
	// ShutdownTimeout bounds graceful shutdown (default 15s).
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout" yaml:"shutdown_timeout" usage:"graceful shutdown timeout"`
}

// NATS configures the connection to an external NATS server. With URL empty
// (the default) dtbridge runs an embedded server instead (see [Embedded]).
type NATS struct {
	// URL is "" (embedded server) or a comma-separated list of nats://,
	// tls://, ws:// or wss:// URLs.
	URL string `mapstructure:"url" yaml:"url" usage:"NATS server URL(s), comma-separated; empty runs an embedded server"`
	// Name is the client connection name (default "dtbridge").
	Name string `mapstructure:"name" yaml:"name" usage:"NATS connection name"`
	// Creds is a path to a .creds file (default "").
	Creds string `mapstructure:"creds" yaml:"creds" usage:"path to a NATS .creds file"`
	// NKey is a path to an nkey seed file (default "").
	NKey string `mapstructure:"nkey" yaml:"nkey" usage:"path to a NATS nkey seed file"`
	// User is the NATS user name (default ""); needs Password.
	User string `mapstructure:"user" yaml:"user" usage:"NATS user name"`
	// Password is SECRET (default "").
	Password string `mapstructure:"password" yaml:"password" usage:"NATS password (secret)"`
	// Token is SECRET (default "").
	Token string `mapstructure:"token" yaml:"token" usage:"NATS auth token (secret)"`
	// TLS holds client TLS file paths.
	TLS TLS `mapstructure:"tls" yaml:"tls"`
}

// TLS holds PEM file paths for the NATS client (all default "").
type TLS struct {
	CA   string `mapstructure:"ca" yaml:"ca" usage:"path to CA bundle for NATS TLS"`
	Cert string `mapstructure:"cert" yaml:"cert" usage:"path to client certificate for NATS TLS"`
	Key  string `mapstructure:"key" yaml:"key" usage:"path to client key for NATS TLS"`
}

// Embedded configures the in-process NATS server used when nats.url is empty.
type Embedded struct {
	// Listen is the embedded server's client address (default "127.0.0.1:4222").
	Listen string `mapstructure:"listen" yaml:"listen" usage:"embedded NATS server listen address, host:port"`
	// Sync is [SyncAlways] (default) or [SyncInterval].
	Sync string `mapstructure:"sync" yaml:"sync" usage:"embedded JetStream fsync policy: always or interval"`
}

// Data configures local storage.
type Data struct {
	// Dir is the data directory (default "./data").
	Dir string `mapstructure:"dir" yaml:"dir" usage:"data directory (embedded JetStream storage)"`
}

// Stream configures the JetStream stream events are published to.
type Stream struct {
	// Name defaults to "DOUBLETICK".
	Name string `mapstructure:"name" yaml:"name" usage:"JetStream stream name"`
	// MaxAge defaults to 720h.
	MaxAge time.Duration `mapstructure:"max_age" yaml:"max_age" usage:"stream message max age"`
	// MaxBytes defaults to [Unlimited].
	MaxBytes ByteSize `mapstructure:"max_bytes" yaml:"max_bytes" usage:"stream max bytes (e.g. 10GiB) or unlimited"`
	// Replicas defaults to 1 (must be 1 with the embedded server).
	Replicas int `mapstructure:"replicas" yaml:"replicas" usage:"stream replicas (1-5)"`
	// DuplicateWindow defaults to 2m.
	DuplicateWindow time.Duration `mapstructure:"duplicate_window" yaml:"duplicate_window" usage:"stream duplicate-detection window"`
	// Manage (default true) lets dtbridge create/update the stream.
	Manage bool `mapstructure:"manage" yaml:"manage" usage:"create/update the stream at startup"`
}

// Subject configures the NATS subject events are published on.
type Subject struct {
	// Prefix defaults to "doubletick"; must match ^[a-z0-9_-]+$.
	Prefix string `mapstructure:"prefix" yaml:"prefix" usage:"subject prefix"`
	// Template defaults to "{prefix}.{channel}.{type}"; placeholders are
	// {prefix}, {channel}, {type} and {account}.
	Template string `mapstructure:"template" yaml:"template" usage:"subject template; placeholders {prefix} {channel} {type} {account}"`
}

// Auth configures webhook authentication. All lists default to empty.
type Auth struct {
	// Tokens are accepted bearer tokens (SECRETS, each ≥ 16 characters).
	Tokens []string `mapstructure:"tokens" yaml:"tokens" usage:"accepted tokens, comma-separated (secret)"`
	// Basic are "user:password" pairs (password SECRET; split on the first ':').
	Basic []string `mapstructure:"basic" yaml:"basic" usage:"accepted basic-auth user:password pairs, comma-separated (secret)"`
	// Header is a custom header carrying a token, e.g. "X-Dtbridge-Token"
	// (default "", none).
	Header string `mapstructure:"header" yaml:"header" usage:"custom header carrying a token, e.g. X-Dtbridge-Token"`
	// AllowCIDRs are client networks allowed to call (CIDRs or bare IPs).
	AllowCIDRs []string `mapstructure:"allow_cidrs" yaml:"allow_cidrs" usage:"allowed client CIDRs or IPs, comma-separated"`
	// TrustedProxies are CIDRs or IPs whose X-Forwarded-For is trusted.
	TrustedProxies []string `mapstructure:"trusted_proxies" yaml:"trusted_proxies" usage:"trusted proxy CIDRs or IPs (X-Forwarded-For), comma-separated"`
	// Disabled turns authentication off (default false).
	Disabled bool `mapstructure:"disabled" yaml:"disabled" usage:"disable webhook authentication"`
}

// Limits bounds what one request and one source may send.
type Limits struct {
	// MaxBody defaults to 1MiB (allowed 1KiB..16MiB).
	MaxBody ByteSize `mapstructure:"max_body" yaml:"max_body" usage:"max request body size (e.g. 1MiB)"`
	// MaxParts defaults to 1000.
	MaxParts int `mapstructure:"max_parts" yaml:"max_parts" usage:"max multipart parts per request"`
	// Rate is events per second per source address (default 0 = off).
	Rate float64 `mapstructure:"rate" yaml:"rate" usage:"events per second per source address, 0 = off"`
	// Burst defaults to 0; must be ≥ 1 when Rate > 0.
	Burst int `mapstructure:"burst" yaml:"burst" usage:"rate-limit burst"`
}

// Publish configures the in-request publish to JetStream.
type Publish struct {
	// Timeout is the total retry budget for one publish (default 12s).
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout" usage:"total in-request retry budget for one publish"`
	// AttemptTimeout bounds a single attempt (default 3s, ≤ Timeout).
	AttemptTimeout time.Duration `mapstructure:"attempt_timeout" yaml:"attempt_timeout" usage:"timeout of one publish attempt"`
	// BatchMax is the most deliveries coalesced into one JetStream atomic
	// batch (one fsync for all of them); 0 or 1 publishes one by one
	// (default 64, at most 1000).
	BatchMax int `mapstructure:"batch_max" yaml:"batch_max" usage:"most concurrent deliveries stored as one atomic batch, 0 = one by one"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `mapstructure:"level" yaml:"level" usage:"log level: debug, info, warn, error"`
	// Format is json (default) or console.
	Format string `mapstructure:"format" yaml:"format" usage:"log format: json or console"`
}

// Replay configures `dtbridge replay`.
type Replay struct {
	// WebhookSecret is SECRET (default "", no signing): a Standard Webhooks
	// secret, "whsec_" followed by the base64 of 24 to 64 random bytes.
	// When set, replay to an HTTP(S) URL signs every request with it.
	WebhookSecret string `mapstructure:"webhook_secret" yaml:"webhook_secret" usage:"Standard Webhooks secret (whsec_…) to sign replays to a URL (secret)"`
}

// webhookSecretPrefix starts a serialized Standard Webhooks secret.
const webhookSecretPrefix = "whsec_"

// SigningKey decodes replay.webhook_secret: nil when it is empty, else the
// secret bytes (the "whsec_" prefix is optional). The error never contains
// the secret.
func (r Replay) SigningKey() ([]byte, error) {
	if r.WebhookSecret == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.WebhookSecret, webhookSecretPrefix))
	if err != nil {
		return nil, errors.New("must be whsec_ followed by standard base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("must encode 24 to 64 bytes (got %d)", len(key))
	}
	return key, nil
}

// Default returns the built-in defaults. They pass [Config.Validate]. Lists
// are nil.
func Default() Config {
	return Config{
		HTTP: HTTP{
			Addr:              ":8080",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   15 * time.Second,
		},
		NATS:     NATS{Name: "dtbridge"},
		Embedded: Embedded{Listen: "127.0.0.1:4222", Sync: SyncAlways},
		Data:     Data{Dir: "./data"},
		Stream: Stream{
			Name:            "DOUBLETICK",
			MaxAge:          720 * time.Hour,
			MaxBytes:        Unlimited,
			Replicas:        1,
			DuplicateWindow: 2 * time.Minute,
			Manage:          true,
		},
		Subject: Subject{Prefix: "doubletick", Template: "{prefix}.{channel}.{type}"},
		Limits:  Limits{MaxBody: MiB, MaxParts: 1000},
		Publish: Publish{Timeout: 12 * time.Second, AttemptTimeout: 3 * time.Second, BatchMax: 64},
		Log:     Log{Level: LogLevelInfo, Format: LogFormatJSON},
	}
}

// UsesEmbeddedServer reports whether dtbridge should run its own NATS server,
// i.e. nats.url is empty.
func (c Config) UsesEmbeddedServer() bool { return c.NATS.URL == "" }

// leaf is one configuration key and where it lives in Config.
type leaf struct {
	key   string
	index []int
	field reflect.StructField
}

// leaves walks Config's mapstructure tags and returns every leaf key in
// sorted order.
func leaves() []leaf {
	var out []leaf
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			key := prefix + f.Tag.Get("mapstructure")
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, key+".", idx)
				continue
			}
			out = append(out, leaf{key: key, index: idx, field: f})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// Keys returns every configuration key path (e.g. "http.addr",
// "nats.tls.ca"), sorted.
func Keys() []string {
	ls := leaves()
	keys := make([]string, len(ls))
	for i, l := range ls {
		keys[i] = l.key
	}
	return keys
}

// EnvVar returns the environment variable that sets key, e.g.
// EnvVar("nats.url") == "DTBRIDGE_NATS_URL".
func EnvVar(key string) string {
	return "DTBRIDGE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Configured reports whether any credentials (auth.tokens or auth.basic) are
// set.
func (a Auth) Configured() bool { return len(a.Tokens) > 0 || len(a.Basic) > 0 }

// ParsedCIDRs parses auth.allow_cidrs (see [ParsePrefix]). The error names
// the key and the offending entry.
func (a Auth) ParsedCIDRs() ([]netip.Prefix, error) {
	return parsePrefixes("auth.allow_cidrs", a.AllowCIDRs)
}

// ParsedTrustedProxies parses auth.trusted_proxies (see [ParsePrefix]). The
// error names the key and the offending entry.
func (a Auth) ParsedTrustedProxies() ([]netip.Prefix, error) {
	return parsePrefixes("auth.trusted_proxies", a.TrustedProxies)
}

func parsePrefixes(key string, list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", key, i+1, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePrefix parses a CIDR ("10.0.0.0/8", "2001:db8::/32") or a bare IP
// (taken as /32 or /128). Host bits are masked off. Zoned IPv6 addresses are
// rejected.
func ParsePrefix(s string) (netip.Prefix, error) {
	t := strings.TrimSpace(s)
	if strings.Contains(t, "/") {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(t)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR or IP %q", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid IP %q: zones are not allowed", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Redacted returns a copy of c that is safe to print: nats.password,
// nats.token, replay.webhook_secret, every auth.tokens entry and the password part of every
// auth.basic entry ("user:REDACTED") are replaced by [Redaction], as is any
// user information embedded in nats.url. Empty secrets stay empty. An
// auth.basic entry without ':' is redacted whole. c is not modified.
func (c Config) Redacted() Config {
	r := c
	r.NATS.Password = redact(c.NATS.Password)
	r.NATS.Token = redact(c.NATS.Token)
	r.NATS.URL = redactURLs(c.NATS.URL)
	r.Replay.WebhookSecret = redact(c.Replay.WebhookSecret)
	if c.Auth.Tokens != nil {
		r.Auth.Tokens = make([]string, len(c.Auth.Tokens))
		for i, t := range c.Auth.Tokens {
			r.Auth.Tokens[i] = redact(t)
		}
	}
	if c.Auth.Basic != nil {
		r.Auth.Basic = make([]string, len(c.Auth.Basic))
		for i, b := range c.Auth.Basic {
			user, pass, ok := strings.Cut(b, ":")
			if !ok {
				r.Auth.Basic[i] = redact(b)
				continue
			}
			r.Auth.Basic[i] = user + ":" + redact(pass)
		}
	}
	r.Auth.AllowCIDRs = append([]string(nil), c.Auth.AllowCIDRs...)
	r.Auth.TrustedProxies = append([]string(nil), c.Auth.TrustedProxies...)
	return r
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return Redaction
}

// redactURLs redacts user information in a comma-separated URL list. An
// entry that does not parse but contains '@' is redacted whole.
func redactURLs(list string) string {
	if !strings.Contains(list, "@") {
		return list
	}
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if !strings.Contains(p, "@") {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			parts[i] = Redaction
			continue
		}
		if _, hasPass := u.User.Password(); hasPass {
			u.User = url.UserPassword(u.User.Username(), Redaction)
		} else {
			u.User = url.User(Redaction)
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// WriteYAML writes c as YAML using the key names of [Keys]: durations as
// strings ("720h0m0s"), byte sizes as "1MiB"/"unlimited", lists as sequences.
// Secrets are written as they are; pass [Config.Redacted] when the output is
// for display. It fails only if w does.
func (c Config) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return err
	}
	return enc.Close()
}
