package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dtbridge/dtbridge/pkg/doubletick"
)

// TestTemplateUnique: every request's body is valid JSON, differs from every
// other's, and keeps the fixture's fields; natural-key fields are made
// unique too.
func TestTemplateUnique(t *testing.T) {
	tpl, err := NewTemplate("MESSAGE_RECEIVED", "text", []byte(`{"dtMessageId":"m-1","to":"+91 <x>","n":1.50,"nested":{"dtMessageId":"keep"}}`))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range []uint64{0, 1, 2, 10, 11} {
		for _, run := range []string{"a", "b"} {
			body := tpl.Append(nil, run, n)
			var obj map[string]any
			if err := json.Unmarshal(body, &obj); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if seen[string(body)] {
				t.Errorf("body repeated: %s", body)
			}
			seen[string(body)] = true
			if id, _ := obj["dtMessageId"].(string); !strings.HasSuffix(id, "m-1") || id == "m-1" {
				t.Errorf("dtMessageId %q: not made unique", id)
			}
			if obj["to"] != "+91 <x>" || obj[UniqueField] == "" {
				t.Errorf("fields changed or unique field missing: %s", body)
			}
			if nested := obj["nested"].(map[string]any); nested["dtMessageId"] != "keep" {
				t.Errorf("nested field changed: %s", body)
			}
		}
	}
}

func TestLoadFixtures(t *testing.T) {
	tpls, err := LoadFixtures("../../testdata/fixtures", func(e string) bool { return e == "CLOSE_CONVERSATION" })
	if err != nil {
		t.Fatal(err)
	}
	if len(tpls) == 0 {
		t.Fatal("no CLOSE_CONVERSATION fixtures")
	}
	for _, tp := range tpls {
		if tp.Event != "CLOSE_CONVERSATION" || tp.Size() == 0 {
			t.Errorf("template %+v", tp)
		}
	}
	if _, err := LoadFixtures(t.TempDir(), nil); err == nil {
		t.Error("an empty directory gave no error")
	}
}

// TestRun: closed and open loop against a real HTTP server that accepts,
// answers duplicates and fails: every outcome is counted where it belongs,
// with the token and event in the URL.
func TestRun(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[string(body)]++
		mu.Unlock()
		switch {
		case r.URL.Query().Get("token") != "tok" || r.URL.Path != "/v1/webhooks/doubletick/CLOSE_CONVERSATION":
			w.WriteHeader(http.StatusUnauthorized)
		case bytes.Contains(body, []byte(`"dtCustomerId":"r`)) && len(body)%3 == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case len(body)%3 == 1:
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"seq":1,"duplicate":true}`))
		default:
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"seq":1,"duplicate":false}`))
		}
	}))
	defer srv.Close()
	tpls, err := LoadFixtures("../../testdata/fixtures", func(e string) bool { return e == "CLOSE_CONVERSATION" })
	if err != nil {
		t.Fatal(err)
	}
	for _, rate := range []float64{0, 500} {
		r, err := Run(context.Background(), NewClient(4), Options{
			BaseURL: srv.URL, Token: "tok", Templates: tpls, Concurrency: 4,
			Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond, Rate: rate, Run: fmt.Sprint("t", rate),
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests == 0 || r.Accepted+r.ErrorCount() != r.Requests {
			t.Errorf("rate %v: %d requests, %d accepted, %d errors", rate, r.Requests, r.Accepted, r.ErrorCount())
		}
		for k := range r.Errors {
			if k != "status 503" {
				t.Errorf("rate %v: unexpected error kind %q", rate, k)
			}
		}
		if r.P50 > r.P99 || r.P99 > r.Max {
			t.Errorf("percentiles out of order: %+v", r)
		}
		if r.Duplicates > r.Accepted {
			t.Errorf("%d duplicates of %d accepted", r.Duplicates, r.Accepted)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for b, n := range bodies {
		if n > 1 {
			t.Errorf("body sent %d times: %s", n, b)
		}
	}
	if _, err := Run(context.Background(), NewClient(1), Options{BaseURL: srv.URL}); err == nil {
		t.Error("Run without templates gave no error")
	}
}

// TestEveryFixtureRequestIsUnique: for every fixture, requests get distinct
// dedup keys (the bridge's own key, computed by the event table), so a
// benchmark never measures deduplication by accident.
func TestEveryFixtureRequestIsUnique(t *testing.T) {
	tpls, err := LoadFixtures("../../testdata/fixtures", nil)
	if err != nil {
		t.Fatal(err)
	}
	table := doubletick.Default()
	for _, tp := range tpls {
		seen := map[string]bool{}
		for n := uint64(0); n < 3; n++ {
			got, err := table.Convert(tp.Event, tp.Append(nil, "r", n), doubletick.Hints{})
			if err != nil {
				t.Fatalf("%s/%s: %v", tp.Event, tp.Name, err)
			}
			if seen[got.DedupKey] {
				t.Errorf("%s/%s: request %d repeats dedup key %s", tp.Event, tp.Name, n, got.DedupKey)
			}
			seen[got.DedupKey] = true
		}
	}
}
