package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/cli"
)

// isolate runs the test in an empty working directory (no
// configs/dtbridge.yaml is picked up) with every DTBRIDGE_* variable of the
// outer environment unset (an empty variable counts as unset).
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "DTBRIDGE_") {
			t.Setenv(k, "")
		}
	}
	return dir
}

func TestRun(t *testing.T) {
	const (
		tok1      = "first-token-0123456789-abcdefghij"
		tok2      = "second-token-9876543210-zyxwvutsr"
		basicPass = "pa:ss-secret-value"
		natsTok   = "nats-token-secret-4242424242"
		urlPass   = "pw-secret"
	)
	tests := []struct {
		name       string
		file       string            // contents of dtbridge.yaml, passed with --config; "" for none
		env        map[string]string // DTBRIDGE_* variables
		args       []string          // --config FILE is appended when file is set
		wantCode   int
		wantStdout []string // substrings of stdout
		wantStderr []string // substrings of stderr
		notStdout  []string // must not appear in stdout
		absent     []string // must appear in neither stdout nor stderr
	}{
		{
			name:       "config defaults",
			args:       []string{"config"},
			wantCode:   cli.ExitOK,
			wantStdout: []string{"http:\n  addr: :8080\n", "stream:\n  name: DOUBLETICK\n", "max_body: 1MiB\n"},
		},
		{
			name:       "config unknown key in file",
			file:       "stream:\n  bogus: 1\n",
			args:       []string{"config"},
			wantCode:   cli.ExitConfig,
			wantStderr: []string{"stream.bogus", "unknown key"},
		},
		{
			name:       "config replicas 2 with the embedded server",
			file:       "stream:\n  replicas: 2\n",
			args:       []string{"config"},
			wantCode:   cli.ExitConfig,
			wantStderr: []string{"stream.replicas", "embedded server"},
		},
		{
			name:       "config negative duration",
			file:       "stream:\n  max_age: -1h\n",
			args:       []string{"config"},
			wantCode:   cli.ExitConfig,
			wantStderr: []string{"stream.max_age", "must be > 0"},
		},
		{
			name:       "config env sets a key absent from the file",
			file:       "http:\n  addr: 127.0.0.1:7070\n",
			env:        map[string]string{"DTBRIDGE_NATS_URL": "nats://127.0.0.1:4999"},
			args:       []string{"config"},
			wantCode:   cli.ExitOK,
			wantStdout: []string{"addr: 127.0.0.1:7070\n", "url: nats://127.0.0.1:4999\n"},
		},
		{
			name:       "config flag beats env",
			env:        map[string]string{"DTBRIDGE_HTTP_ADDR": "127.0.0.1:1111"},
			args:       []string{"config", "--http.addr", "127.0.0.1:2222"},
			wantCode:   cli.ExitOK,
			wantStdout: []string{"addr: 127.0.0.1:2222\n"},
			notStdout:  []string{"1111"},
		},
		{
			name:       "config env beats file",
			file:       "log:\n  level: warn\n",
			env:        map[string]string{"DTBRIDGE_LOG_LEVEL": "debug"},
			args:       []string{"config"},
			wantCode:   cli.ExitOK,
			wantStdout: []string{"level: debug\n"},
			notStdout:  []string{"level: warn"},
		},
		{
			name: "config redacts secrets",
			env: map[string]string{
				"DTBRIDGE_AUTH_TOKENS": tok1 + "," + tok2,
				"DTBRIDGE_AUTH_BASIC":  "user:" + basicPass,
				"DTBRIDGE_NATS_TOKEN":  natsTok,
			},
			args:       []string{"config", "--nats.url", "nats://u:" + urlPass + "@127.0.0.1:4222"},
			wantCode:   cli.ExitOK,
			wantStdout: []string{"REDACTED", "user:REDACTED", "nats://u:REDACTED@127.0.0.1:4222"},
			absent:     []string{tok1, tok2, basicPass, "ss-secret-value", natsTok, urlPass},
		},
		{
			name:       "version",
			args:       []string{"version"},
			wantCode:   cli.ExitOK,
			wantStdout: []string{"dtbridge", "commit", runtime.Version()},
		},
		{
			name:       "unknown command",
			args:       []string{"frobnicate"},
			wantCode:   cli.ExitConfig,
			wantStderr: []string{`unknown command "frobnicate"`},
		},
		{
			name:       "no command",
			args:       nil,
			wantCode:   cli.ExitConfig,
			wantStderr: []string{"Usage:"},
		},
		{
			name:       "config unexpected argument",
			args:       []string{"config", "extra"},
			wantCode:   cli.ExitConfig,
			wantStderr: []string{`unexpected argument "extra"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolate(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := tc.args
			if tc.file != "" {
				path := filepath.Join(dir, "dtbridge.yaml")
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(append([]string(nil), args...), "--config", path)
			}
			var stdout, stderr bytes.Buffer
			code := cli.Run(context.Background(), args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, s := range tc.wantStdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout does not contain %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tc.wantStderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr does not contain %q:\n%s", s, stderr.String())
				}
			}
			for _, s := range tc.notStdout {
				if strings.Contains(stdout.String(), s) {
					t.Errorf("stdout contains %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tc.absent {
				if bytes.Contains(stdout.Bytes(), []byte(s)) {
					t.Errorf("secret %q appears in stdout", s)
				}
				if bytes.Contains(stderr.Bytes(), []byte(s)) {
					t.Errorf("secret %q appears in stderr", s)
				}
			}
		})
	}
}

// runServe runs "dtbridge serve args..." in-process with a context cancelled
// in cleanup. The command must return on its own within timeout.
func runServe(t *testing.T, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var outBuf, errBuf bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- cli.Run(ctx, append([]string{"serve"}, args...), &outBuf, &errBuf) }()
	t.Cleanup(func() {
		cancel()
		<-done // never leave the serve goroutine (and what it started) behind
	})
	select {
	case code := <-done:
		done <- code // for the cleanup
		return code, outBuf.String(), errBuf.String()
	case <-time.After(timeout):
		t.Fatalf("serve did not return within %s (it should fail at start)", timeout)
		return 0, "", ""
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantKey string
	}{
		{"invalid http.addr", []string{"--http.addr", "nope"}, "http.addr"},
		{"replicas 2 with the embedded server", []string{"--stream.replicas", "2", "--http.addr", "127.0.0.1:0", "--embedded.listen", "127.0.0.1:0"}, "stream.replicas"},
		{"invalid log.level", []string{"--log.level", "loud", "--http.addr", "127.0.0.1:0", "--embedded.listen", "127.0.0.1:0"}, "log.level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolate(t)
			dataDir := filepath.Join(dir, "data")
			code, stdout, stderr := runServe(t, 10*time.Second, append(tc.args, "--data.dir", dataDir)...)
			if code != cli.ExitConfig {
				t.Fatalf("exit code = %d, want %d\nstderr:\n%s", code, cli.ExitConfig, stderr)
			}
			if !strings.Contains(stderr, tc.wantKey) {
				t.Errorf("stderr does not name %q:\n%s", tc.wantKey, stderr)
			}
			if strings.Contains(stderr, "starting dtbridge") {
				t.Errorf("serve started before rejecting the configuration:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want empty (no banner)", stdout)
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Errorf("data.dir %s was touched (stat err %v), want nothing created", dataDir, err)
			}
		})
	}
}

// A broker with the default 1 MiB max_payload cannot hold the envelope of a
// 1 MiB body: serve must refuse it at start, naming limits.max_body.
func TestServeRefusesSmallBrokerMaxPayload(t *testing.T) {
	dir := isolate(t)
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(1<<20))
	dataDir := filepath.Join(dir, "data")
	code, stdout, stderr := runServe(t, 20*time.Second,
		"--nats.url", srv.URL(), "--http.addr", "127.0.0.1:0", "--data.dir", dataDir)
	if code != cli.ExitConfig {
		t.Fatalf("exit code = %d, want %d\nstderr:\n%s", code, cli.ExitConfig, stderr)
	}
	for _, want := range []string{"invalid configuration", "limits.max_body", "max_payload"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "dtbridge listening") || stdout != "" {
		t.Errorf("serve listened despite the refusal\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}
