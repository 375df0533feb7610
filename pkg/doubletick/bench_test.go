package doubletick

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The pure parts per fixture, each on its own, with allocations. Every
// fixture under testdata/fixtures whose event is in the table is
// benchmarked, so an event added later is benchmarked automatically. The
// whole path (these plus the envelope) is BenchmarkConvert in pkg/delivery.
//
//	go test -run '^$' -bench . -benchmem ./pkg/doubletick

// benchFixtureGlob matches every fixture.
const benchFixtureGlob = "../../testdata/fixtures/*/*.json"

type benchFixture struct {
	name string // EVENT/case
	spec *EventSpec
	body []byte
	p    Payload
}

func benchFixtures(b *testing.B) []benchFixture {
	b.Helper()
	paths, err := filepath.Glob(benchFixtureGlob)
	if err != nil || len(paths) == 0 {
		b.Fatalf("no fixtures match %s", benchFixtureGlob)
	}
	table := Default()
	var out []benchFixture
	for _, path := range paths {
		event := filepath.Base(filepath.Dir(path))
		spec, err := table.Lookup(event)
		if err != nil {
			continue // not in the table (yet)
		}
		body, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		p, err := Parse(body)
		if err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		out = append(out, benchFixture{event + "/" + strings.TrimSuffix(filepath.Base(path), ".json"), spec, body, p})
	}
	return out
}

// BenchmarkParse: the body into a Payload.
func BenchmarkParse(b *testing.B) {
	for _, fx := range benchFixtures(b) {
		b.Run(fx.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(fx.body)))
			for b.Loop() {
				if _, err := Parse(fx.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClassify: the inferred route's decision on a parsed payload
// (an unclassifiable fixture is measured too: quarantine is a result).
func BenchmarkClassify(b *testing.B) {
	table := Default()
	for _, fx := range benchFixtures(b) {
		b.Run(fx.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = table.Classify(fx.p)
			}
		})
	}
}

// BenchmarkNormalize: channel, account, subject, time, dedup key and the
// data object, from a parsed payload.
func BenchmarkNormalize(b *testing.B) {
	for _, fx := range benchFixtures(b) {
		b.Run(fx.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fx.spec.normalize(fx.p, fx.body, Hints{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDedupKey: the idempotency key alone.
func BenchmarkDedupKey(b *testing.B) {
	for _, fx := range benchFixtures(b) {
		b.Run(fx.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = fx.spec.dedupKey(fx.p)
			}
		})
	}
}
