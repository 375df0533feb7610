package config

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestReplayWebhookSecret(t *testing.T) {
	key := bytes.Repeat([]byte{0xA5}, 32)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	tests := []struct {
		name, secret string
		wantErr      string
	}{
		{"empty: no signing", "", ""},
		{"whsec form", secret, ""},
		{"bare base64", base64.StdEncoding.EncodeToString(key), ""},
		{"not base64", "whsec_not*base64!", "standard base64"},
		{"too short", "whsec_" + base64.StdEncoding.EncodeToString(key[:16]), "24 to 64 bytes"},
		{"too long", "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat(key, 3)), "24 to 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Replay.WebhookSecret = tt.secret
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				got, _ := c.Replay.SigningKey()
				if tt.secret != "" && !bytes.Equal(got, key) {
					t.Fatalf("SigningKey = %x, want %x", got, key)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "replay.webhook_secret: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want replay.webhook_secret: …%s", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(tt.secret, "whsec_")) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}

	c := Default()
	c.Replay.WebhookSecret = secret
	var buf bytes.Buffer
	if err := c.Redacted().WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), secret[6:]) || !strings.Contains(buf.String(), "webhook_secret: "+Redaction) {
		t.Fatalf("printed config does not redact replay.webhook_secret:\n%s", buf.String())
	}
}
