package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/delivery"
	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/loadgen"
	"github.com/dtbridge/dtbridge/pkg/subject"
)

// token authenticates the load against the bench's bridges.
const token = "dtbench-token-0123456789abcdef0123456789"

// Targets of issue 6.
const (
	targetT1         = 0.75 // bridge ≥ 0.75 × 1/(1/H + 1/J), fsync interval
	targetT2         = 3.0  // bridge ≥ 3 × J1, fsync always
	targetT3Interval = 5 * time.Millisecond
	targetT3Always   = 25 * time.Millisecond
	targetT4         = 64 << 20 // bridge RSS, bytes
	targetT5         = 10 * time.Microsecond
)

// Options are the bench's flags.
type Options struct {
	Duration, Warmup time.Duration
	Rounds           int
	Concurrency      int
	Bridge           string // path of the dtbridge binary
	Fixtures         string
	Events           string // comma-separated; "" = every fixture whose event is in the table
	BatchMax         int    // publish.batch_max of the bridges; -1 = the default
	Keep             bool
	SkipPure         bool
	Modes            string // comma-separated fsync modes to measure
	CompareBatching  bool   // also measure bridges with publish.batch_max 0
}

// defaultModes are the two fsync settings, in the order measured.
const defaultModes = config.SyncInterval + "," + config.SyncAlways

// Main runs the bench (no subcommand), or one of its child processes
// (`broker`, `noop`). It returns the exit code: 0 when the run completed
// (targets missed are reported, not failed), 1 on an error, 2 on bad flags.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "broker":
			return runBroker(args[1:], stdout, stderr)
		case "noop":
			return runNoop(args[1:], stdout, stderr)
		case "load":
			return runLoad(args[1:], stdout, stderr)
		}
	}
	var o Options
	fs := flag.NewFlagSet("dtbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "measured time of each load phase")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured time before each load phase")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds of every measurement; medians are reported")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "connections (HTTP) and publishing goroutines (bare publish)")
	fs.StringVar(&o.Bridge, "bridge", "bin/dtbridge", "dtbridge binary")
	fs.StringVar(&o.Fixtures, "fixtures", "testdata/fixtures", "fixture directory (EVENT/case.json)")
	fs.StringVar(&o.Events, "events", "", "comma-separated events to post (default: every fixture whose event is in the table)")
	fs.IntVar(&o.BatchMax, "batch-max", -1, "publish.batch_max of the bridges (-1: the default)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (stores, logs)")
	fs.BoolVar(&o.SkipPure, "skip-pure", false, "skip T5 (the pure-path Go benchmarks)")
	fs.BoolVar(&o.CompareBatching, "compare-batching", false, "also measure a bridge with publish.batch_max 0 in each mode (what coalescing buys)")
	fs.StringVar(&o.Modes, "modes", defaultModes, "fsync modes to measure (interval, always)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, args, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "dtbench:", err)
		return 1
	}
	return 0
}

// measurements of one round, by name.
type round map[string]loadgen.Result

