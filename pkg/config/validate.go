package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FieldError is one problem with one configuration key.
type FieldError struct {
	// Key is the key path, e.g. "stream.replicas".
	Key string
	// Msg says what is wrong. It never contains a secret value.
	Msg string
}

// Error returns "key: msg".
func (e FieldError) Error() string { return e.Key + ": " + e.Msg }

// ValidationError lists every problem found, sorted by key (problems with
// the same key keep the order they were found in).
type ValidationError struct {
	Errors []FieldError
}

// Error joins the field errors with "; ".
func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "; ")
}

// Keys returns the distinct keys with problems, sorted.
func (e *ValidationError) Keys() []string {
	seen := map[string]bool{}
	var keys []string
	for _, fe := range e.Errors {
		if !seen[fe.Key] {
			seen[fe.Key] = true
			keys = append(keys, fe.Key)
		}
	}
	sort.Strings(keys)
	return keys
}

func (e *ValidationError) add(key, msg string) {
	e.Errors = append(e.Errors, FieldError{Key: key, Msg: msg})
}

func (e *ValidationError) addf(key, format string, args ...any) {
	e.add(key, fmt.Sprintf(format, args...))
}

// sorted sorts e by key and returns it.
func (e *ValidationError) sorted() *ValidationError {
	sort.SliceStable(e.Errors, func(i, j int) bool { return e.Errors[i].Key < e.Errors[j].Key })
	return e
}

