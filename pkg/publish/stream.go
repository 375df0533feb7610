package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamConfig is the part of the stream dtbridge manages.
type StreamConfig struct {
	Name       string
	Subjects   []string      // e.g. ["doubletick.>"]
	MaxAge     time.Duration // 0 = unlimited
	MaxBytes   int64         // -1 = unlimited
	Replicas   int
	Duplicates time.Duration // the dedup window
	// AtomicPublish allows atomic batch publish (AllowAtomicPublish,
	// nats-server ≥ 2.12), which [WithBatching] needs.
	AtomicPublish bool
}

// EnsureStream makes the stream ready for writing. With manage it creates
// the stream, or updates an existing one to cfg (file storage, limits
// retention); without, it only checks that the stream exists and captures
// every subject in cfg.Subjects.
func EnsureStream(ctx context.Context, nc *nats.Conn, cfg StreamConfig, manage bool) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if manage {
		maxBytes := cfg.MaxBytes
		if maxBytes == 0 {
			maxBytes = -1
		}
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        cfg.Name,
			Description: "DoubleTick webhooks as CloudEvents, written by dtbridge",
			Subjects:    cfg.Subjects,
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      cfg.MaxAge,
			MaxBytes:    maxBytes,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.Duplicates,
			Discard:     jetstream.DiscardOld,

			AllowAtomicPublish: cfg.AtomicPublish,
		})
		if err != nil {
			return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
		}
		return nil
	}
	s, err := js.Stream(ctx, cfg.Name)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("stream %s does not exist and stream.manage is false: create it or set stream.manage: true", cfg.Name)
		}
		return fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	have := s.CachedInfo().Config.Subjects
	for _, want := range cfg.Subjects {
		if !slices.Contains(have, want) {
			return fmt.Errorf("stream %s captures %v, not %s (stream.manage is false, so dtbridge will not change it)", cfg.Name, have, want)
		}
	}
	return nil
}

// Ready reports whether the stream is writable: the connection is up and
// the stream answers an info request. The error says why not.
func (p *Publisher) Ready(ctx context.Context, state *ConnState) error {
	if err := state.Err(); err != nil {
		return err
	}
	if _, err := p.js.Stream(ctx, p.stream); err != nil {
		return fmt.Errorf("stream %s unavailable: %w", p.stream, err)
	}
	return nil
}

// StoredID returns the CloudEvents id of the message stored at seq, read
// through the stream leader. A deduplicated delivery is answered with the id
// of the event that was stored, not of the copy that was dropped.
func (p *Publisher) StoredID(ctx context.Context, seq uint64) (string, error) {
	s, err := p.js.Stream(ctx, p.stream)
	if err != nil {
		return "", fmt.Errorf("stream %s: %w", p.stream, err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return "", fmt.Errorf("get %s seq %d: %w", p.stream, seq, err)
	}
	var ev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		return "", fmt.Errorf("decode %s seq %d: %w", p.stream, seq, err)
	}
	return ev.ID, nil
}
