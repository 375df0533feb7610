package ingress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/auth"
	"github.com/dtbridge/dtbridge/pkg/delivery"
	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/envelope"
	"github.com/dtbridge/dtbridge/pkg/metrics"
	"github.com/dtbridge/dtbridge/pkg/payload"
	"github.com/dtbridge/dtbridge/pkg/publish"
)

// Routes (contract §2).
const (
	webhookRoute      = "/v1/webhooks/doubletick"
	webhookEventRoute = "/v1/webhooks/doubletick/:event"
	schemaRoute       = "/v1/schemas/:type"
)

// Authenticator decides who may deliver.
type Authenticator interface {
	// Check returns nil, auth.ErrUnauthenticated or auth.ErrForbidden.
	Check(r *http.Request) error
	// ClientIP is the delivering address (proxies honoured only if trusted).
	ClientIP(r *http.Request) netip.Addr
}

// Converter turns deliveries into messages (package delivery).
type Converter interface {
	Convert(delivery.Delivery) (delivery.Message, error)
	Quarantine(delivery.Rejected) (delivery.Message, error)
	Schema(name string) ([]byte, bool)
}

// Publisher stores messages (package publish).
type Publisher interface {
	Publish(ctx context.Context, m publish.Msg) (publish.Receipt, error)
	// StoredID is the id of the event stored at seq (for duplicate acks).
	StoredID(ctx context.Context, seq uint64) (string, error)
}

// ReadinessFunc reports why the bridge cannot store events, or nil.
type ReadinessFunc func(ctx context.Context) error

var (
	_ Authenticator = (*auth.Authenticator)(nil)
	_ Converter     = (*delivery.Converter)(nil)
	_ Publisher     = (*publish.Publisher)(nil)
)

// Options are the ingress's settings; zero values take the defaults noted.
type Options struct {
	Limits payload.Limits
	// Rate is deliveries per second per source address; 0 disables the limit.
	Rate  float64
	Burst int
	// Clock gives receive times (default time.Now).
	Clock  func() time.Time
	Logger *zap.Logger
	// ReadyTimeout bounds /readyz's stream check (default 2s).
	ReadyTimeout time.Duration
	// Timeouts of the http.Server (slowloris protection); zero means none.
	Timeouts HTTPTimeouts
}

// Server is the Echo application in its http.Server. Create it with [New];
// serve it with [Server.Serve].
type Server struct {
	echo    *echo.Echo
	http    *http.Server
	auth    Authenticator
	conv    Converter
	pub     Publisher
	ready   ReadinessFunc
	metrics *metrics.Metrics
	logger  *zap.Logger
	limits  payload.Limits
	limiter *limiter
	clock   func() time.Time
	readyTO time.Duration
}

// New wires the routes.
func New(opts Options, a Authenticator, conv Converter, pub Publisher, ready ReadinessFunc, m *metrics.Metrics) *Server {
	s := &Server{
		echo: echo.New(), auth: a, conv: conv, pub: pub, ready: ready, metrics: m,
		logger: opts.Logger, limits: opts.Limits, clock: opts.Clock, readyTO: opts.ReadyTimeout,
	}
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.readyTO <= 0 {
		s.readyTO = 2 * time.Second
	}
	if opts.Rate > 0 {
		s.limiter = newLimiter(opts.Rate, opts.Burst)
	}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.observe, securityHeaders, s.recoverPanic)
	e.POST(webhookEventRoute, s.webhook)
	e.POST(webhookRoute, s.webhook)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(m.Handler()))
	e.GET(schemaRoute, s.schema)
	s.http = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: opts.Timeouts.ReadHeader,
		ReadTimeout:       opts.Timeouts.Read,
		WriteTimeout:      opts.Timeouts.Write,
		IdleTimeout:       opts.Timeouts.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(s.logger.Named("http")),
	}
	return s
}

// webhook is both webhook routes: the event comes from the path when it has
// one, else from the payload.
func (s *Server) webhook(c echo.Context) error {
	s.metrics.InFlight.Inc()
	defer s.metrics.InFlight.Dec()
	r := c.Request()
	receivedAt := s.clock().UTC()
	if err := s.auth.Check(r); err != nil {
		return err // never stored
	}
	if s.limiter != nil {
		if wait, ok := s.limiter.allow(s.auth.ClientIP(r), receivedAt); !ok {
			return &RateLimitedError{RetryAfter: wait}
		}
	}
	event, err := url.PathUnescape(c.Param("event"))
	if err != nil {
		event = c.Param("event")
	}
	rejected := delivery.Rejected{
		Event: event, Route: c.Path(), ContentType: r.Header.Get("Content-Type"),
		Channel: r.URL.Query().Get("channel"), ReceivedAt: receivedAt, TraceParent: traceParent(r),
	}
	body, err := payload.Read(r, s.limits)
	if err != nil {
		if errors.Is(err, payload.ErrTooLarge) {
			return err // not read in full: nothing to keep
		}
		rejected.Raw = body.Raw
		return s.quarantine(c, rejected, err)
	}
	rejected.Raw = body.Raw
	msg, err := s.conv.Convert(delivery.Delivery{
		Event: event, Body: body.JSON, Channel: rejected.Channel,
		ReceivedAt: receivedAt, TraceParent: rejected.TraceParent,
	})
	if err != nil {
		return s.quarantine(c, rejected, err)
	}
	return s.store(c, msg)
}