// Validate checks every key and returns nil or a *[ValidationError] listing
// all problems, each naming its key path. Messages never include secret
// values. See the package documentation for the rules.
func (c Config) Validate() error {
	var e ValidationError

	// http
	checkHostPort(&e, "http.addr", c.HTTP.Addr)
	if c.HTTP.PublicURL != "" {
		u, err := url.Parse(c.HTTP.PublicURL)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "":
			e.add("http.public_url", "must be an absolute http or https URL")
		case u.Scheme != "http" && u.Scheme != "https":
			e.addf("http.public_url", "scheme %q not allowed (want http or https)", u.Scheme)
		case u.User != nil:
			e.add("http.public_url", "must not contain user information")
		case u.RawQuery != "" || u.Fragment != "":
			e.add("http.public_url", "must not contain a query or fragment")
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout},
		{"http.read_timeout", c.HTTP.ReadTimeout},
		{"http.write_timeout", c.HTTP.WriteTimeout},
		{"http.idle_timeout", c.HTTP.IdleTimeout},
		{"http.shutdown_timeout", c.HTTP.ShutdownTimeout},
		{"publish.timeout", c.Publish.Timeout},
		{"publish.attempt_timeout", c.Publish.AttemptTimeout},
		{"stream.max_age", c.Stream.MaxAge},
	} {
		if d.v <= 0 {
			e.addf(d.key, "must be > 0 (got %s)", d.v)
		}
	}

	// nats / embedded
	if c.UsesEmbeddedServer() {
		checkHostPort(&e, "embedded.listen", c.Embedded.Listen)
	} else {
		for i, raw := range strings.Split(c.NATS.URL, ",") {
			s := strings.TrimSpace(raw)
			if s == "" {
				e.addf("nats.url", "entry %d is empty", i+1)
				continue
			}
			u, err := url.Parse(s)
			if err != nil || u.Host == "" {
				e.addf("nats.url", "entry %d is not a URL with a host", i+1)
				continue
			}
			switch u.Scheme {
			case "nats", "tls", "ws", "wss":
			default:
				e.addf("nats.url", "entry %d: scheme %q not allowed (want nats, tls, ws or wss)", i+1, u.Scheme)
			}
		}
	}
	switch c.Embedded.Sync {
	case SyncAlways, SyncInterval:
	default:
		e.addf("embedded.sync", "must be %q or %q (got %q)", SyncAlways, SyncInterval, c.Embedded.Sync)
	}
	if c.NATS.TLS.Cert != "" && c.NATS.TLS.Key == "" {
		e.add("nats.tls.key", "required when nats.tls.cert is set")
	}
	if c.NATS.TLS.Key != "" && c.NATS.TLS.Cert == "" {
		e.add("nats.tls.cert", "required when nats.tls.key is set")
	}
	var methods []string
	for _, m := range []struct{ key, v string }{
		{"nats.creds", c.NATS.Creds}, {"nats.nkey", c.NATS.NKey},
		{"nats.user", c.NATS.User}, {"nats.token", c.NATS.Token},
	} {
		if m.v == "" {
			continue
		}
		if len(methods) > 0 {
			e.addf(m.key, "conflicts with %s: set at most one of nats.creds, nats.nkey, nats.user, nats.token", strings.Join(methods, ", "))
		}
		methods = append(methods, m.key)
	}
	if c.NATS.User != "" && c.NATS.Password == "" {
		e.add("nats.password", "required when nats.user is set")
	}
	if c.NATS.Password != "" && c.NATS.User == "" {
		e.add("nats.password", "set but nats.user is empty")
	}

	// data
	if strings.TrimSpace(c.Data.Dir) == "" {
		e.add("data.dir", "must not be empty")
	}

	// stream
	switch {
	case c.Stream.Name == "":
		e.add("stream.name", "must not be empty")
	case strings.ContainsAny(c.Stream.Name, " \t\r\n\v\f.*>/\\"):
		e.addf("stream.name", "%q must not contain whitespace, '.', '*', '>', '/' or '\\'", c.Stream.Name)
	}
	if c.Stream.MaxBytes != Unlimited && c.Stream.MaxBytes <= 0 {
		e.addf("stream.max_bytes", "must be > 0 or unlimited (got %d)", int64(c.Stream.MaxBytes))
	}
	switch {
	case c.Stream.Replicas < 1 || c.Stream.Replicas > 5:
		e.addf("stream.replicas", "must be between 1 and 5 (got %d)", c.Stream.Replicas)
	case c.Stream.Replicas != 1 && c.UsesEmbeddedServer():
		e.add("stream.replicas", "must be 1 with the embedded server (nats.url is empty)")
	}
	switch {
	case c.Stream.DuplicateWindow < 100*time.Millisecond:
		e.addf("stream.duplicate_window", "must be >= 100ms (got %s)", c.Stream.DuplicateWindow)
	case c.Stream.MaxAge > 0 && c.Stream.DuplicateWindow > c.Stream.MaxAge:
		e.addf("stream.duplicate_window", "must be <= stream.max_age (%s > %s)", c.Stream.DuplicateWindow, c.Stream.MaxAge)
	}

	// subject
	if !validPrefix(c.Subject.Prefix) {
		e.addf("subject.prefix", "%q must match ^[a-z0-9_-]+$", c.Subject.Prefix)
	}
	if msg := checkTemplate(c.Subject.Template); msg != "" {
		e.add("subject.template", msg)
	}

	// auth (messages for secrets name the entry number, never its value)
	for i, t := range c.Auth.Tokens {
		switch {
		case t == "":
			e.addf("auth.tokens", "entry %d is empty", i+1)
		case len(t) < 16:
			e.addf("auth.tokens", "entry %d is shorter than 16 characters", i+1)
		}
	}
	for i, b := range c.Auth.Basic {
		user, pass, ok := strings.Cut(b, ":")
		switch {
		case !ok:
			e.addf("auth.basic", "entry %d must be user:password", i+1)
		case user == "":
			e.addf("auth.basic", "entry %d has an empty user", i+1)
		case pass == "":
			e.addf("auth.basic", "entry %d has an empty password", i+1)
		}
	}
	if c.Auth.Header != "" && !validHeaderName(c.Auth.Header) {
		e.addf("auth.header", "%q is not a valid HTTP header name", c.Auth.Header)
	}
	if _, err := c.Auth.ParsedCIDRs(); err != nil {
		e.add("auth.allow_cidrs", strings.TrimPrefix(err.Error(), "auth.allow_cidrs: "))
	}
	if _, err := c.Auth.ParsedTrustedProxies(); err != nil {
		e.add("auth.trusted_proxies", strings.TrimPrefix(err.Error(), "auth.trusted_proxies: "))
	}

	// limits
	if c.Limits.MaxBody < KiB || c.Limits.MaxBody > 16*MiB {
		e.addf("limits.max_body", "must be between 1KiB and 16MiB (got %s)", c.Limits.MaxBody)
	}
	if c.Limits.MaxParts < 1 {
		e.addf("limits.max_parts", "must be >= 1 (got %d)", c.Limits.MaxParts)
	}
	if c.Limits.Rate < 0 || math.IsNaN(c.Limits.Rate) || math.IsInf(c.Limits.Rate, 0) {
		e.addf("limits.rate", "must be a finite number >= 0 (got %v)", c.Limits.Rate)
	}
	switch {
	case c.Limits.Burst < 0:
		e.addf("limits.burst", "must be >= 0 (got %d)", c.Limits.Burst)
	case c.Limits.Rate > 0 && c.Limits.Burst < 1:
		e.add("limits.burst", "must be >= 1 when limits.rate > 0")
	}

	// publish
	if c.Publish.AttemptTimeout > 0 && c.Publish.Timeout > 0 && c.Publish.AttemptTimeout > c.Publish.Timeout {
		e.addf("publish.attempt_timeout", "must be <= publish.timeout (%s > %s)", c.Publish.AttemptTimeout, c.Publish.Timeout)
	}
	if c.Publish.BatchMax < 0 || c.Publish.BatchMax > 1000 {
		e.addf("publish.batch_max", "must be 0 to 1000, the server's atomic batch limit (got %d)", c.Publish.BatchMax)
	}
	// A delivery may wait publish.timeout for its ack; its 202 must still be
	// writable, and a graceful stop must be able to wait for it.
	if c.Publish.Timeout > 0 && c.HTTP.WriteTimeout > 0 && c.Publish.Timeout >= c.HTTP.WriteTimeout {
		e.addf("publish.timeout", "must be < http.write_timeout (%s >= %s), or the answer cannot be written", c.Publish.Timeout, c.HTTP.WriteTimeout)
	}
	if c.Publish.Timeout > 0 && c.HTTP.ShutdownTimeout > 0 && c.Publish.Timeout > c.HTTP.ShutdownTimeout {
		e.addf("http.shutdown_timeout", "must be >= publish.timeout (%s < %s), so a stop lets requests in flight finish", c.HTTP.ShutdownTimeout, c.Publish.Timeout)
	}

	// replay
	if _, err := c.Replay.SigningKey(); err != nil {
		e.add("replay.webhook_secret", err.Error())
	}

	// log
	switch c.Log.Level {
	case LogLevelDebug, LogLevelInfo, LogLevelWarn, LogLevelError:
	default:
		e.addf("log.level", "must be one of debug, info, warn, error (got %q)", c.Log.Level)
	}
	switch c.Log.Format {
	case LogFormatJSON, LogFormatConsole:
	default:
		e.addf("log.format", "must be json or console (got %q)", c.Log.Format)
	}

	if len(e.Errors) == 0 {
		return nil
	}
	return e.sorted()
}

