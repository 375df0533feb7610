package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/natsconn"
)

// connectTimeout bounds connecting to NATS and looking up the stream for
// replay and tail.
const connectTimeout = 10 * time.Second

// clientURL is where replay and tail find the broker: nats.url, or with the
// embedded server (nats.url empty) the client address embedded.listen of a
// running `dtbridge serve`, with a wildcard host taken as loopback.
func clientURL(cfg config.Config) string {
	if !cfg.UsesEmbeddedServer() {
		return cfg.NATS.URL
	}
	host, port, err := net.SplitHostPort(cfg.Embedded.Listen)
	if err != nil {
		return "nats://" + cfg.Embedded.Listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, port)
}

// openStream connects as configured and returns the connection and the
// stream stream.name. The caller closes the connection.
func openStream(ctx context.Context, cfg config.Config, name string) (*nats.Conn, jetstream.JetStream, *jetstream.StreamInfo, error) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	url := clientURL(cfg)
	nc, err := natsconn.Connect(cctx, natsconn.Options{
		URL: url, Name: cfg.NATS.Name + "-" + name, Creds: cfg.NATS.Creds, NKey: cfg.NATS.NKey,
		User: cfg.NATS.User, Password: cfg.NATS.Password, Token: cfg.NATS.Token,
		TLS: natsconn.TLSOptions{CA: cfg.NATS.TLS.CA, Cert: cfg.NATS.TLS.Cert, Key: cfg.NATS.TLS.Key},
	})
	if err != nil {
		if cfg.UsesEmbeddedServer() {
			return nil, nil, nil, fmt.Errorf("%w (nats.url is empty, so this is the embedded server of a running `dtbridge serve` at embedded.listen)", err)
		}
		return nil, nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	s, err := js.Stream(cctx, cfg.Stream.Name)
	if err != nil {
		nc.Close()
		return nil, nil, nil, fmt.Errorf("stream %s (stream.name) on %s: %w", cfg.Stream.Name, nc.ConnectedUrlRedacted(), err)
	}
	info, err := s.Info(cctx)
	if err != nil {
		nc.Close()
		return nil, nil, nil, fmt.Errorf("stream %s: %w", cfg.Stream.Name, err)
	}
	return nc, js, info, nil
}

// isTerminal reports whether w is a character device (an interactive
// terminal), where progress is drawn as a bar.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
