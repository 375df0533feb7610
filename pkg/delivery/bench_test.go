package delivery

import (
	"testing"

	"github.com/dtbridge/dtbridge/pkg/doubletick"
)

// BenchmarkConvert: classification/lookup, normalization, dedup key and
// envelope encoding per fixture — the pure path, no NATS or HTTP.
func BenchmarkConvert(b *testing.B) {
	c := newTestConverter(b)
	table := doubletick.Default()
	for _, fx := range fixtures(b) {
		if _, err := table.Lookup(fx.event); err != nil {
			continue
		}
		b.Run(fx.event+"/"+fx.name, func(b *testing.B) {
			d := Delivery{Event: fx.event, Body: fx.body, ReceivedAt: receivedAt}
			b.ReportAllocs()
			b.SetBytes(int64(len(fx.body)))
			for b.Loop() {
				if _, err := c.Convert(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEnvelope: validating and encoding the envelope of each fixture
// (the last step of Convert).
func BenchmarkEnvelope(b *testing.B) {
	c := newTestConverter(b)
	table := doubletick.Default()
	for _, fx := range fixtures(b) {
		if _, err := table.Lookup(fx.event); err != nil {
			continue
		}
		m, err := c.Convert(Delivery{Event: fx.event, Body: fx.body, ReceivedAt: receivedAt})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fx.event+"/"+fx.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Event.Validate(); err != nil {
					b.Fatal(err)
				}
				if _, err := m.Event.MarshalJSON(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