func run(ctx context.Context, o Options, args []string, stdout, stderr io.Writer) error {
	table := doubletick.Default()
	templates, raws, err := fixtures(o, table)
	if err != nil {
		return err
	}
	tmpl, err := subject.NewTemplate("{prefix}.{channel}.{type}", "doubletick")
	if err != nil {
		return err
	}
	conv := delivery.NewConverter(table, tmpl, "")
	var envelopes [][]byte
	envSize := 0
	for i, t := range templates {
		m, err := conv.Convert(delivery.Delivery{Event: t.Event, Body: t.Append(nil, "envelope", uint64(i)), ReceivedAt: time.Now()})
		if err != nil {
			return fmt.Errorf("fixture %s/%s: %w", t.Event, t.Name, err)
		}
		envelopes = append(envelopes, m.Encoded)
		envSize += len(m.Encoded)
	}
	envSize /= len(envelopes)

	dir, err := os.MkdirTemp("", "dtbench-")
	if err != nil {
		return err
	}
	if o.Keep {
		fmt.Fprintln(stderr, "keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var children []*child
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	noop, err := startChild("noop", self, []string{"noop"}, nil, nil)
	if err != nil {
		return err
	}
	children = append(children, noop)
	brokers, bridges := map[string]*child{}, map[string]*child{}
	for _, mode := range o.modes() {
		b, err := startChild("broker-"+mode, self, []string{"broker", "-dir", filepath.Join(dir, "broker-"+mode), "-sync", mode}, nil, nil)
		if err != nil {
			return err
		}
		children = append(children, b)
		brokers[mode] = b
		for _, v := range variants(o) {
			addr, err := freeAddr()
			if err != nil {
				return err
			}
			env := []string{
				"DTBRIDGE_NATS_URL=" + b.addr, "DTBRIDGE_HTTP_ADDR=" + addr, "DTBRIDGE_AUTH_TOKENS=" + token,
				"DTBRIDGE_DATA_DIR=" + filepath.Join(dir, "bridge-"+mode+v.stream), "DTBRIDGE_LOG_LEVEL=warn",
				"DTBRIDGE_STREAM_NAME=" + v.stream, "DTBRIDGE_SUBJECT_PREFIX=" + strings.ToLower(v.stream),
			}
			if v.batchMax >= 0 {
				env = append(env, "DTBRIDGE_PUBLISH_BATCH_MAX="+strconv.Itoa(v.batchMax))
			}
			br, err := startChild("bridge-"+mode+v.name, o.Bridge, []string{"serve"}, env, httpReady("http://"+addr+"/readyz"))
			if err != nil {
				return err
			}
			br.addr = "http://" + addr
			children = append(children, br)
			bridges[mode+v.name] = br
		}
	}

	client := loadgen.NewClient(o.Concurrency)
	load := func(name, base string, rate float64, runID string) (loadgen.Result, error) {
		r, err := loadgen.Run(ctx, client, loadgen.Options{
			BaseURL: base, Token: token, Templates: templates, Concurrency: o.Concurrency,
			Duration: o.Duration, Warmup: o.Warmup, Rate: rate, Run: runID,
		})
		if err == nil {
			fmt.Fprintf(stderr, "  %-22s %s\n", name, r)
		}
		return r, err
	}
	var rounds []round
	for i := range o.Rounds {
		fmt.Fprintf(stderr, "round %d/%d\n", i+1, o.Rounds)
		rd := round{}
		id := strconv.Itoa(i)
		if rd["H"], err = load("H noop", noop.addr, 0, id+"h"); err != nil {
			return err
		}
		for _, mode := range o.modes() {
			for _, async := range []bool{false, true} {
				name := "J sync " + mode
				if async {
					name = "J async " + mode
				}
				r, err := barePublish(ctx, brokers[mode].addr, envelopes, o.Concurrency, o.Warmup, o.Duration, async, id+name)
				if err != nil {
					return err
				}
				fmt.Fprintf(stderr, "  %-22s %s\n", name, r)
				rd[name] = r
			}
			for _, v := range variants(o) {
				key := mode + v.name
				if rd["bridge "+key], err = load("bridge "+key, bridges[key].addr, 0, id+"b"+key); err != nil {
					return err
				}
				half := rd["bridge "+key].RPS / 2
				if rd["T3 "+key], err = load(fmt.Sprintf("bridge %s @%.0f/s", key, half), bridges[key].addr, half, id+"t"+key); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		rounds = append(rounds, rd)
	}
	mem := map[string]int64{}
	for _, mode := range o.modes() {
		peak, _, err := bridges[mode].memory()
		if err != nil {
			return err
		}
		mem[mode] = peak
	}
	var pure []pureResult
	if !o.SkipPure {
		fmt.Fprintln(stderr, "pure path (Go benchmarks, 1 s per fixture)")
		pure = purePath(conv, raws)
	}
	report(stdout, o, args, rounds, mem, pure, len(templates), envSize)
	return nil
}

// fixtures loads the templates for the load and the raw fixtures for T5:
// the events named in o.Events, else every fixture whose event is in table.
func fixtures(o Options, table *doubletick.Table) ([]loadgen.Template, []rawFixture, error) {
	var want []string
	if o.Events != "" {
		want = strings.Split(o.Events, ",")
	}
	accept := func(event string) bool {
		if _, err := table.Lookup(event); err != nil {
			return false
		}
		return want == nil || slices.Contains(want, event)
	}
	templates, err := loadgen.LoadFixtures(o.Fixtures, accept)
	if err != nil {
		return nil, nil, err
	}
	var raws []rawFixture
	for _, t := range templates {
		b, err := os.ReadFile(filepath.Join(o.Fixtures, t.Event, t.Name+".json"))
		if err != nil {
			return nil, nil, err
		}
		raws = append(raws, rawFixture{t.Event, t.Name, b})
	}
	return templates, raws, nil
}

// modes are the fsync modes to measure.
func (o Options) modes() []string {
	if o.Modes == "" {
		return strings.Split(defaultModes, ",")
	}
	return strings.Split(o.Modes, ",")
}

// variant is a bridge measured in every fsync mode: the configured one,
// and with -compare-batching also one with publish.batch_max 0, on a stream
// of its own.
type variant struct {
	name     string // appended to the mode in measurement names
	stream   string
	batchMax int // -1: the default
}

func variants(o Options) []variant {
	v := []variant{{"", "DOUBLETICK", o.BatchMax}}
	if o.CompareBatching {
		v = append(v, variant{" batch_max=0", "NOBATCH", 0})
	}
	return v
}

// median of metric over the rounds.
func median(rounds []round, name string, metric func(loadgen.Result) float64) float64 {
	var v []float64
	for _, r := range rounds {
		v = append(v, metric(r[name]))
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func rps(r loadgen.Result) float64 { return r.RPS }
func p50(r loadgen.Result) float64 { return float64(r.P50) }
func p99(r loadgen.Result) float64 { return float64(r.P99) }

func report(w io.Writer, o Options, args []string, rounds []round, mem map[string]int64, pure []pureResult, nFixtures, envSize int) {
	cpu := cpuModel()
	fmt.Fprintf(w, "\n## dtbench %s\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Machine: %d CPU (%s), %s %s/%s. Load: %d connections, %d fixture(s), envelope ≈ %d B; %d round(s) × (%v warm-up + %v measured); medians.\n\n",
		runtime.NumCPU(), cpu, runtime.Version(), runtime.GOOS, runtime.GOARCH, o.Concurrency, nFixtures, envSize, o.Rounds, o.Warmup, o.Duration)
	fmt.Fprintf(w, "Reproduce: `make bench BENCH_ARGS='%s'`\n\n", strings.Join(args, " "))

	fmt.Fprintln(w, "| measurement | req/s (median) | p50 | p99 | errors (all rounds) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|")
	names := []string{"H"}
	for _, mode := range o.modes() {
		names = append(names, "J sync "+mode, "J async "+mode)
		for _, v := range variants(o) {
			names = append(names, "bridge "+mode+v.name, "T3 "+mode+v.name)
		}
	}
	label := map[string]string{"H": "H: no-op Echo handler (reads body, 202)"}
	for _, mode := range o.modes() {
		label["J sync "+mode] = "bare sync publish, fsync " + mode
		label["J async "+mode] = "bare async publish, fsync " + mode
		label["bridge "+mode] = "bridge, fsync " + mode
		label["T3 "+mode] = "bridge at ½ its rate (open loop), fsync " + mode
		label["bridge "+mode+" batch_max=0"] = "bridge, fsync " + mode + ", publish.batch_max 0"
		label["T3 "+mode+" batch_max=0"] = "bridge at ½ its rate (open loop), fsync " + mode + ", publish.batch_max 0"
	}
	for _, n := range names {
		errs := 0
		dups := 0
		for _, r := range rounds {
			errs += r[n].ErrorCount()
			dups += r[n].Duplicates
		}
		e := strconv.Itoa(errs)
		if dups > 0 {
			e += fmt.Sprintf(" (+%d duplicates)", dups)
		}
		fmt.Fprintf(w, "| %s | %.0f | %v | %v | %s |\n", label[n], median(rounds, n, rps),
			time.Duration(median(rounds, n, p50)).Round(10*time.Microsecond), time.Duration(median(rounds, n, p99)).Round(10*time.Microsecond), e)
	}

	h := median(rounds, "H", rps)
	j := max(median(rounds, "J sync interval", rps), median(rounds, "J async interval", rps))
	j1 := max(median(rounds, "J sync always", rps), median(rounds, "J async always", rps))
	combined := 1 / (1/h + 1/j)
	bi, ba := median(rounds, "bridge interval", rps), median(rounds, "bridge always", rps)
	t3i, t3a := time.Duration(median(rounds, "T3 interval", p99)), time.Duration(median(rounds, "T3 always", p99))
	pass := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | ratio | target | result |")
	fmt.Fprintln(w, "|---|---|---:|---:|---|")
	fmt.Fprintf(w, "| T1 throughput, fsync interval | bridge %.0f/s vs 1/(1/H+1/J) = %.0f/s (H %.0f, J %.0f) | %.2f | ≥ %.2f | %s |\n",
		bi, combined, h, j, bi/combined, targetT1, pass(bi/combined >= targetT1))
	fmt.Fprintf(w, "| T2 throughput, fsync always | bridge %.0f/s vs J1 %.0f/s | %.2f | ≥ %.2f | %s |\n",
		ba, j1, ba/j1, targetT2, pass(ba/j1 >= targetT2))
	fmt.Fprintf(w, "| T3 p99 at ½ rate, fsync interval | %v at %.0f/s | %.2f | ≤ 1 (%v) | %s |\n",
		t3i.Round(10*time.Microsecond), bi/2, float64(t3i)/float64(targetT3Interval), targetT3Interval, pass(t3i <= targetT3Interval))
	fmt.Fprintf(w, "| T3 p99 at ½ rate, fsync always | %v at %.0f/s | %.2f | ≤ 1 (%v) | %s |\n",
		t3a.Round(10*time.Microsecond), ba/2, float64(t3a)/float64(targetT3Always), targetT3Always, pass(t3a <= targetT3Always))
	if o.CompareBatching {
		for _, mode := range o.modes() {
			on, off := median(rounds, "bridge "+mode, rps), median(rounds, "bridge "+mode+" batch_max=0", rps)
			fmt.Fprintf(w, "| (what coalescing buys) fsync %s: bridge vs the same with publish.batch_max 0 | %.0f/s vs %.0f/s | %.2f | | |\n", mode, on, off, on/off)
		}
	}
	for _, mode := range o.modes() {
		fmt.Fprintf(w, "| T4 bridge peak RSS (VmHWM), fsync %s broker | %.1f MiB | %.2f | ≤ 1 (64 MiB) | %s |\n",
			mode, float64(mem[mode])/(1<<20), float64(mem[mode])/targetT4, pass(mem[mode] <= targetT4))
	}
	if len(pure) > 0 {
		worst, sum := pure[0], 0.0
		for _, p := range pure {
			sum += p.NsPerOp
			if p.NsPerOp > worst.NsPerOp {
				worst = p
			}
		}
		fmt.Fprintf(w, "| T5 pure path (classify+normalize+envelope), slowest fixture | %s: %.1f µs (mean %.1f µs over %d) | %.2f | ≤ 1 (10 µs) | %s |\n",
			worst.Fixture, worst.NsPerOp/1e3, sum/float64(len(pure))/1e3, len(pure), worst.NsPerOp/float64(targetT5), pass(worst.NsPerOp <= float64(targetT5)))
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| fixture | ns/op | allocs/op | B/op |")
		fmt.Fprintln(w, "|---|---:|---:|---:|")
		for _, p := range pure {
			fmt.Fprintf(w, "| %s | %.0f | %d | %d |\n", p.Fixture, p.NsPerOp, p.AllocsPerOp, p.BytesPerOp)
		}
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// runLoad is the `load` subcommand: the load generator alone, against any
// bridge (e.g. one started with `make run`).
func runLoad(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "the bridge's base URL")
	tok := fs.String("token", "", "a token the bridge accepts (?token=)")
	conc := fs.Int("concurrency", 64, "connections")
	d := fs.Duration("duration", 10*time.Second, "measured time")
	warm := fs.Duration("warmup", time.Second, "unmeasured time before")
	rate := fs.Float64("rate", 0, "requests per second (open loop); 0 = as fast as answered")
	dir := fs.String("fixtures", "testdata/fixtures", "fixture directory")
	events := fs.String("events", "", "comma-separated events (default: every fixture whose event is in the table)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	templates, _, err := fixtures(Options{Fixtures: *dir, Events: *events}, doubletick.Default())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := loadgen.Run(ctx, loadgen.NewClient(*conc), loadgen.Options{
		BaseURL: *url, Token: *tok, Templates: templates, Concurrency: *conc,
		Duration: *d, Warmup: *warm, Rate: *rate, Run: strconv.FormatInt(time.Now().UnixNano(), 36),
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, r)
	return 0
}
