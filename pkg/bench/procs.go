package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/embedded"
	"github.com/dtbridge/dtbridge/pkg/envelope"
)

// readyPrefix starts the line a child subcommand prints when it serves.
const readyPrefix = "READY "

// child is a process the bench started.
type child struct {
	name string
	cmd  *exec.Cmd
	logs *tailBuffer
	addr string // what it serves: a NATS URL or an HTTP base URL
}

// startChild starts path args with env added; when ready is nil it waits
// for the READY line on stdout (the bench's own subcommands), else it calls
// ready until it returns nil or 30 s pass.
func startChild(name, path string, args, env []string, ready func() error) (*child, error) {
	c := &child{name: name, logs: &tailBuffer{max: 16 << 10}}
	c.cmd = exec.Command(path, args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = c.logs
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), readyPrefix) {
				select {
				case lines <- strings.TrimPrefix(sc.Text(), readyPrefix):
				default:
				}
			}
		}
	}()
	deadline := time.After(30 * time.Second)
	if ready == nil {
		select {
		case c.addr = <-lines:
			return c, nil
		case <-deadline:
		}
	} else {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if err = ready(); err == nil {
				return c, nil
			}
			select {
			case <-tick.C:
				continue
			case <-deadline:
			}
			break
		}
	}
	c.stop()
	return nil, fmt.Errorf("%s not ready within 30s (last error: %v); its log:\n%s", name, err, c.logs)
}

// stop ends the child with SIGTERM, and SIGKILL after 20 s.
func (c *child) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// memory reads the child's peak and current resident set size from
// /proc/<pid>/status (VmHWM, VmRSS), in bytes.
func (c *child) memory() (peak, now int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			peak = kb << 10
		case "VmRSS:":
			now = kb << 10
		}
	}
	if peak == 0 {
		return 0, 0, errors.New("no VmHWM in /proc status")
	}
	return peak, now, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// httpReady is a ready func: GET url answers 200.
func httpReady(url string) func() error {
	client := &http.Client{Timeout: time.Second}
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: status %d", url, resp.StatusCode)
		}
		return nil
	}
}

// untilSignal runs until SIGTERM/SIGINT.
func untilSignal() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
}

// runBroker is the `broker` subcommand: the embedded nats-server, as the
// bridge would run it, on a random loopback port.
func runBroker(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "JetStream store directory (required)")
	sync := fs.String("sync", config.SyncAlways, "always (fsync every write) or interval")
	if err := fs.Parse(args); err != nil || *dir == "" {
		fmt.Fprintln(stderr, "usage: dtbench broker -dir DIR [-sync always|interval]")
		return 2
	}
	emb, err := embedded.Start(context.Background(), embedded.Options{
		Listen: "127.0.0.1:0", StoreDir: *dir, SyncAlways: *sync == config.SyncAlways,
		MaxPayload: int32(envelope.MaxSize(int64(config.MiB))), Logger: zap.NewNop(),
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, readyPrefix+emb.ClientURL())
	untilSignal()
	emb.Shutdown()
	return 0
}

// runNoop is the `noop` subcommand: the HTTP ceiling H, an Echo handler that
// reads the body and answers 202, in an http.Server like the bridge's.
func runNoop(args []string, stdout, stderr io.Writer) int {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Any("/*", func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return err
		}
		return c.NoContent(http.StatusAccepted)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintln(stdout, readyPrefix+"http://"+ln.Addr().String())
	untilSignal()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return 0
}
