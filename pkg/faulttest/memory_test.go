package faulttest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

// peakRSS reads the peak resident set size (VmHWM) of pid from /proc.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the process's memory (Linux /proc): %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// TestOversizedBodiesRSS is checklist H1 on the real process: 32 bodies of
// 64 MiB each (2 GiB in all), half with Content-Length and half chunked,
// 16 at a time, against the default limits.max_body of 1 MiB. Every one
// gets 413, nothing is stored, and the process's peak resident memory
// grows by far less than one such body: nothing is buffered past the
// limit. (The in-process allocation bound is
// pkg/bridge.TestOversizedBodiesBounded.)
func TestOversizedBodiesRSS(t *testing.T) {
	const size, concurrent = 64 << 20, 16
	p := bridgetest.StartProcess(t, binary, nil, "serve",
		"--data.dir", filepath.Join(t.TempDir(), "data"),
		"--http.addr", "127.0.0.1:0",
		"--embedded.listen", "127.0.0.1:0",
		"--auth.tokens", token)
	base := p.WaitReady(t, readyTimeout)
	addr := strings.TrimPrefix(base, "http://")
	ld := newLoad(t, base, 1)
	ld.add("rss", 1, 0)
	ld.deliver(context.Background(), "rss-000000")
	before := peakRSS(t, p.PID())

	for _, chunked := range []bool{false, true} {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				s, err := bridgetest.PostOversized(addr, webhookPath+"?token="+token, size, chunked, "Content-Type: application/json")
				if err != nil || s != http.StatusRequestEntityTooLarge {
					t.Errorf("chunked=%v: status %d, %v; want 413", chunked, s, err)
				}
			})
		}
		wg.Wait()
	}
	after := peakRSS(t, p.PID())
	t.Logf("peak RSS %d MiB before, %d MiB after %d oversized bodies (%d MiB sent)", before>>20, after>>20, 2*concurrent, 2*concurrent*size>>20)
	if grew := after - before; grew > size {
		t.Errorf("peak RSS grew by %d MiB, more than one oversized body (%d MiB)", grew>>20, size>>20)
	}

	nc, err := nats.Connect(p.NATSURL(t, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("%d stored, want only the warm-up delivery", n)
	}
	if code := p.Stop(t, exitTimeout); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