// quarantine stores an authenticated delivery that cannot become an event,
// then answers: 202 for an unclassified delivery (it is safely stored; the
// sender must not retry), the cause's error status otherwise.
func (s *Server) quarantine(c echo.Context, r delivery.Rejected, cause error) error {
	r.Reason, r.Detail = quarantineReason(cause)
	if r.Reason == "" {
		return cause
	}
	msg, err := s.conv.Quarantine(r)
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", r.Reason, err)
	}
	if r.Reason == delivery.ReasonUnclassified {
		return s.store(c, msg)
	}
	if _, err := s.publish(c, msg); err != nil {
		return err // not stored: the sender should retry
	}
	return cause
}

func quarantineReason(err error) (reason, detail string) {
	var (
		malformed   *payload.MalformedError
		dtMalformed *doubletick.MalformedError
	)
	switch {
	case errors.Is(err, doubletick.ErrUnclassified):
		return delivery.ReasonUnclassified, err.Error()
	case errors.Is(err, doubletick.ErrUnknownEvent):
		return delivery.ReasonUnknownEvent, err.Error()
	case errors.As(err, &malformed):
		return delivery.ReasonMalformed, malformed.Reason
	case errors.As(err, &dtMalformed):
		return delivery.ReasonMalformed, dtMalformed.Reason
	case errors.Is(err, payload.ErrUnsupportedMediaType):
		return delivery.ReasonUnsupportedMedia, err.Error()
	}
	return "", ""
}

// publish stores msg and counts the outcome.
func (s *Server) publish(c echo.Context, msg delivery.Message) (publish.Receipt, error) {
	rcpt, err := s.pub.Publish(c.Request().Context(), publish.Msg{
		Subject: msg.Subject, ID: msg.MsgID, Data: msg.Encoded, ContentType: envelope.ContentType,
	})
	if err != nil {
		return rcpt, err
	}
	switch {
	case msg.Quarantine != "" && !rcpt.Duplicate:
		s.metrics.Quarantined.WithLabelValues(msg.Quarantine).Inc()
	case rcpt.Duplicate:
		s.metrics.Duplicates.WithLabelValues(msg.Event.Type).Inc()
	default:
		s.metrics.Events.WithLabelValues(msg.Event.Type, msg.Event.Channel).Inc()
	}
	return rcpt, nil
}

// store publishes msg and, with the acknowledgement in hand, accepts.
func (s *Server) store(c echo.Context, msg delivery.Message) error {
	rcpt, err := s.publish(c, msg)
	if err != nil {
		return err
	}
	return s.accept(c, msg, rcpt)
}

// Ack is the 202 body (contract §2).
type Ack struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Subject   string `json:"subject"`
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

// accept is the only place that answers 202, and it takes the receipt:
// there is no way to reach it without a JetStream acknowledgement.
// A duplicate is answered with the id of the event stored first; if that
// cannot be read, the id is left empty rather than naming the dropped copy.
func (s *Server) accept(c echo.Context, msg delivery.Message, rcpt publish.Receipt) error {
	id := msg.Event.ID
	if rcpt.Duplicate {
		stored, err := s.pub.StoredID(c.Request().Context(), rcpt.Seq)
		if err != nil {
			s.logger.Warn("read the id of a deduplicated event", zap.Uint64("seq", rcpt.Seq), zap.Error(err))
		}
		id = stored
	}
	return c.JSON(http.StatusAccepted, Ack{
		ID: id, Type: msg.Event.Type, Subject: msg.Subject,
		Stream: rcpt.Stream, Seq: rcpt.Seq, Duplicate: rcpt.Duplicate,
	})
}

var traceParentRE = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// traceParent returns the request's W3C traceparent if it is well-formed.
func traceParent(r *http.Request) string {
	if tp := r.Header.Get("traceparent"); traceParentRE.MatchString(tp) {
		return tp
	}
	return ""
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.readyTO)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return &notReadyError{reason: err}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) schema(c echo.Context) error {
	b, ok := s.conv.Schema(c.Param("type"))
	if !ok {
		return errUnknownSchema
	}
	return c.Blob(http.StatusOK, "application/schema+json", b)
}

// HTTPTimeouts are the http.Server timeouts (slowloris protection).
type HTTPTimeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// Serve serves on ln until Shutdown; it returns nil after a graceful stop
// (also when Shutdown came first).
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections and waits, until ctx ends, for every
// request in flight to get its final answer (202 only if acknowledged).
func (s *Server) Shutdown(ctx context.Context) error {
	return s.http.Shutdown(ctx)
}
