package embedded

import (
	"fmt"
	"sync"

	"go.uber.org/zap"
)

// zapLogger adapts a zap.Logger to server.Logger. It also remembers the last
// fatal message so Start can report why the server did not come up: the
// server calls Fatalf (and, with this logger, keeps running rather than
// exiting) when it cannot listen or cannot enable JetStream.
type zapLogger struct {
	l *zap.SugaredLogger

	mu        sync.Mutex
	lastFatal string
}

func newZapLogger(l *zap.Logger) *zapLogger {
	if l == nil {
		l = zap.NewNop()
	}
	return &zapLogger{l: l.With(zap.String("component", "nats-server")).Sugar()}
}

func (z *zapLogger) Noticef(format string, v ...any) { z.l.Infof(format, v...) }
func (z *zapLogger) Warnf(format string, v ...any)   { z.l.Warnf(format, v...) }
func (z *zapLogger) Errorf(format string, v ...any)  { z.l.Errorf(format, v...) }
func (z *zapLogger) Debugf(format string, v ...any)  { z.l.Debugf(format, v...) }
func (z *zapLogger) Tracef(format string, v ...any)  { z.l.Debugf(format, v...) }

// Fatalf logs at error level and records the message. It never exits the
// process: an embedded server must not take the bridge down with os.Exit.
func (z *zapLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	z.l.Error(msg)
	z.mu.Lock()
	z.lastFatal = msg
	z.mu.Unlock()
}

func (z *zapLogger) fatal() string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.lastFatal
}
