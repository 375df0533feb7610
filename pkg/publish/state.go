package publish

import (
	"errors"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// ConnState tracks whether the NATS connection is up. It is driven by the
// connection's own event handlers (not by polling), so readiness flips the
// moment the client notices a disconnect. Safe for concurrent use.
type ConnState struct {
	down   atomic.Pointer[string] // nil when connected; else the reason
	logger *zap.Logger
}

var errNotConnected = errors.New("nats: not connected")

// NewConnState returns a state that starts connected (it is created right
// before the connection is made, and Connect fails otherwise).
func NewConnState(logger *zap.Logger) *ConnState {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &ConnState{logger: logger}
}

// Options returns the nats.Options that keep the state current; pass them
// to the connection.
func (s *ConnState) Options() []nats.Option {
	return []nats.Option{
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // closing on purpose (Drain, Close): the closed handler records it
			}
			reason := "nats: disconnected"
			if err != nil {
				reason += ": " + err.Error()
			}
			s.down.Store(&reason)
			s.logger.Warn("nats disconnected", zap.Error(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.down.Store(nil)
			s.logger.Info("nats reconnected", zap.String("server", nc.ConnectedUrlRedacted()))
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			reason := "nats: connection closed"
			s.down.Store(&reason)
			s.logger.Info("nats connection closed")
		}),
	}
}

// Err is nil while connected, else the reason.
func (s *ConnState) Err() error {
	if r := s.down.Load(); r != nil {
		return errors.New(*r)
	}
	return nil
}
