package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe one load run.
type Options struct {
	// BaseURL is the bridge's, e.g. http://127.0.0.1:8080; requests go to
	// {BaseURL}/v1/webhooks/doubletick/{event}?token={Token}.
	BaseURL string
	Token   string
	// Templates are the bodies, used round-robin.
	Templates []Template
	// Concurrency is the number of connections (and of requests in flight).
	Concurrency int
	// Duration is how long the measured part lasts; Warmup runs before it
	// and is not measured.
	Duration, Warmup time.Duration
	// Rate, when > 0, sends at this many requests per second (open loop)
	// with at most Concurrency in flight; latency counts from each request's
	// scheduled time. 0 sends as fast as the server answers (closed loop).
	Rate float64
	// Run makes bodies unique across runs against the same stream.
	Run string
}

// Result is what one run measured.
type Result struct {
	Requests   int            // measured requests that completed, whatever the outcome
	Accepted   int            // answered 202
	Duplicates int            // 202 with "duplicate":true: should be 0, bodies are unique
	Errors     map[string]int // anything else: "status 503", "transport: …"
	Elapsed    time.Duration
	RPS        float64 // accepted per second
	P50        time.Duration
	P90        time.Duration
	P99        time.Duration
	Max        time.Duration
}

// ErrorCount is the number of requests that were not accepted.
func (r Result) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// String is a one-line summary.
func (r Result) String() string {
	s := fmt.Sprintf("%8.0f req/s  p50 %-9v p90 %-9v p99 %-9v max %-9v  n=%d", r.RPS, r.P50, r.P90, r.P99, r.Max, r.Requests)
	if r.Duplicates > 0 {
		s += fmt.Sprintf("  duplicates=%d", r.Duplicates)
	}
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s += fmt.Sprintf("  [%s]=%d", k, r.Errors[k])
		}
	}
	return s
}

// NewClient is an HTTP client for conns keep-alive connections.
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DisableCompression:  true,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

// worker state, merged at the end.
type tally struct {
	lat        []time.Duration
	accepted   int
	duplicates int
	errors     map[string]int
}

var duplicateTrue = []byte(`"duplicate":true`)

// Run sends load as o describes and measures it.
func Run(ctx context.Context, client *http.Client, o Options) (Result, error) {
	if o.Concurrency < 1 || o.Duration <= 0 || len(o.Templates) == 0 {
		return Result{}, errors.New("loadgen: concurrency, duration and templates are required")
	}
	urls := make([]string, len(o.Templates))
	for i, t := range o.Templates {
		urls[i] = strings.TrimRight(o.BaseURL, "/") + "/v1/webhooks/doubletick/" + t.Event
		if o.Token != "" {
			urls[i] += "?token=" + o.Token
		}
	}
	var (
		next      atomic.Uint64 // request counter (also the open loop's schedule index)
		begin     = time.Now()
		measureAt = begin.Add(o.Warmup)
		endAt     = measureAt.Add(o.Duration)
		tallies   = make([]tally, o.Concurrency)
		wg        sync.WaitGroup
	)
	ctx, cancel := context.WithDeadline(ctx, endAt.Add(30*time.Second))
	defer cancel()
	for w := range o.Concurrency {
		wg.Go(func() {
			t := &tallies[w]
			t.errors = map[string]int{}
			var body, resp bytes.Buffer
			for {
				n := next.Add(1) - 1
				sent := time.Now()
				if o.Rate > 0 {
					sent = begin.Add(time.Duration(float64(n) / o.Rate * float64(time.Second)))
					if d := time.Until(sent); d > 0 {
						time.Sleep(d)
					}
				}
				if !sent.Before(endAt) || ctx.Err() != nil {
					return
				}
				tpl := o.Templates[int(n%uint64(len(o.Templates)))]
				body.Reset()
				body.Write(tpl.Append(body.AvailableBuffer(), o.Run, n))
				status, dup, err := post(ctx, client, urls[int(n%uint64(len(urls)))], body.Bytes(), &resp)
				done := time.Now()
				if sent.Before(measureAt) {
					continue
				}
				if done.After(endAt) && o.Rate == 0 {
					return // closed loop: requests finishing after the end are not counted
				}
				t.lat = append(t.lat, done.Sub(sent))
				switch {
				case err != nil:
					t.errors["transport: "+shortErr(err)]++
				case status != http.StatusAccepted:
					t.errors[fmt.Sprintf("status %d", status)]++
				default:
					t.accepted++
					if dup {
						t.duplicates++
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := o.Duration
	r := Result{Errors: map[string]int{}, Elapsed: elapsed}
	var lat []time.Duration
	for _, t := range tallies {
		lat = append(lat, t.lat...)
		r.Accepted += t.accepted
		r.Duplicates += t.duplicates
		for k, v := range t.errors {
			r.Errors[k] += v
		}
	}
	r.Requests = len(lat)
	r.RPS = float64(r.Accepted) / elapsed.Seconds()
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50, r.P90, r.P99, r.Max = pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99), lat[len(lat)-1]
	}
	return r, nil
}

// pct is the p-quantile of sorted (nearest rank).
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func post(ctx context.Context, client *http.Client, url string, body []byte, resp *bytes.Buffer) (int, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, false, err
	}
	resp.Reset()
	_, err = resp.ReadFrom(res.Body)
	res.Body.Close()
	if err != nil {
		return 0, false, err
	}
	return res.StatusCode, bytes.Contains(resp.Bytes(), duplicateTrue), nil
}

// shortErr keeps error counts few: the error text without addresses.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
