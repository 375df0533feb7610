package ingress

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/auth"
	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/payload"
	"github.com/dtbridge/dtbridge/pkg/publish"
)

// Error codes: the stable `code` of every error body.
const (
	CodeMalformed         = "malformed_body"
	CodeUnauthenticated   = "unauthenticated"
	CodeForbidden         = "forbidden"
	CodeUnknownEvent      = "unknown_event"
	CodeNotFound          = "not_found"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeTooLarge          = "body_too_large"
	CodeUnsupportedMedia  = "unsupported_media_type"
	CodeRateLimited       = "rate_limited"
	CodeBrokerUnavailable = "broker_unavailable"
	CodeNotReady          = "not_ready"
	CodeInternal          = "internal_error"
)

// BrokerRetryAfter is the Retry-After sent with a 503 when the broker did not
// acknowledge within the publish budget.
const BrokerRetryAfter = 5 * time.Second

// errorBody is the JSON shape of every error response (contract §2).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"` // also in the log line, to find it
}

// RateLimitedError is a delivery refused by the per-address rate limit.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited, retry after %v", e.RetryAfter)
}

// notReadyError is /readyz's answer when the bridge cannot store events.
type notReadyError struct{ reason error }

func (e *notReadyError) Error() string { return "not ready: " + e.reason.Error() }
func (e *notReadyError) Unwrap() error { return e.reason }

var errUnknownSchema = errors.New("unknown schema")

// response is what an error becomes on the wire.
type response struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration
}

// errorResponse maps every error the ingress can meet to its HTTP answer.
// It is the only place that knows status codes for errors. Messages are
// fixed, safe strings (no Go error text, no internal addresses), except
// where the text was written for the sender (malformed-body reasons,
// readiness reasons).
func errorResponse(err error) response {
	var (
		malformed   *payload.MalformedError
		dtMalformed *doubletick.MalformedError
		rateLimited *RateLimitedError
		broker      *publish.BrokerError
		notReady    *notReadyError
		httpErr     *echo.HTTPError
	)
	switch {
	case errors.As(err, &malformed):
		return response{http.StatusBadRequest, CodeMalformed, "malformed body: " + malformed.Reason, 0}
	case errors.As(err, &dtMalformed):
		return response{http.StatusBadRequest, CodeMalformed, "malformed body: " + dtMalformed.Reason, 0}
	case errors.Is(err, auth.ErrUnauthenticated):
		return response{http.StatusUnauthorized, CodeUnauthenticated, "missing or invalid credentials", 0}
	case errors.Is(err, auth.ErrForbidden):
		return response{http.StatusForbidden, CodeForbidden, "source address not allowed", 0}
	case errors.Is(err, doubletick.ErrUnknownEvent):
		return response{http.StatusNotFound, CodeUnknownEvent, "unknown event name in the path; see /v1/schemas or the README's event table", 0}
	case errors.Is(err, errUnknownSchema):
		return response{http.StatusNotFound, CodeNotFound, "no schema with that name", 0}
	case errors.Is(err, payload.ErrTooLarge), errors.Is(err, publish.ErrTooLarge):
		return response{http.StatusRequestEntityTooLarge, CodeTooLarge, "body exceeds limits.max_body", 0}
	case errors.Is(err, payload.ErrUnsupportedMediaType):
		return response{http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "send JSON, application/x-www-form-urlencoded or multipart/form-data", 0}
	case errors.As(err, &rateLimited):
		return response{http.StatusTooManyRequests, CodeRateLimited, "too many deliveries from this address", rateLimited.RetryAfter}
	case errors.As(err, &broker):
		return response{http.StatusServiceUnavailable, CodeBrokerUnavailable, "event not stored: the broker did not acknowledge in time; retry", BrokerRetryAfter}
	case errors.As(err, &notReady):
		return response{http.StatusServiceUnavailable, CodeNotReady, notReady.Error(), 0}
	case errors.As(err, &httpErr):
		switch httpErr.Code {
		case http.StatusNotFound:
			return response{http.StatusNotFound, CodeNotFound, "no such route", 0}
		case http.StatusMethodNotAllowed:
			return response{http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed", 0}
		}
	}
	return response{http.StatusInternalServerError, CodeInternal, "internal error", 0}
}

// handleError is Echo's HTTPErrorHandler: it renders errorResponse and logs
// the error with an id that the body repeats.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	resp := errorResponse(err)
	id := errorID()
	if resp.retryAfter > 0 {
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(resp.retryAfter.Seconds()))))
	}
	if strings.HasPrefix(c.Path(), webhookRoute) {
		s.metrics.Rejected.WithLabelValues(resp.code).Inc()
	}
	level := zap.InfoLevel
	if resp.status >= 500 {
		level = zap.WarnLevel
	}
	s.logger.Log(level, "request failed",
		zap.String("error_id", id), zap.String("code", resp.code), zap.Int("status", resp.status),
		zap.String("route", c.Path()), zap.Error(err))
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(resp.status)
		return
	}
	_ = c.JSON(resp.status, errorBody{Error: errorDetail{Code: resp.code, Message: resp.message, ID: id}})
}

func errorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
