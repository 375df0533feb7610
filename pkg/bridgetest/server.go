package bridgetest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// readyTimeout bounds how long RunServer and Restart wait for the server to
// accept connections.
const readyTimeout = 10 * time.Second

// Option adjusts the nats-server options before the server is created. Options
// are applied again, in the same order, on every Restart, so they must be
// deterministic.
type Option func(*server.Options)

// WithSyncAlways makes JetStream fsync every write before acknowledging it.
func WithSyncAlways() Option {
	return func(o *server.Options) { o.SyncAlways = true }
}

// WithMaxPayload sets the server's max_payload in bytes. max_pending is raised
// to at least n so the server accepts the option.
func WithMaxPayload(n int32) Option {
	return func(o *server.Options) {
		o.MaxPayload = n
		if int64(n) > server.MAX_PENDING_SIZE {
			o.MaxPending = int64(n)
		}
	}
}

// WithUserPassword requires clients to authenticate with user and pass.
func WithUserPassword(user, pass string) Option {
	return func(o *server.Options) {
		o.Username = user
		o.Password = pass
	}
}

// WithToken requires clients to authenticate with the token tok.
func WithToken(tok string) Option {
	return func(o *server.Options) { o.Authorization = tok }
}

// WithNKeyUser adds an nkey user identified by its public key (a "U..."
// string). Clients authenticate by signing the server nonce with the
// matching seed. May be given more than once.
func WithNKeyUser(publicKey string) Option {
	return func(o *server.Options) {
		o.Nkeys = append(o.Nkeys, &server.NkeyUser{Nkey: publicKey})
	}
}

// WithTLS makes the server require TLS on client connections, using the PEM
// certificate and key files. Client certificates are not requested. If the
// files cannot be loaded, the server still starts and every TLS handshake
// fails with the load error, so the test fails at connect with that message.
func WithTLS(certFile, keyFile string) Option {
	return func(o *server.Options) {
		cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile})
		if err != nil {
			loadErr := fmt.Errorf("bridgetest: load TLS key pair %s, %s: %w", certFile, keyFile, err)
			cfg = &tls.Config{
				MinVersion: tls.VersionTLS12,
				GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
					return nil, loadErr
				},
			}
		}
		o.TLSConfig = cfg
		o.TLS = true
	}
}

// Server is an in-process nats-server with JetStream, owned by one test.
// Its methods may be called from any goroutine, but Restart and Shutdown are
// meant to be driven by the test goroutine.
type Server struct {
	opts     []Option
	storeDir string

	mu   sync.Mutex
	srv  *server.Server
	port int // assigned on first start, reused by Restart
}

// RunServer starts an in-process nats-server with JetStream enabled, storage
// in t.TempDir(), listening on 127.0.0.1 on a random port, with logging and
// signal handling off and no monitoring port. opts are applied on top of
// those defaults. The server is shut down by t.Cleanup. RunServer calls
// t.Fatal if the server is not ready within 10 seconds.
func RunServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{opts: opts, storeDir: t.TempDir(), port: server.RANDOM_PORT}
	t.Cleanup(s.Shutdown)
	if err := s.start(); err != nil {
		t.Fatalf("bridgetest: run server: %v", err)
	}
	return s
}

func (s *Server) options() *server.Options {
	o := &server.Options{
		ServerName: "bridgetest",
		Host:       "127.0.0.1",
		Port:       s.port,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   s.storeDir,
	}
	for _, opt := range s.opts {
		opt(o)
	}
	return o
}

// start creates and starts a server from the stored options. The caller must
// not hold s.mu.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, err := server.NewServer(s.options())
	if err != nil {
		return fmt.Errorf("new nats-server: %w", err)
	}
	// NoLog stops the server from configuring its own logger; this one only
	// keeps errors, to explain a failed start.
	log := &errLogger{}
	srv.SetLoggerV2(log, false, false, false)
	go srv.Start()
	if !waitReady(srv, log) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("nats-server on port %d not ready with JetStream within %s (errors: %s)",
			s.port, readyTimeout, log.String())
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("nats-server listener address %v is not TCP", srv.Addr())
	}
	s.srv = srv
	s.port = addr.Port
	return nil
}

// URL returns the client URL, nats://127.0.0.1:PORT (tls:// when WithTLS is
// used). It stays the same across Restart.
func (s *Server) URL() string {
	return s.NATS().ClientURL()
}

// Port returns the client port. It stays the same across Restart.
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// NATS returns the running *server.Server. After Restart it is a different
// value, so do not keep it across a restart.
func (s *Server) NATS() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// Conn connects a client to the server with opts and closes it on t.Cleanup.
// The client keeps nats.go's reconnect defaults unless opts override them.
// Conn calls t.Fatal if the connection fails.
func (s *Server) Conn(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return connect(t, s.URL(), opts...)
}

// JetStream returns a JetStream context on a new connection from Conn.
func (s *Server) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	return jetStream(t, s.Conn(t))
}

// connect connects to url, closes the connection on t.Cleanup, and calls
// t.Fatal if it fails.
func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("bridgetest: connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func jetStream(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("bridgetest: jetstream: %v", err)
	}
	return js
}

// Shutdown stops the server and waits until it has fully shut down. Clients
// see a disconnect. The store directory is kept, so Restart recovers it.
// Shutdown is idempotent.
func (s *Server) Shutdown() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Shutdown()
	srv.WaitForShutdown()
}

// Restart shuts the server down if it is running and starts it again with the
// same options, on the same port and with the same store directory, and
// waits until it is ready. Clients configured to reconnect will reconnect to
// the same URL. Restart calls t.Fatal if the server does not come back within
// 10 seconds (for example because another process took the port).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Shutdown()
	if err := s.start(); err != nil {
		t.Fatalf("bridgetest: restart server: %v", err)
	}
}

// WaitFor polls cond every 20ms until it returns nil or timeout elapses. On
// timeout it calls t.Fatalf with what and the last error from cond. This is
// the waiting primitive for tests: use it instead of time.Sleep.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("bridgetest: timed out after %s waiting for %s: %v", timeout, what, err)
			return
		case <-tick.C:
		}
	}
}

// waitReady reports whether srv accepts connections with JetStream enabled
// within readyTimeout. It gives up early once the server logs a fatal error.
func waitReady(srv *server.Server, log *errLogger) bool {
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		// ReadyForConnections itself polls for up to its argument.
		if srv.ReadyForConnections(50*time.Millisecond) && srv.JetStreamEnabled() {
			return true
		}
		if log.fatal() {
			return false
		}
	}
	return false
}

// errLogger is a server.Logger that discards everything but errors and
// fatals, which it keeps so a failed start can say why.
type errLogger struct {
	mu       sync.Mutex
	errs     []string
	hasFatal bool
}

func (l *errLogger) fatal() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hasFatal
}

func (l *errLogger) record(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, v...))
}

func (l *errLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return "none logged"
	}
	return strings.Join(l.errs, "; ")
}

func (l *errLogger) Fatalf(format string, v ...any) {
	l.record(format, v...)
	l.mu.Lock()
	l.hasFatal = true
	l.mu.Unlock()
}
func (l *errLogger) Errorf(format string, v ...any) { l.record(format, v...) }
func (l *errLogger) Noticef(string, ...any)         {}
func (l *errLogger) Warnf(string, ...any)           {}
func (l *errLogger) Debugf(string, ...any)          {}
func (l *errLogger) Tracef(string, ...any)          {}
