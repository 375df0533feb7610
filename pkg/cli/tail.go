package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/dtbridge/dtbridge/pkg/replay"
)

// Tail output formats.
const (
	formatJSON   = "json"
	formatPretty = "pretty"
)

type tailFlags struct {
	filter string
	last   uint64
	format string
}

func (f *tailFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.filter, "filter", "", "subject filter, wildcards allowed (default {subject.prefix}.>)")
	fs.Uint64Var(&f.last, "last", 0, "first print the last N stored events")
	fs.StringVar(&f.format, "format", formatJSON, "json (the stored CloudEvent, one per line) or pretty (a short summary line)")
}

func tailCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f tailFlags
	cfg, code, ok := loadConfig("tail", args, stderr, f.bind)
	if !ok {
		return code
	}
	if f.format != formatJSON && f.format != formatPretty {
		fmt.Fprintf(stderr, "dtbridge tail: --format %q: want json or pretty\n", f.format)
		return ExitConfig
	}
	filter := f.filter
	if filter == "" {
		filter = cfg.Subject.Prefix + ".>"
	}
	nc, js, _, err := openStream(ctx, cfg, "tail")
	if err != nil {
		fmt.Fprintf(stderr, "dtbridge tail: %v\n", err)
		return ExitFailure
	}
	defer nc.Close()
	out := bufio.NewWriter(stdout)
	err = replay.Follow(ctx, js, cfg.Stream.Name, filter, f.last, func(m replay.Msg) error {
		if f.format == formatPretty {
			out.WriteString(prettyLine(m))
		} else {
			out.Write(replay.Line(m.Data))
		}
		out.WriteByte('\n')
		return out.Flush()
	})
	if err != nil {
		fmt.Fprintf(stderr, "dtbridge tail: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// prettyLine is "TIME #SEQ SUBJECT TYPE CE-SUBJECT ID" for one event.
func prettyLine(m replay.Msg) string {
	var ev struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		return fmt.Sprintf("%s  #%-6d %s  (not a CloudEvent: %d bytes)", m.Time.UTC().Format("2006-01-02T15:04:05.000Z"), m.Seq, m.Subject, len(m.Data))
	}
	if ev.Subject == "" {
		ev.Subject = "-"
	}
	return fmt.Sprintf("%s  #%-6d %s  %s  %s  %s", m.Time.UTC().Format("2006-01-02T15:04:05.000Z"), m.Seq, m.Subject, ev.Type, ev.Subject, ev.ID)
}
