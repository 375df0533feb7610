package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dtbridge/dtbridge/pkg/loadgen"
)

func TestMedian(t *testing.T) {
	rounds := []round{
		{"x": loadgen.Result{RPS: 3}}, {"x": loadgen.Result{RPS: 1}}, {"x": loadgen.Result{RPS: 2}},
	}
	if got := median(rounds, "x", rps); got != 2 {
		t.Errorf("median of 3 = %v, want 2", got)
	}
	if got := median(append(rounds, round{"x": loadgen.Result{RPS: 10}}), "x", rps); got != 2.5 {
		t.Errorf("median of 4 = %v, want 2.5", got)
	}
	if got := median(nil, "x", rps); got != 0 {
		t.Errorf("median of none = %v", got)
	}
}

// TestMainUsage: bad flags and subcommand misuse exit 2 with a message,
// without starting anything.
func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{{"-no-such-flag"}, {"broker"}, {"load", "-rate", "x"}} {
		var out, errOut bytes.Buffer
		if code := Main(args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("Main(%q) = %d, stderr %q; want 2 and a message", args, code, errOut.String())
		}
	}
}

// TestReport: the table names every target, and a missed one FAILs.
func TestReport(t *testing.T) {
	res := func(rps float64, p99 time.Duration) loadgen.Result { return loadgen.Result{RPS: rps, P99: p99} }
	rd := round{
		"H": res(40000, time.Millisecond), "J sync interval": res(40000, time.Millisecond), "J async interval": res(70000, time.Millisecond),
		"bridge interval": res(18000, time.Millisecond), "T3 interval": res(9000, 4*time.Millisecond),
		"J sync always": res(3700, time.Millisecond), "J async always": res(3000, time.Millisecond),
		"bridge always": res(3000, time.Millisecond), "T3 always": res(1500, 30*time.Millisecond),
	}
	var out bytes.Buffer
	report(&out, Options{Rounds: 1, Concurrency: 64}, []string{"-rounds", "1"}, []round{rd},
		map[string]int64{"interval": 30 << 20, "always": 30 << 20}, []pureResult{{Fixture: "A/b", NsPerOp: 8000}}, 1, 800)
	s := out.String()
	for _, want := range []string{
		"make bench BENCH_ARGS='-rounds 1'",
		"| T1 throughput, fsync interval | bridge 18000/s vs 1/(1/H+1/J) = 25455/s (H 40000, J 70000) | 0.71 | ≥ 0.75 | FAIL |",
		"| T2 throughput, fsync always | bridge 3000/s vs J1 3700/s | 0.81 | ≥ 3.00 | FAIL |",
		"| T3 p99 at ½ rate, fsync interval | 4ms at 9000/s | 0.80 | ≤ 1 (5ms) | PASS |",
		"| T3 p99 at ½ rate, fsync always | 30ms at 1500/s | 1.20 | ≤ 1 (25ms) | FAIL |",
		"T4 bridge peak RSS (VmHWM), fsync always broker | 30.0 MiB",
		"| T5 pure path (classify+normalize+envelope), slowest fixture | A/b: 8.0 µs",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}
