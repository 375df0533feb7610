package natsconn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Connection policy; see the package documentation for the reasoning.
const (
	ReconnectWait       = 250 * time.Millisecond
	ReconnectJitter     = 100 * time.Millisecond // added to ReconnectWait, plain TCP
	ReconnectJitterTLS  = time.Second            // added to ReconnectWait, TLS
	PingInterval        = 2 * time.Second
	MaxPingsOutstanding = 2
)

// TLSOptions names PEM files for TLS to the server. CA alone verifies the
// server against that CA; Cert and Key together present a client
// certificate. Any non-empty field turns TLS on. Without CA the system roots
// are used.
type TLSOptions struct {
	CA   string
	Cert string
	Key  string
}

// Options describes how to reach and authenticate to an external NATS. At
// most one authentication method may be set: Creds, NKey, User/Password or
// Token. Credentials may also be embedded in URL (nats://user:pass@host);
// they are redacted from errors.
type Options struct {
	// URL is a comma-separated list of server URLs. Required by Connect.
	URL string
	// Name is the client connection name shown in server monitoring.
	Name string
	// Creds is the path to a .creds file holding a user JWT and nkey seed.
	Creds string
	// NKey is the path to a file holding an nkey user seed.
	NKey string
	// User and Password authenticate with a username and password.
	User, Password string
	// Token authenticates with a token.
	Token string
	// TLS configures TLS; the zero value leaves TLS to the URL scheme and
	// the server (tls:// URLs and servers that require TLS still use it).
	TLS TLSOptions
}

// NATSOptions returns the nats.Options for o: name, authentication, TLS and
// the connection policy described in the package documentation. It does not
// include the URL or any event handlers. Errors never contain Password or
// Token.
func (o Options) NATSOptions() ([]nats.Option, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	opts := []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(ReconnectWait),
		nats.ReconnectJitter(ReconnectJitter, ReconnectJitterTLS),
		nats.RetryOnFailedConnect(false),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(PingInterval),
		nats.MaxPingsOutstanding(MaxPingsOutstanding),
	}
	if o.Name != "" {
		opts = append(opts, nats.Name(o.Name))
	}
	switch {
	case o.Creds != "":
		opts = append(opts, nats.UserCredentials(o.Creds))
	case o.NKey != "":
		opt, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("load nkey seed file %s: %w", o.NKey, err)
		}
		opts = append(opts, opt)
	case o.User != "":
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	case o.Token != "":
		opts = append(opts, nats.Token(o.Token))
	}
	if o.TLS.CA != "" {
		opts = append(opts, nats.RootCAs(o.TLS.CA))
	}
	if o.TLS.Cert != "" {
		opts = append(opts, nats.ClientCert(o.TLS.Cert, o.TLS.Key))
	}
	return opts, nil
}

func (o Options) validate() error {
	var methods []string
	if o.Creds != "" {
		methods = append(methods, "creds")
	}
	if o.NKey != "" {
		methods = append(methods, "nkey")
	}
	if o.User != "" {
		methods = append(methods, "user/password")
	}
	if o.Token != "" {
		methods = append(methods, "token")
	}
	if len(methods) > 1 {
		return fmt.Errorf("conflicting NATS authentication methods: %s; set only one", strings.Join(methods, ", "))
	}
	if o.Password != "" && o.User == "" {
		return errors.New("NATS password set without a user")
	}
	if (o.TLS.Cert == "") != (o.TLS.Key == "") {
		return errors.New("NATS TLS client certificate and key must be set together")
	}
	return nil
}

// Connect connects to o.URL with o.NATSOptions() followed by extra (later
// options win, so extra may override the policy; handlers belong there).
// It fails if no server in the list accepts the connection; it does not
// retry in the background. The wait is bounded by ctx: if ctx ends first,
// Connect returns an error wrapping ctx.Err() and closes the connection if
// it is established later. If ctx has a deadline shorter than nats.go's
// default dial timeout (2s), the dial timeout is shortened to match.
//
// Errors name the URL list with any embedded credentials redacted and never
// contain o.Password or o.Token.
func Connect(ctx context.Context, o Options, extra ...nats.Option) (*nats.Conn, error) {
	urls := redactURLs(o.URL)
	wrap := func(err error) error {
		return redact(fmt.Errorf("connect to NATS %s: %w", urls, err), o.Password, o.Token)
	}
	if strings.TrimSpace(o.URL) == "" {
		return nil, wrap(errors.New("no server URL configured"))
	}
	opts, err := o.NATSOptions()
	if err != nil {
		return nil, wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap(err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); left < nats.GetDefaultOptions().Timeout {
			opts = append(opts, nats.Timeout(max(left, time.Millisecond)))
		}
	}
	opts = append(opts, extra...)

	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(o.URL, opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, wrap(r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, wrap(ctx.Err())
	}
}

// redactURLs returns the comma-separated URL list with the userinfo of each
// URL replaced.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			u.User = url.User("redacted")
			p = u.String()
		} else if at := strings.LastIndex(p, "@"); at >= 0 {
			// Unparseable, or a scheme-less host:port form; keep only the
			// part after the credentials.
			p = "redacted@" + p[at+1:]
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// redactedError hides secrets from Error() while keeping the chain for
// errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, secrets ...string) error {
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "[REDACTED]")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
