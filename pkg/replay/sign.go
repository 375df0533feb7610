package replay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Signer signs requests as Standard Webhooks does: HMAC-SHA256 over
// "{webhook-id}.{webhook-timestamp}.{body}" with the raw body bytes, sent as
// "v1,{base64}". It is safe for concurrent use.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer for key, the decoded secret (see
// config.Replay.SigningKey for the whsec_ form).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) == 0 {
		return nil, errors.New("webhook signing key is empty")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Signature returns the "v1,{base64}" signature of body for id and ts.
func (s *Signer) Signature(id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sign sets the three Standard Webhooks headers on h.
func (s *Signer) Sign(h http.Header, id string, ts time.Time, body []byte) {
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderWebhookSignature, s.Signature(id, ts, body))
}

// Verification errors.
var (
	ErrRequiredHeaders     = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrInvalidTimestamp    = errors.New("webhook: invalid webhook-timestamp")
	ErrMessageTooOld       = errors.New("webhook: timestamp too old")
	ErrMessageTooNew       = errors.New("webhook: timestamp too new")
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
)

// Tolerance is how far webhook-timestamp may be from the verifier's clock.
const Tolerance = 5 * time.Minute

// Verify checks a received request's Standard Webhooks headers against the
// raw body: the timestamp within [Tolerance] of now, and any one of the
// space-delimited "v1,…" signatures matching (compared in constant time).
func (s *Signer) Verify(h http.Header, body []byte, now time.Time) error {
	id, tsRaw, sigs := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || tsRaw == "" || sigs == "" {
		return ErrRequiredHeaders
	}
	sec, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	ts := time.Unix(sec, 0)
	switch {
	case now.Sub(ts) > Tolerance:
		return ErrMessageTooOld
	case ts.Sub(now) > Tolerance:
		return ErrMessageTooNew
	}
	want := []byte(s.Signature(id, ts, body))
	for _, sig := range strings.Fields(sigs) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}
