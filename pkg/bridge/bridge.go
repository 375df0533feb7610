// Package bridge assembles a running dtbridge from a validated
// [config.Config]: the NATS connection (to an external server, or to an
// embedded one it starts), the stream, the publisher, authentication, the
// converter and the HTTP ingress. It owns the start-up order and the
// graceful shutdown order; it holds no logic of its own.
package bridge

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/auth"
	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/delivery"
	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/embedded"
	"github.com/dtbridge/dtbridge/pkg/envelope"
	"github.com/dtbridge/dtbridge/pkg/ingress"
	"github.com/dtbridge/dtbridge/pkg/metrics"
	"github.com/dtbridge/dtbridge/pkg/natsconn"
	"github.com/dtbridge/dtbridge/pkg/payload"
	"github.com/dtbridge/dtbridge/pkg/publish"
	"github.com/dtbridge/dtbridge/pkg/subject"
)

// AuthDisabledWarnEvery is how often a bridge with auth.disabled repeats its
// warning.
const AuthDisabledWarnEvery = 10 * time.Minute

// Bridge is a started dtbridge. Call [Bridge.Run] to serve until the
// context ends, or [Bridge.Serve] and [Bridge.Shutdown] separately.
type Bridge struct {
	cfg      config.Config
	logger   *zap.Logger
	emb      *embedded.Server
	nc       *nats.Conn
	ingress  *ingress.Server
	ln       net.Listener
	token    string // the generated token, when dtbridge made one
	metrics  *metrics.Metrics
	table    *doubletick.Table
	banner   io.Writer
	serveErr chan error
	// warnEvery is how often Run repeats the auth.disabled warning.
	warnEvery time.Duration
}

// Option configures Start.
type Option func(*Bridge)

// WithBanner makes Start write the ready-to-paste webhook URLs to w. When
// dtbridge generated the token (no auth.* configured), the URLs carry it:
// the banner is the one place a secret is printed, on purpose, because the
// user cannot know it otherwise. Structured logs never carry it.
func WithBanner(w io.Writer) Option { return func(b *Bridge) { b.banner = w } }

// WithAuthDisabledWarnEvery changes how often a bridge with auth.disabled
// repeats its warning (default [AuthDisabledWarnEvery]); d <= 0 keeps the
// default.
func WithAuthDisabledWarnEvery(d time.Duration) Option {
	return func(b *Bridge) {
		if d > 0 {
			b.warnEvery = d
		}
	}
}

