package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dtbridge/dtbridge/pkg/envelope"
)

// HTTP sink defaults.
const (
	DefaultMaxAttempts    = 5
	DefaultBackoff        = 500 * time.Millisecond // first retry; doubles per attempt
	DefaultMaxBackoff     = 30 * time.Second
	DefaultAttemptTimeout = 30 * time.Second // one request, Standard Webhooks suggests 15–30 s
	// MaxRetryAfter caps how long a Retry-After answer can make one retry wait.
	MaxRetryAfter = 5 * time.Minute
)

// HTTPSink POSTs each event, exactly as stored, in CloudEvents structured
// mode (Content-Type: application/cloudevents+json) to one URL.
//
//   - 2xx is success. 3xx is a failure and is never followed (a redirect
//     could point anywhere). 408, 425, 429 and 5xx are retried; other 4xx
//     are final.
//   - Retries wait DefaultBackoff doubling up to DefaultMaxBackoff (see
//     [WithBackoff]), or longer when the answer carries Retry-After (seconds
//     or an HTTP date, capped at [MaxRetryAfter]); at most
//     DefaultMaxAttempts attempts ([WithMaxAttempts]).
//   - Connections to [Blocked] addresses are refused at dial time, after
//     DNS. No proxy is used (a proxy would hide the target's address from
//     that check).
//   - It sends no credentials of its own: only those written into the URL
//     by the operator. With [WithSigner] each attempt carries Standard
//     Webhooks headers; webhook-id is the event's CloudEvents id, stable
//     across attempts and replays, for the receiver's idempotency.
//
// Every request also carries [HeaderReplayOf]. It is not safe for
// concurrent use by several replays (Send is called in order by one).
type HTTPSink struct {
	url         string
	redacted    string
	client      *http.Client
	maxAttempts int
	backoff     time.Duration
	maxBackoff  time.Duration
	timeout     time.Duration
	signer      *Signer
	resolve     Resolver
	userAgent   string
	sleep       func(context.Context, time.Duration) error
	now         func() time.Time
}

// HTTPOption configures an [HTTPSink].
type HTTPOption func(*HTTPSink) error

// WithMaxAttempts sets how many times one event is tried (≥ 1).
func WithMaxAttempts(n int) HTTPOption {
	return func(s *HTTPSink) error {
		if n < 1 {
			return fmt.Errorf("max attempts must be >= 1 (got %d)", n)
		}
		s.maxAttempts = n
		return nil
	}
}

// WithBackoff sets the wait before the first retry (doubled for each later
// one) and its cap.
func WithBackoff(initial, maxWait time.Duration) HTTPOption {
	return func(s *HTTPSink) error {
		if initial <= 0 || maxWait < initial {
			return fmt.Errorf("backoff must be > 0 and <= its maximum (got %s, max %s)", initial, maxWait)
		}
		s.backoff, s.maxBackoff = initial, maxWait
		return nil
	}
}

// WithAttemptTimeout bounds one request, answer included.
func WithAttemptTimeout(d time.Duration) HTTPOption {
	return func(s *HTTPSink) error {
		if d <= 0 {
			return fmt.Errorf("attempt timeout must be > 0 (got %s)", d)
		}
		s.timeout = d
		return nil
	}
}

// WithSigner signs every request with Standard Webhooks headers.
func WithSigner(sg *Signer) HTTPOption {
	return func(s *HTTPSink) error { s.signer = sg; return nil }
}

// WithResolver resolves host names with r instead of the system resolver.
// Every resolved address still goes through the dial-time check.
func WithResolver(r Resolver) HTTPOption {
	return func(s *HTTPSink) error { s.resolve = r; return nil }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) HTTPOption {
	return func(s *HTTPSink) error { s.userAgent = ua; return nil }
}

// WithSleep replaces the wait between attempts (tests record the waits
// instead of taking them). sleep must return early with ctx's error.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) HTTPOption {
	return func(s *HTTPSink) error { s.sleep = sleep; return nil }
}

// NewHTTPSink returns a sink POSTing to rawURL, an absolute http or https
// URL.
func NewHTTPSink(rawURL string, opts ...HTTPOption) (*HTTPSink, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("replay URL must be an absolute http:// or https:// URL with a host")
	}
	s := &HTTPSink{
		url: rawURL, redacted: u.Redacted(),
		maxAttempts: DefaultMaxAttempts, backoff: DefaultBackoff, maxBackoff: DefaultMaxBackoff,
		timeout: DefaultAttemptTimeout, userAgent: "dtbridge-replay", sleep: sleepCtx, now: time.Now,
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	d := newDialer(s.resolve)
	s.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: s.timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

// URL is the target with any password redacted, for messages.
func (s *HTTPSink) URL() string { return s.redacted }

// attemptError is one failed attempt.
type attemptError struct {
	err        error
	retry      bool
	retryAfter time.Duration // from the answer's Retry-After, 0 if none
}

// Send POSTs m, retrying as described on [HTTPSink].
func (s *HTTPSink) Send(ctx context.Context, m Msg) error {
	id := eventID(m)
	for attempt := 1; ; attempt++ {
		ae := s.attempt(ctx, id, m)
		if ae == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("POST %s: %w: %w", s.redacted, ErrStop, ctx.Err())
		}
		if !ae.retry || attempt >= s.maxAttempts {
			return fmt.Errorf("POST %s (attempt %d of %d): %w", s.redacted, attempt, s.maxAttempts, ae.err)
		}
		wait := min(s.backoff<<(attempt-1), s.maxBackoff)
		if s.backoff<<(attempt-1) <= 0 { // overflow
			wait = s.maxBackoff
		}
		wait = max(wait, ae.retryAfter)
		if err := s.sleep(ctx, wait); err != nil {
			return fmt.Errorf("POST %s: %w: %w", s.redacted, ErrStop, err)
		}
	}
}

func (s *HTTPSink) attempt(ctx context.Context, id string, m Msg) *attemptError {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(m.Data))
	if err != nil {
		return &attemptError{err: err}
	}
	req.Header.Set("Content-Type", envelope.ContentType)
	req.Header.Set("User-Agent", s.userAgent)
	req.Header.Set(HeaderReplayOf, ReplayOf(m))
	if s.signer != nil {
		s.signer.Sign(req.Header, id, s.now(), m.Data)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return &attemptError{err: err, retry: !errors.Is(err, ErrBlockedAddress)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code >= 300 && code < 400:
		return &attemptError{err: fmt.Errorf("answered %d (redirect to %q, not followed)", code, resp.Header.Get("Location"))}
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, code >= 500:
		return &attemptError{err: fmt.Errorf("answered %d", code), retry: true, retryAfter: retryAfter(resp.Header.Get("Retry-After"), s.now())}
	default:
		return &attemptError{err: fmt.Errorf("answered %d (not retried)", code)}
	}
}

// retryAfter parses a Retry-After value (delay-seconds or an HTTP date),
// capped at MaxRetryAfter; 0 if absent or unparseable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// eventID is the CloudEvents id of m, or "<stream>-<seq>" when m is not an
// event with an id. Standard Webhooks ids must not contain '.'.
func eventID(m Msg) string {
	var ev struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(m.Data, &ev) == nil && ev.ID != "" && !strings.ContainsAny(ev.ID, ". \t\r\n") {
		return ev.ID
	}
	return m.Stream + "-" + strconv.FormatUint(m.Seq, 10)
}

// Flush does nothing: every Send completes its request.
func (s *HTTPSink) Flush(context.Context) error { return nil }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