func checkHostPort(e *ValidationError, key, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		e.addf(key, "%q must be host:port (e.g. :8080 or 127.0.0.1:8080)", addr)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		e.addf(key, "port %q must be a number from 0 to 65535", port)
	}
}

func validPrefix(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// checkTemplate returns "" if t is a valid subject template, else why not.
func checkTemplate(t string) string {
	if !strings.HasPrefix(t, "{prefix}") {
		return fmt.Sprintf("%q must start with {prefix}", t)
	}
	var b strings.Builder
	hasType := false
	for rest := t; rest != ""; {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		if rest[i] == '}' {
			return fmt.Sprintf("%q has an unmatched '}'", t)
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Sprintf("%q has an unmatched '{'", t)
		}
		name := rest[i+1 : i+j]
		switch name {
		case "type":
			hasType = true
		case "prefix", "channel", "account":
		default:
			return fmt.Sprintf("%q uses unknown placeholder {%s} (allowed: {prefix} {channel} {type} {account})", t, name)
		}
		b.WriteString("x")
		rest = rest[i+j+1:]
	}
	if !hasType {
		return fmt.Sprintf("%q must contain {type}", t)
	}
	for tok := range strings.SplitSeq(b.String(), ".") {
		if tok == "" {
			return fmt.Sprintf("%q would produce an empty subject token", t)
		}
		if strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Sprintf("%q must not contain whitespace, '*' or '>'", t)
		}
	}
	return ""
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
