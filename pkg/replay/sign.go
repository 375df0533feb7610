package replay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
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
