package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/replay"
)

// replayFlags are `dtbridge replay`'s own flags.
type replayFlags struct {
	filter      string
	since       string
	until       string
	fromSeq     uint64
	to          string
	rate        float64
	dryRun      bool
	maxAttempts int
	timeout     time.Duration
}

func (f *replayFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.filter, "filter", "", "subject filter, wildcards allowed (default {subject.prefix}.>)")
	fs.StringVar(&f.since, "since", "", "start at this storage time: a duration back from now (24h) or RFC 3339 (2026-11-23T10:00:00Z)")
	fs.StringVar(&f.until, "until", "", "stop after this storage time (RFC 3339 or a duration back from now)")
	fs.Uint64Var(&f.fromSeq, "from-seq", 0, "start at this stream sequence (instead of --since)")
	fs.StringVar(&f.to, "to", "stdout", "stdout | nats:PREFIX | http(s)://URL")
	fs.Float64Var(&f.rate, "rate", 0, "events per second, 0 = as fast as possible")
	fs.BoolVar(&f.dryRun, "dry-run", false, "count the events in range, send nothing")
	fs.IntVar(&f.maxAttempts, "max-attempts", replay.DefaultMaxAttempts, "attempts per event for --to URL")
	fs.DurationVar(&f.timeout, "timeout", replay.DefaultAttemptTimeout, "timeout of one request for --to URL")
}

// parseTime reads an RFC 3339 time or a duration back from now.
func parseTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--%s %q: a duration back from now must be positive", flag, v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: want a duration (24h, 90m) or an RFC 3339 time (2026-11-23T10:00:00Z)", flag, v)
	}
	return t, nil
}

func (f *replayFlags) rangeOf(cfg config.Config, now time.Time) (replay.Range, error) {
	r := replay.Range{Filter: f.filter, FromSeq: f.fromSeq}
	if r.Filter == "" {
		r.Filter = cfg.Subject.Prefix + ".>"
	}
	var err error
	if r.Since, err = parseTime("since", f.since, now); err != nil {
		return r, err
	}
	if r.Until, err = parseTime("until", f.until, now); err != nil {
		return r, err
	}
	if r.FromSeq > 0 && !r.Since.IsZero() {
		return r, errors.New("--from-seq and --since are alternatives: give one")
	}
	if f.rate < 0 {
		return r, fmt.Errorf("--rate %v: must be >= 0", f.rate)
	}
	return r, nil
}

func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f replayFlags
	cfg, code, ok := loadConfig("replay", args, stderr, f.bind)
	if !ok {
		return code
	}
	usageErr := func(err error) int {
		fmt.Fprintf(stderr, "dtbridge replay: %v\n", err)
		return ExitConfig
	}
	r, err := f.rangeOf(cfg, time.Now())
	if err != nil {
		return usageErr(err)
	}
	nc, js, info, err := openStream(ctx, cfg, "replay")
	if err != nil {
		fmt.Fprintf(stderr, "dtbridge replay: %v\n", err)
		return ExitFailure
	}
	defer nc.Close()

	var sink replay.Sink
	var natsSink *replay.NATSSink
	to := f.to
	switch { // built even for --dry-run, so a bad --to is reported
	case to == "" || to == "stdout":
		sink = replay.NewLineSink(stdout)
	case strings.HasPrefix(to, "nats:"):
		natsSink, err = replay.NewNATSSink(ctx, nc, js, info, r.Filter, strings.TrimPrefix(to, "nats:"))
		if err != nil {
			return usageErr(err)
		}
		sink = natsSink
	case strings.HasPrefix(to, "http://"), strings.HasPrefix(to, "https://"):
		opts := []replay.HTTPOption{replay.WithMaxAttempts(f.maxAttempts), replay.WithAttemptTimeout(f.timeout),
			replay.WithUserAgent("dtbridge-replay/" + version)}
		key, err := cfg.Replay.SigningKey()
		if err != nil { // Validate already checked it
			return usageErr(fmt.Errorf("replay.webhook_secret: %v", err))
		}
		if key != nil {
			signer, err := replay.NewSigner(key)
			if err != nil {
				return usageErr(err)
			}
			opts = append(opts, replay.WithSigner(signer))
		}
		hs, err := replay.NewHTTPSink(to, opts...)
		if err != nil {
			return usageErr(fmt.Errorf("--to: %v", err))
		}
		sink = hs
	default:
		return usageErr(fmt.Errorf("--to %q: want stdout, nats:PREFIX or an http(s):// URL", to))
	}

	sum, err := replay.Run(ctx, js, cfg.Stream.Name, r, sink, replay.Options{
		Rate: f.rate, DryRun: f.dryRun, Progress: stderr, Terminal: isTerminal(stderr),
	})
	fmt.Fprintln(stderr, sum.String())
	if natsSink != nil && sum.Sent > 0 {
		if natsSink.Stream() != "" {
			fmt.Fprintf(stderr, "replay: copies stored in stream %s (%d already there within its duplicate window)\n", natsSink.Stream(), natsSink.Duplicates())
		} else {
			fmt.Fprintf(stderr, "replay: no stream captures %s.>: copies were published on core NATS, to live subscribers only\n", strings.TrimPrefix(to, "nats:"))
		}
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "dtbridge replay: stopped: %v\n", err)
		return ExitFailure
	case sum.Failed > 0:
		fmt.Fprintf(stderr, "dtbridge replay: %d of %d events were not delivered\n", sum.Failed, sum.Matched)
		return ExitFailure
	}
	return ExitOK
}
