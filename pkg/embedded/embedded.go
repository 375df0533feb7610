package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const (
	// DefaultListen is the client address used when Options.Listen is empty:
	// the standard NATS port, on loopback only.
	DefaultListen = "127.0.0.1:4222"

	// DefaultServerName is the server name used when Options.ServerName is
	// empty.
	DefaultServerName = "dtbridge-embedded"

	// DefaultStartTimeout bounds how long Start waits for the server to be
	// ready when ctx has no deadline.
	DefaultStartTimeout = 10 * time.Second

	// MaxPayloadLimit is the largest Options.MaxPayload Start accepts: 64 MiB,
	// the server's default max_pending (a client's outbound buffer), which
	// max_payload may not exceed. nats-server itself only warns above 8 MiB
	// (server.MAX_PAYLOAD_MAX_SIZE) that large payloads are discouraged.
	MaxPayloadLimit = server.MAX_PENDING_SIZE
)

// Options configures the embedded server. The zero value is not usable:
// StoreDir is required.
type Options struct {
	// Listen is the client address, host:port. Port 0 or -1 picks a random
	// free port (read it back with Server.ClientURL). Default DefaultListen.
	Listen string

	// StoreDir is the JetStream file storage directory. Required; created
	// (mode 0750) if missing.
	StoreDir string

	// SyncAlways makes JetStream fsync every write before acknowledging it
	// (server option sync_always). When false the server fsyncs periodically
	// (every 2 minutes by default).
	SyncAlways bool

	// MaxPayload is the server's max_payload in bytes: the largest message a
	// client may publish. The caller must set it to fit the largest envelope
	// it publishes. 0 means the server default, 1 MiB. Values above
	// MaxPayloadLimit (64 MiB) or below 0 are rejected.
	MaxPayload int32

	// ServerName is the server's name. Default DefaultServerName. It must not
	// contain spaces.
	ServerName string

	// Logger receives the server's log lines: notices at Info, warnings at
	// Warn, errors and fatals at Error, debug at Debug. Server debug logging
	// is enabled when Logger is enabled at Debug level; protocol tracing is
	// always off, since it would log message payloads. nil discards logs.
	Logger *zap.Logger
}

// Server is a running embedded nats-server. Its methods are safe for
// concurrent use.
type Server struct {
	srv          *server.Server
	shutdownOnce sync.Once
}

// Start creates and starts an embedded nats-server with JetStream and waits
// until it accepts client connections and JetStream is enabled. The wait is
// bounded by ctx, or by DefaultStartTimeout if ctx has no deadline. If the
// server fails to listen, fails to enable JetStream or is not ready in time,
// Start shuts it down and returns an error (wrapping ctx.Err() when the wait
// ran out); it never exits the process.
//
// Start does not configure authentication: the client listener is open to
// anyone who can reach Options.Listen, which is why the default binds to
// loopback only.
func Start(ctx context.Context, o Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start embedded nats-server: %w", err)
	}
	opts, err := o.serverOptions()
	if err != nil {
		return nil, fmt.Errorf("start embedded nats-server: %w", err)
	}
	if err := os.MkdirAll(opts.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("start embedded nats-server: create store dir: %w", err)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats-server: %w", err)
	}
	log := newZapLogger(o.Logger)
	debug := o.Logger != nil && o.Logger.Core().Enabled(zapcore.DebugLevel)
	srv.SetLoggerV2(log, debug, false, false)

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	go srv.Start()
	if err := waitReady(ctx, srv, log); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("start embedded nats-server on %s: %w", opts.Host+":"+strconv.Itoa(opts.Port), err)
	}
	return &Server{srv: srv}, nil
}

// waitReady polls until srv accepts connections with JetStream enabled, the
// server logs a fatal error, or ctx is done.
func waitReady(ctx context.Context, srv *server.Server, log *zapLogger) error {
	const step = 50 * time.Millisecond
	for {
		if msg := log.fatal(); msg != "" {
			return errors.New(msg)
		}
		// ReadyForConnections itself polls for up to step.
		if srv.ReadyForConnections(step) && srv.JetStreamEnabled() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			if msg := log.fatal(); msg != "" {
				return errors.New(msg)
			}
			return fmt.Errorf("not ready: %w", err)
		}
	}
}

func (o Options) serverOptions() (*server.Options, error) {
	if o.StoreDir == "" {
		return nil, errors.New("StoreDir is required")
	}
	if o.MaxPayload < 0 {
		return nil, fmt.Errorf("MaxPayload %d is negative", o.MaxPayload)
	}
	if int64(o.MaxPayload) > MaxPayloadLimit {
		return nil, fmt.Errorf("MaxPayload %d exceeds the maximum %d (64 MiB)", o.MaxPayload, MaxPayloadLimit)
	}
	listen := o.Listen
	if listen == "" {
		listen = DefaultListen
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("parse Listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return nil, fmt.Errorf("parse Listen %q: invalid port %q", listen, portStr)
	}
	if port == 0 {
		// In server.Options 0 means the default port 4222; -1 means random.
		port = server.RANDOM_PORT
	}
	name := o.ServerName
	if name == "" {
		name = DefaultServerName
	}
	return &server.Options{
		ServerName: name,
		Host:       host,
		Port:       port,
		NoSigs:     true,
		// Logging goes through our logger (SetLoggerV2), not the server's
		// own file/stderr logger.
		NoLog:      true,
		HTTPPort:   0, // no monitoring endpoint
		JetStream:  true,
		StoreDir:   o.StoreDir,
		SyncAlways: o.SyncAlways,
		MaxPayload: o.MaxPayload, // 0: server default (1 MiB)
		// max_pending must be >= max_payload; the default (64 MiB) is, for
		// every MaxPayload we accept.
		MaxPending: server.MAX_PENDING_SIZE,
	}, nil
}

// ClientURL returns the URL other processes use to connect over TCP, e.g.
// nats://127.0.0.1:4222, with the actual port when a random one was
// requested.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// InProcessOption returns a nats.Option that connects to this server in
// process, without TCP. Use it together with any URL (it is ignored).
func (s *Server) InProcessOption() nats.Option { return nats.InProcessServer(s.srv) }

// SyncAlways reports whether the running JetStream fsyncs every write before
// acknowledging it. It reads the running JetStream configuration, not
// Options, and is false if JetStream is not running.
func (s *Server) SyncAlways() bool {
	cfg := s.srv.JetStreamConfig()
	return cfg != nil && cfg.SyncAlways
}

// MaxPayload returns the running server's max_payload in bytes, after
// defaults were applied (1 MiB when Options.MaxPayload was 0).
func (s *Server) MaxPayload() int32 {
	v, err := s.srv.Varz(nil)
	if err != nil {
		return 0
	}
	return int32(v.MaxPayload)
}

// Shutdown stops the server and waits until it has fully shut down, which
// flushes JetStream state to StoreDir. Clients are disconnected. Shutdown is
// idempotent and safe to call concurrently.
func (s *Server) Shutdown() {
	s.shutdownOnce.Do(func() {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
	})
}

// Server returns the underlying nats-server, for tests and diagnostics.
// Callers must not shut it down directly; use Shutdown.
func (s *Server) Server() *server.Server { return s.srv }
