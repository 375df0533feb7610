package bridgetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MainPackage is the import path of the dtbridge command.
const MainPackage = "github.com/dtbridge/dtbridge/cmd/dtbridge"

// BuildBinary compiles the dtbridge command into dir with the go tool on
// PATH and returns the executable's path. Call it once from TestMain: a
// build takes seconds.
func BuildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "dtbridge")
	cmd := exec.Command("go", "build", "-o", bin, MainPackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", MainPackage, err, out)
	}
	return bin, nil
}

// Lines collects what a process writes, line by line, and lets a test wait
// for a line with a deadline. It is an io.Writer safe for concurrent use.
type Lines struct {
	mu      sync.Mutex
	partial []byte
	all     []string
	changed chan struct{} // closed and replaced on every new line
}

// NewLines returns an empty collector.
func NewLines() *Lines { return &Lines{changed: make(chan struct{})} }

func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.all = append(l.all, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// All returns the complete lines written so far.
func (l *Lines) All() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

// String is everything written so far, including an unfinished last line.
func (l *Lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n") + "\n" + string(l.partial)
}

// WaitLine returns the first line for which match is true, waiting up to
// timeout for it to be written. It calls t.Fatal on timeout, with what and
// the output so far.
func (l *Lines) WaitLine(t testing.TB, timeout time.Duration, what string, match func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := 0
	for {
		l.mu.Lock()
		for ; next < len(l.all); next++ {
			if match(l.all[next]) {
				s := l.all[next]
				l.mu.Unlock()
				return s
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("bridgetest: timed out after %s waiting for %s; output so far:\n%s", timeout, what, l.String())
			return ""
		}
	}
}

// LogField returns the string field of a JSON log line whose "msg" is msg,
// and whether line is such a line.
func LogField(line, msg, field string) (string, bool) {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != msg {
		return "", false
	}
	s, ok := m[field].(string)
	return s, ok
}

// Process is a dtbridge binary running as a real operating-system process,
// owned by one test. It can be killed (SIGKILL: nothing runs after it, the
// embedded server dies with it), stopped gracefully (SIGTERM) and started
// again with the same arguments, so the same data.dir. Each run's standard
// output and error are captured in fresh [Lines].
type Process struct {
	bin  string
	args []string
	dir  string
	env  []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	stdout  *Lines
	stderr  *Lines
	done    chan struct{}
	waitErr error
	runs    int
}

// StartProcess runs bin with args in a fresh working directory (so no
// configs/dtbridge.yaml is picked up) and with no DTBRIDGE_* variables from
// the test's environment, plus env ("KEY=VALUE"). The process is killed on
// t.Cleanup if it still runs. Give it an explicit --data.dir so restarts
// find their state.
func StartProcess(t testing.TB, bin string, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{bin: bin, args: args, dir: t.TempDir()}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DTBRIDGE_") {
			p.env = append(p.env, kv)
		}
	}
	p.env = append(p.env, env...)
	t.Cleanup(func() {
		p.mu.Lock()
		cmd, done := p.cmd, p.done
		p.mu.Unlock()
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	})
	p.start(t)
	return p
}

func (p *Process) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	stdout, stderr := NewLines(), NewLines()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("bridgetest: start %s: %v", p.bin, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.stdout, p.stderr, p.done, p.waitErr = cmd, stdout, stderr, done, nil
	p.runs++
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
}

// PID is the current run's process id.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Runs is how many times the process has been started.
func (p *Process) Runs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runs
}

// Stdout is the current run's standard output.
func (p *Process) Stdout() *Lines {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout
}

// Stderr is the current run's standard error (the JSON log).
func (p *Process) Stderr() *Lines {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr
}

// Done is closed when the current run has exited.
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// ExitCode is the current run's exit code, -1 while it runs or when it was
// killed by a signal.
func (p *Process) ExitCode() int {
	select {
	case <-p.Done():
	default:
		return -1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.ProcessState.ExitCode()
}

// Addr waits for the "dtbridge listening" log line of the current run and
// returns its listen address.
func (p *Process) Addr(t testing.TB, timeout time.Duration) string {
	t.Helper()
	var addr string
	p.Stderr().WaitLine(t, timeout, `log line "dtbridge listening"`, func(s string) bool {
		a, ok := LogField(s, "dtbridge listening", "addr")
		addr = a
		return ok && a != ""
	})
	return addr
}

// NATSURL waits for the current run's "embedded nats-server started" log
// line and returns the embedded server's client URL.
func (p *Process) NATSURL(t testing.TB, timeout time.Duration) string {
	t.Helper()
	var u string
	p.Stderr().WaitLine(t, timeout, `log line "embedded nats-server started"`, func(s string) bool {
		v, ok := LogField(s, "embedded nats-server started", "client_url")
		u = v
		return ok && v != ""
	})
	return u
}

// WaitReady waits until the current run listens and answers GET /readyz
// with 200, and returns its base URL (http://ADDR). It calls t.Fatal if the
// process exits or is not ready within timeout.
func (p *Process) WaitReady(t testing.TB, timeout time.Duration) string {
	t.Helper()
	began := time.Now()
	base := "http://" + p.Addr(t, timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	WaitFor(t, max(timeout-time.Since(began), time.Second), "dtbridge /readyz 200", func() error {
		select {
		case <-p.Done():
			return fmt.Errorf("process exited (%v); stderr:\n%s", p.waitError(), p.Stderr().String())
		default:
		}
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	return base
}

func (p *Process) waitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Kill sends SIGKILL and waits for the process to be gone: no deferred
// code, no graceful shutdown, no final fsync runs.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if err := cmd.Process.Kill(); err != nil {
		select {
		case <-done:
			return // already exited
		default:
		}
		t.Fatalf("bridgetest: kill dtbridge: %v", err)
	}
	<-done
}

// Terminate sends SIGTERM (a graceful stop) without waiting.
func (p *Process) Terminate(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("bridgetest: SIGTERM dtbridge: %v", err)
	}
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, and
// returns its exit code. It calls t.Fatal if it does not exit in time.
func (p *Process) Stop(t testing.TB, timeout time.Duration) int {
	t.Helper()
	p.Terminate(t)
	return p.Wait(t, timeout)
}

// Wait waits up to timeout for the current run to exit and returns its exit
// code. It calls t.Fatal if it does not exit in time.
func (p *Process) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(timeout):
		t.Fatalf("bridgetest: dtbridge did not exit within %s; stderr:\n%s", timeout, p.Stderr().String())
	}
	return p.ExitCode()
}

// Restart starts the process again with the same arguments and
// environment (so the same data.dir). The previous run must have exited:
// Kill or Stop it first.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	select {
	case <-p.Done():
	default:
		t.Fatal("bridgetest: Restart while dtbridge still runs; Kill or Stop it first")
	}
	p.start(t)
}