// Start connects, prepares the stream and listens on http.addr. It does
// not serve yet. Errors that a configuration change fixes are
// *[config.ValidationError]s naming the key.
func Start(ctx context.Context, cfg config.Config, logger *zap.Logger, opts ...Option) (_ *Bridge, err error) {
	b := &Bridge{cfg: cfg, logger: logger, metrics: metrics.New(), table: doubletick.Default(), serveErr: make(chan error, 1),
		warnEvery: AuthDisabledWarnEvery}
	for _, o := range opts {
		o(b)
	}
	defer func() {
		if err != nil {
			b.closeBroker()
		}
	}()
	state := publish.NewConnState(logger.Named("nats"))
	if err := b.connect(ctx, state); err != nil {
		return nil, err
	}
	if err := b.checkMaxPayload(); err != nil {
		return nil, err
	}
	if err := publish.EnsureStream(ctx, b.nc, publish.StreamConfig{
		Name:       cfg.Stream.Name,
		Subjects:   []string{cfg.Subject.Prefix + ".>"},
		MaxAge:     cfg.Stream.MaxAge,
		MaxBytes:   int64(cfg.Stream.MaxBytes),
		Replicas:   cfg.Stream.Replicas,
		Duplicates: cfg.Stream.DuplicateWindow,

		AtomicPublish: cfg.Publish.BatchMax > 1,
	}, cfg.Stream.Manage); err != nil {
		return nil, err
	}
	batchMax, err := b.batchMax(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := publish.New(b.nc, cfg.Stream.Name,
		publish.WithBudget(cfg.Publish.Timeout),
		publish.WithAttemptTimeout(cfg.Publish.AttemptTimeout),
		publish.WithBatching(batchMax),
		publish.WithObserver(func(d time.Duration, err error) { b.metrics.ObservePublish(d.Seconds(), err) }))
	if err != nil {
		return nil, err
	}
	authn, err := b.authenticator()
	if err != nil {
		return nil, err
	}
	tmpl, err := subject.NewTemplate(cfg.Subject.Template, cfg.Subject.Prefix)
	if err != nil {
		return nil, &config.ValidationError{Errors: []config.FieldError{{Key: "subject.template", Msg: err.Error()}}}
	}
	conv := delivery.NewConverter(b.table, tmpl, cfg.HTTP.PublicURL)
	b.ingress = ingress.New(ingress.Options{
		Limits: payload.Limits{MaxBody: int64(cfg.Limits.MaxBody), MaxParts: cfg.Limits.MaxParts},
		Rate:   cfg.Limits.Rate, Burst: cfg.Limits.Burst,
		Logger: logger.Named("http"),
		Timeouts: ingress.HTTPTimeouts{
			ReadHeader: cfg.HTTP.ReadHeaderTimeout, Read: cfg.HTTP.ReadTimeout,
			Write: cfg.HTTP.WriteTimeout, Idle: cfg.HTTP.IdleTimeout,
		},
	}, authn, conv, pub, func(ctx context.Context) error { return pub.Ready(ctx, state) }, b.metrics)

	b.ln, err = net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on http.addr %s: %w", cfg.HTTP.Addr, err)
	}
	b.announce()
	return b, nil
}

// connect starts the embedded server when nats.url is empty, and connects.
func (b *Bridge) connect(ctx context.Context, state *publish.ConnState) error {
	cfg := b.cfg
	if cfg.UsesEmbeddedServer() {
		emb, err := embedded.Start(ctx, embedded.Options{
			Listen:     cfg.Embedded.Listen,
			StoreDir:   cfg.Data.Dir, // the server keeps JetStream in {data.dir}/jetstream
			SyncAlways: cfg.Embedded.Sync == config.SyncAlways,
			MaxPayload: int32(envelope.MaxSize(int64(cfg.Limits.MaxBody))),
			Logger:     b.logger.Named("nats-server"),
		})
		if err != nil {
			return err
		}
		b.emb = emb
		opts := append([]nats.Option{nats.Name(cfg.NATS.Name), emb.InProcessOption(),
			nats.MaxReconnects(-1), nats.ReconnectBufSize(-1)}, state.Options()...)
		nc, err := nats.Connect(emb.ClientURL(), opts...)
		if err != nil {
			return fmt.Errorf("connect to embedded nats-server: %w", err)
		}
		b.nc = nc
		b.logger.Info("embedded nats-server started",
			zap.String("client_url", emb.ClientURL()), zap.String("store_dir", filepath.Join(cfg.Data.Dir, "jetstream")),
			zap.Bool("sync_always", emb.SyncAlways()), zap.Int32("max_payload", emb.MaxPayload()))
		return nil
	}
	nc, err := natsconn.Connect(ctx, natsconn.Options{
		URL: cfg.NATS.URL, Name: cfg.NATS.Name, Creds: cfg.NATS.Creds, NKey: cfg.NATS.NKey,
		User: cfg.NATS.User, Password: cfg.NATS.Password, Token: cfg.NATS.Token,
		TLS: natsconn.TLSOptions{CA: cfg.NATS.TLS.CA, Cert: cfg.NATS.TLS.Cert, Key: cfg.NATS.TLS.Key},
	}, state.Options()...)
	if err != nil {
		return err
	}
	b.nc = nc
	b.logger.Info("connected to nats", zap.String("server", nc.ConnectedUrlRedacted()))
	return nil
}

