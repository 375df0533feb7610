// Package cli holds dtbridge's subcommands (serve, replay, tail, config,
// version). Each takes its arguments and output streams as parameters, so
// it runs in tests exactly as from the shell. Exit codes: 0 success, 1 runtime failure,
// 2 usage or configuration error (the message names the offending key).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dtbridge/dtbridge/pkg/bridge"
	"github.com/dtbridge/dtbridge/pkg/config"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitConfig  = 2
)

// Build information, set at link time with
// -ldflags "-X github.com/dtbridge/dtbridge/pkg/cli.version=… -X …commit=…".
var (
	version = "dev"
	commit  = ""
)

const usage = `dtbridge: DoubleTick webhooks → NATS JetStream, as CloudEvents.

Usage:
  dtbridge serve   [--config FILE] [--KEY VALUE …]   run the HTTP ingress (embedded JetStream when nats.url is empty)
  dtbridge replay  [--filter SUBJECT] [--since D|T] [--until T] [--from-seq N]
                   [--to stdout|nats:PREFIX|URL] [--rate N] [--dry-run]
                                                    read stored events back (stdout, a NATS prefix, or an HTTP(S) URL)
  dtbridge tail    [--filter SUBJECT] [--last N] [--format json|pretty]
                                                    follow events live, one per line
  dtbridge config  [--config FILE] [--KEY VALUE …]   validate and print the effective configuration, secrets redacted
  dtbridge version                                  print version, commit and Go version

Every configuration key is also a flag (--http.addr :9090) and an environment
variable (DTBRIDGE_HTTP_ADDR=:9090). Run 'dtbridge serve --help' for the list.
replay and tail read the stream stream.name on nats.url or, when nats.url is
empty, on the embedded server of a running 'dtbridge serve' (embedded.listen).
`

// Run runs one subcommand and returns its exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitConfig
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "replay":
		return replayCmd(ctx, args[1:], stdout, stderr)
	case "tail":
		return tailCmd(ctx, args[1:], stdout, stderr)
	case "config":
		return printConfig(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		return printVersion(stdout)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "dtbridge: unknown command %q\n\n%s", args[0], usage)
	return ExitConfig
}

// loadConfig parses flags and loads and validates the configuration. On
// failure it prints the error and returns the exit code to use. extra
// registers a subcommand's own flags next to the configuration keys.
func loadConfig(name string, args []string, stderr io.Writer, extra ...func(*pflag.FlagSet)) (config.Config, int, bool) {
	fs := pflag.NewFlagSet("dtbridge "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	config.BindFlags(fs)
	for _, bind := range extra {
		bind(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return config.Config{}, ExitOK, false
		}
		return config.Config{}, ExitConfig, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dtbridge %s: unexpected argument %q\n", name, fs.Arg(0))
		return config.Config{}, ExitConfig, false
	}
	cfg, err := config.Load(config.LoadOptions{File: config.ConfigFileFlag(fs), Flags: fs})
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "dtbridge %s: invalid configuration: %v\n", name, err)
		return config.Config{}, ExitConfig, false
	}
	return cfg, ExitOK, true
}

func printConfig(args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := loadConfig("config", args, stderr)
	if !ok {
		return code
	}
	if err := cfg.Redacted().WriteYAML(stdout); err != nil {
		fmt.Fprintf(stderr, "dtbridge config: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := loadConfig("serve", args, stderr)
	if !ok {
		return code
	}
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dtbridge serve: %v\n", err)
		return ExitConfig
	}
	defer func() { _ = logger.Sync() }()
	logger.Info("starting dtbridge", zap.String("version", version), zap.String("commit", commit))
	b, err := bridge.Start(ctx, cfg, logger, bridge.WithBanner(stdout))
	if err != nil {
		logger.Error("start failed", zap.Error(err))
		var verr *config.ValidationError
		if errors.As(err, &verr) {
			fmt.Fprintf(stderr, "dtbridge serve: invalid configuration: %v\n", err)
			return ExitConfig
		}
		return ExitFailure
	}
	if err := b.Run(ctx); err != nil {
		logger.Error("stopped with an error", zap.Error(err))
		return ExitFailure
	}
	logger.Info("stopped")
	return ExitOK
}

// newLogger builds the zap logger of log.level and log.format, writing to w.
func newLogger(c config.Log, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.Format == config.LogFormatConsole {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)), nil
}

func printVersion(w io.Writer) int {
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	fmt.Fprintf(w, "dtbridge %s\ncommit %s\n%s %s/%s\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return ExitOK
}

// Main is the whole program: signals end ctx for a graceful shutdown.
func Main() int {
	ctx, stop := signalContext()
	defer stop()
	return Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
