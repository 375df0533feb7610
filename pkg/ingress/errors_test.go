package ingress

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dtbridge/dtbridge/pkg/auth"
	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/payload"
	"github.com/dtbridge/dtbridge/pkg/publish"
)

// TestErrorResponse: every error the ingress meets maps to one status and
// stable code, also when wrapped, and the message never carries Go error
// text from the cause.
func TestErrorResponse(t *testing.T) {
	const secretish = "internal detail 10.1.2.3:4222"
	for _, tc := range []struct {
		err        error
		status     int
		code       string
		retryAfter bool
	}{
		{&payload.MalformedError{Reason: "body is not valid JSON"}, 400, CodeMalformed, false},
		{&doubletick.MalformedError{Reason: "body is not a JSON object"}, 400, CodeMalformed, false},
		{auth.ErrUnauthenticated, 401, CodeUnauthenticated, false},
		{auth.ErrForbidden, 403, CodeForbidden, false},
		{fmt.Errorf("%w %q", doubletick.ErrUnknownEvent, "NOPE"), 404, CodeUnknownEvent, false},
		{errUnknownSchema, 404, CodeNotFound, false},
		{echo.ErrNotFound, 404, CodeNotFound, false},
		{echo.ErrMethodNotAllowed, 405, CodeMethodNotAllowed, false},
		{payload.ErrTooLarge, 413, CodeTooLarge, false},
		{fmt.Errorf("publish x: %w", publish.ErrTooLarge), 413, CodeTooLarge, false},
		{fmt.Errorf("%w: gzip", payload.ErrUnsupportedMediaType), 415, CodeUnsupportedMedia, false},
		{&RateLimitedError{RetryAfter: 2 * time.Second}, 429, CodeRateLimited, true},
		{&publish.BrokerError{Subject: "s", Attempts: 3, Err: errors.New(secretish)}, 503, CodeBrokerUnavailable, true},
		{fmt.Errorf("quarantine: %w", &publish.BrokerError{Err: errors.New(secretish)}), 503, CodeBrokerUnavailable, true},
		{errors.New(secretish), 500, CodeInternal, false},
	} {
		r := errorResponse(tc.err)
		if r.status != tc.status || r.code != tc.code || (r.retryAfter > 0) != tc.retryAfter {
			t.Errorf("%v → %d %s retry-after %v; want %d %s %v", tc.err, r.status, r.code, r.retryAfter, tc.status, tc.code, tc.retryAfter)
		}
		if strings.Contains(r.message, secretish) || r.message == "" || r.status == http.StatusOK {
			t.Errorf("%v → message %q", tc.err, r.message)
		}
	}
}
