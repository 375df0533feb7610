package replay_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/dtbridge/dtbridge/pkg/replay"
)

func TestSignerVerify(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s, err := replay.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := replay.NewSigner([]byte("another-key-another-key-another-"))
	now := time.Unix(1_764_000_000, 0)
	body := []byte(`{"id":"evt-1"}`)
	signed := func(ts time.Time, b []byte) http.Header {
		h := http.Header{}
		s.Sign(h, "evt-1", ts, b)
		return h
	}
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"valid", signed(now, body), body, nil},
		{"4m59s old", signed(now.Add(-replay.Tolerance+time.Second), body), body, nil},
		{"5m1s old", signed(now.Add(-replay.Tolerance-time.Second), body), body, replay.ErrMessageTooOld},
		{"5m1s ahead", signed(now.Add(replay.Tolerance+time.Second), body), body, replay.ErrMessageTooNew},
		{"re-serialized body", signed(now, body), []byte(`{"id": "evt-1"}`), replay.ErrNoMatchingSignature},
		{"missing header", http.Header{"Webhook-Id": {"evt-1"}}, body, replay.ErrRequiredHeaders},
		{"one of several signatures", func() http.Header {
			h := signed(now, body)
			h.Set("webhook-signature", other.Signature("evt-1", now, body)+" "+h.Get("webhook-signature"))
			return h
		}(), body, nil},
		{"wrong key", func() http.Header {
			h := http.Header{}
			other.Sign(h, "evt-1", now, body)
			return h
		}(), body, replay.ErrNoMatchingSignature},
		{"bad timestamp", func() http.Header {
			h := signed(now, body)
			h.Set("webhook-timestamp", "yesterday")
			return h
		}(), body, replay.ErrInvalidTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Verify(tt.h, tt.body, now); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}