// batchMax is publish.batch_max when the stream allows atomic batches,
// else 0 (one by one), with a warning: an external stream dtbridge does not
// manage may not allow them, or the server may be older than 2.12.
func (b *Bridge) batchMax(ctx context.Context) (int, error) {
	n := b.cfg.Publish.BatchMax
	if n <= 1 {
		return 0, nil
	}
	ok, err := publish.AtomicPublishAllowed(ctx, b.nc, b.cfg.Stream.Name)
	if err != nil {
		return 0, err
	}
	if !ok {
		b.logger.Warn("the stream does not allow atomic publish (needs nats-server >= 2.12 and allow_atomic on the stream): publish.batch_max ignored, publishing one by one",
			zap.String("stream", b.cfg.Stream.Name))
		return 0, nil
	}
	b.logger.Info("publish coalescing on: concurrent deliveries may share one atomic batch (one fsync)", zap.Int("batch_max", n))
	return n, nil
}

// checkMaxPayload refuses a broker whose max payload cannot hold the
// largest envelope limits.max_body allows: better to fail at start than to
// answer 413 at run time.
func (b *Bridge) checkMaxPayload() error {
	need := envelope.MaxSize(int64(b.cfg.Limits.MaxBody))
	if have := b.nc.MaxPayload(); have < need {
		maxBody := envelope.MaxBody(have)
		return &config.ValidationError{Errors: []config.FieldError{{
			Key: "limits.max_body",
			Msg: fmt.Sprintf("%s needs a broker max_payload of at least %d bytes, the server allows %d: raise max_payload on the NATS server or lower limits.max_body to at most %d",
				b.cfg.Limits.MaxBody, need, have, maxBody),
		}}}
	}
	return nil
}

// authenticator builds auth from auth.*; with nothing configured (and auth
// not disabled) it uses a token generated once and kept in data.dir.
func (b *Bridge) authenticator() (*auth.Authenticator, error) {
	a := b.cfg.Auth
	cidrs, err := a.ParsedCIDRs()
	if err != nil {
		return nil, err
	}
	proxies, err := a.ParsedTrustedProxies()
	if err != nil {
		return nil, err
	}
	tokens := a.Tokens
	if !a.Configured() && !a.Disabled {
		tok, created, err := auth.LoadOrCreateToken(b.cfg.Data.Dir)
		if err != nil {
			return nil, err
		}
		b.token = tok
		tokens = []string{tok}
		b.logger.Info("no auth.* configured: using the token kept in data.dir",
			zap.String("file", filepath.Join(b.cfg.Data.Dir, auth.TokenFile)), zap.Bool("generated_now", created))
	}
	if a.Disabled {
		b.logger.Warn("auth.disabled is true: deliveries are accepted WITHOUT credentials; use only for development")
	}
	return auth.New(auth.Config{
		Tokens: tokens, Basic: a.Basic, Header: a.Header,
		AllowCIDRs: cidrs, TrustedProxies: proxies, Disabled: a.Disabled,
	})
}

// BaseURL is where DoubleTick should send deliveries: http.public_url, or
// the listen address (loopback name when it listens on all interfaces).
func (b *Bridge) BaseURL() string {
	if b.cfg.HTTP.PublicURL != "" {
		return b.cfg.HTTP.PublicURL
	}
	host, port, _ := net.SplitHostPort(b.ln.Addr().String())
	if ip := net.ParseIP(host); host == "" || ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// announce logs the webhook URLs (token redacted) and writes the banner.
func (b *Bridge) announce() {
	base := b.BaseURL()
	b.logger.Info("dtbridge listening", zap.String("addr", b.ln.Addr().String()), zap.String("base_url", base),
		zap.String("stream", b.cfg.Stream.Name), zap.String("subjects", b.cfg.Subject.Prefix+".>"))
	if b.cfg.HTTP.PublicURL == "" {
		b.logger.Info("http.public_url is not set: set it to the address DoubleTick reaches this bridge at")
	}
	// The log gets the URLs with the token redacted; only the banner shows
	// a token, and only the one dtbridge generated.
	b.logger.Info("webhook URLs, one per DoubleTick event", zap.Strings("urls", b.webhookURLs(base, config.Redaction)))
	if b.banner == nil {
		return
	}
	token := b.token
	if token == "" {
		token = "<one of auth.tokens>"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nPaste one URL per event into DoubleTick (Settings → Webhooks → New Webhook):\n\n")
	width := 0
	for _, s := range b.table.Specs() {
		width = max(width, len(s.Name))
	}
	for i, u := range b.webhookURLs(base, token) {
		fmt.Fprintf(&sb, "  %-*s %s\n", width, b.table.Specs()[i].Name, u)
	}
	fmt.Fprintf(&sb, "\nEvents arrive on NATS %s as %s.<channel>.<type>, e.g. nats sub '%s.*.conversation.closed'\n\n",
		b.natsURL(), b.cfg.Subject.Prefix, b.cfg.Subject.Prefix)
	_, _ = io.WriteString(b.banner, sb.String())
}

// webhookURLs lists one URL per event, in table order, ending in
// ?token={token} when deliveries authenticate with a token.
func (b *Bridge) webhookURLs(base, token string) []string {
	query := ""
	if b.token != "" || len(b.cfg.Auth.Tokens) > 0 {
		query = "?" + auth.QueryParam + "=" + token
	}
	urls := make([]string, 0, len(b.table.Specs()))
	for _, s := range b.table.Specs() {
		urls = append(urls, base+"/v1/webhooks/doubletick/"+s.Name+query)
	}
	return urls
}

func (b *Bridge) natsURL() string {
	if b.emb != nil {
		return b.emb.ClientURL()
	}
	return b.nc.ConnectedUrlRedacted()
}

// Addr is the HTTP listen address.
func (b *Bridge) Addr() net.Addr { return b.ln.Addr() }

// Conn is the bridge's NATS connection.
func (b *Bridge) Conn() *nats.Conn { return b.nc }

// Embedded is the embedded server, nil with an external one.
func (b *Bridge) Embedded() *embedded.Server { return b.emb }

// Serve serves HTTP until Shutdown.
func (b *Bridge) Serve() error {
	return b.ingress.Serve(b.ln)
}

// Run serves until ctx ends, then shuts down gracefully within
// http.shutdown_timeout.
func (b *Bridge) Run(ctx context.Context) error {
	go func() { b.serveErr <- b.Serve() }()
	if b.cfg.Auth.Disabled {
		go b.warnAuthDisabled(ctx)
	}
	select {
	case err := <-b.serveErr:
		b.closeBroker()
		return err
	case <-ctx.Done():
	}
	b.logger.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), b.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	err := b.Shutdown(sctx)
	if serr := <-b.serveErr; serr != nil && err == nil {
		err = serr
	}
	return err
}

func (b *Bridge) warnAuthDisabled(ctx context.Context) {
	t := time.NewTicker(b.warnEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.logger.Warn("auth.disabled is true: deliveries are accepted WITHOUT credentials")
		}
	}
}

// Shutdown stops accepting requests, waits for those in flight (each gets
// its final answer: 202 only if acknowledged), drains the NATS connection,
// then stops the embedded server.
func (b *Bridge) Shutdown(ctx context.Context) error {
	err := b.ingress.Shutdown(ctx)
	b.closeBroker()
	if err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// closeBroker drains the connection (publishes in flight finish) and stops
// the embedded server.
func (b *Bridge) closeBroker() {
	if b.nc != nil {
		closed := make(chan struct{})
		prev := b.nc.ClosedHandler() // keeps the connection state's own handler
		b.nc.SetClosedHandler(func(nc *nats.Conn) {
			if prev != nil {
				prev(nc)
			}
			close(closed)
		})
		if derr := b.nc.Drain(); derr != nil {
			b.nc.Close()
		} else {
			<-closed
		}
		b.nc = nil
	}
	if b.emb != nil {
		b.emb.Shutdown()
		b.emb = nil
	}
}
