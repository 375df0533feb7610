package bridgetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Account is the default account of an in-process server ($G): the account
// clients land in when no accounts are configured.
const Account = server.DEFAULT_GLOBAL_ACCOUNT

// clusterReadyTimeout bounds how long RunCluster waits for the JetStream
// meta leader to be elected and every node to be current. Production Raft
// timers apply (an election takes 4–9 s; nats-server shortens them only in
// its own test binary), so this is generous.
const clusterReadyTimeout = 30 * time.Second

// Cluster is an in-process JetStream cluster of n servers on loopback ports,
// each with its own t.TempDir() store, owned by one test. It is the
// in-process counterpart of nats-server's createJetStreamClusterExplicit,
// built only from exported server APIs. Nodes keep their client port,
// cluster port and store across [Cluster.RestartServer], so clients and
// routes find them again. Methods are safe for concurrent use, but
// stopping and restarting nodes is meant to be driven by the test goroutine.
type Cluster struct {
	name     string
	opts     []Option
	nodes    []*clusterNode
	proxies  []*routeProxy
	isolated []atomic.Bool // node i's routes are cut
}

type clusterNode struct {
	mu          sync.Mutex
	name        string
	storeDir    string
	port        int // client port, assigned on first start
	clusterPort int // route port, assigned on first start
	routes      []*url.URL
	srv         *server.Server // nil while stopped
}

// RunCluster starts an n-server JetStream cluster named "bridgetest" on
// 127.0.0.1 and waits until it has a meta leader and every node is current.
// Every node routes to every other through a proxy, so any node can be cut
// off, stopped and restarted alone (on the same ports and store).
// opts apply to every node
// (e.g. [WithMaxPayload]). Servers are shut down by t.Cleanup. RunCluster
// calls t.Fatal if the cluster does not form within 30 seconds.
func RunCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("bridgetest: cluster of %d servers", n)
	}
	c := &Cluster{name: "bridgetest", opts: opts}
	for i := range n {
		c.nodes = append(c.nodes, &clusterNode{
			name:        fmt.Sprintf("n%d", i+1),
			storeDir:    t.TempDir(),
			port:        server.RANDOM_PORT,
			clusterPort: server.RANDOM_PORT,
		})
	}
	t.Cleanup(c.Shutdown)
	// JetStream clustering needs routes configured from the start. Node i
	// reaches node j through a proxy of its own (i→j), listening before any
	// node starts and dialing node j's route port as it is when a
	// connection comes in; so the test can also cut a node off the cluster
	// at once (see HardStopServer). NoAdvertise keeps the servers from
	// gossiping their direct addresses around the proxies.
	c.isolated = make([]atomic.Bool, n)
	for i, nd := range c.nodes {
		for j := range c.nodes {
			if i == j {
				continue
			}
			px, err := c.newRouteProxy(i, j)
			if err != nil {
				t.Fatalf("bridgetest: cluster: %v", err)
			}
			c.proxies = append(c.proxies, px)
			nd.routes = append(nd.routes, &url.URL{Scheme: "nats-route", Host: px.ln.Addr().String()})
		}
	}
	for _, nd := range c.nodes {
		if err := c.start(nd); err != nil {
			t.Fatalf("bridgetest: cluster: %v", err)
		}
	}
	c.WaitForMetaLeader(t, clusterReadyTimeout)
	return c
}

func (c *Cluster) options(nd *clusterNode) *server.Options {
	o := &server.Options{
		ServerName: nd.name,
		Host:       "127.0.0.1",
		Port:       nd.port,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   nd.storeDir,
		Cluster: server.ClusterOpts{
			Name:        c.name,
			Host:        "127.0.0.1",
			Port:        nd.clusterPort,
			NoAdvertise: true,
		},
		Routes: nd.routes,
	}
	for _, opt := range c.opts {
		opt(o)
	}
	return o
}

func (c *Cluster) start(nd *clusterNode) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	srv, err := server.NewServer(c.options(nd))
	if err != nil {
		return fmt.Errorf("new nats-server %s: %w", nd.name, err)
	}
	log := &errLogger{}
	srv.SetLoggerV2(log, false, false, false)
	go srv.Start()
	if !waitReady(srv, log) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("nats-server %s not ready with JetStream within %s (errors: %s)", nd.name, readyTimeout, log.String())
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok || srv.ClusterAddr() == nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("nats-server %s: no TCP client or cluster listener", nd.name)
	}
	nd.srv = srv
	nd.port = addr.Port
	nd.clusterPort = srv.ClusterAddr().Port
	return nil
}

// Size is the number of nodes, running or not.
func (c *Cluster) Size() int { return len(c.nodes) }

// Server returns node i's running server, or nil while it is stopped. After
// a restart it is a different value.
func (c *Cluster) Server(i int) *server.Server {
	nd := c.nodes[i]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.srv
}

// Name returns node i's server name ("n1", "n2", …).
func (c *Cluster) Name(i int) string { return c.nodes[i].name }

// URL returns every node's client URL, comma-separated, in node order. The
// list stays valid across restarts (ports are kept).
func (c *Cluster) URL() string {
	urls := make([]string, 0, len(c.nodes))
	for _, nd := range c.nodes {
		nd.mu.Lock()
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", nd.port))
		nd.mu.Unlock()
	}
	return strings.Join(urls, ",")
}

// Conn connects a client to the cluster (any node) and closes it on
// t.Cleanup. It calls t.Fatal if no node accepts the connection.
func (c *Cluster) Conn(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return connect(t, c.URL(), append([]nats.Option{nats.MaxReconnects(-1)}, opts...)...)
}

// JetStream returns a JetStream context on a new connection from Conn.
func (c *Cluster) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	return jetStream(t, c.Conn(t))
}

// WaitForMetaLeader waits until one running node is the JetStream meta
// leader and every running node is current with it.
func (c *Cluster) WaitForMetaLeader(t testing.TB, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, "a JetStream meta leader and every node current", func() error {
		leaders := 0
		for i := range c.nodes {
			s := c.Server(i)
			if s == nil {
				continue
			}
			if s.JetStreamIsLeader() {
				leaders++
			}
			if !s.JetStreamIsCurrent() {
				return fmt.Errorf("%s is not current", c.nodes[i].name)
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d meta leaders", leaders)
		}
		return nil
	})
}

// StreamLeader returns the index of the node leading stream (in the $G
// account), or -1 when no running node leads it right now.
func (c *Cluster) StreamLeader(stream string) int {
	for i := range c.nodes {
		if s := c.Server(i); s != nil && s.JetStreamIsStreamLeader(Account, stream) {
			return i
		}
	}
	return -1
}

// WaitForStreamLeader waits until some running node leads stream and
// returns its index.
func (c *Cluster) WaitForStreamLeader(t testing.TB, stream string, timeout time.Duration) int {
	t.Helper()
	leader := -1
	WaitFor(t, timeout, "a leader for stream "+stream, func() error {
		if leader = c.StreamLeader(stream); leader < 0 {
			return errors.New("no leader")
		}
		return nil
	})
	return leader
}

// StepdownStream asks the leader of stream to step down through the
// JetStream API ($JS.API.STREAM.LEADER.STEPDOWN.<stream>) on nc, the
// graceful path an operator's `nats stream cluster step-down` takes, and
// waits until another node leads it. It returns the new leader's index.
func (c *Cluster) StepdownStream(t testing.TB, nc *nats.Conn, stream string) int {
	t.Helper()
	old := c.WaitForStreamLeader(t, stream, 20*time.Second)
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	// The request can race an election started by something else; retry
	// until the API says yes.
	WaitFor(t, 20*time.Second, "stream "+stream+" stepdown to be accepted", func() error {
		msg, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil, 2*time.Second)
		if err != nil {
			return err
		}
		resp.Success, resp.Error = false, nil
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			return fmt.Errorf("stepdown reply %q: %w", msg.Data, err)
		}
		if !resp.Success {
			if resp.Error != nil {
				return errors.New(resp.Error.Description)
			}
			return fmt.Errorf("stepdown reply %q", msg.Data)
		}
		return nil
	})
	leader := -1
	WaitFor(t, 20*time.Second, "a new leader for stream "+stream, func() error {
		leader = c.StreamLeader(stream)
		if leader < 0 || leader == old {
			return fmt.Errorf("leader is %d (was %d)", leader, old)
		}
		return nil
	})
	return leader
}

// StopServer hard-stops node i (Shutdown, no lame duck): its clients see a
// disconnect, its Raft groups lose a member without a handover. Its store
// is kept for RestartServer. Stopping a stopped node does nothing.
func (c *Cluster) StopServer(i int) {
	nd := c.nodes[i]
	nd.mu.Lock()
	srv := nd.srv
	nd.srv = nil
	nd.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Shutdown()
	srv.WaitForShutdown()
}

// RestartServer stops node i if it runs and starts it again with the same
// name, ports and store, routed to every other node. It calls t.Fatal if
// the node is not ready within 10 seconds.
func (c *Cluster) RestartServer(t testing.TB, i int) {
	t.Helper()
	c.StopServer(i)
	c.isolated[i].Store(false)
	if err := c.start(c.nodes[i]); err != nil {
		t.Fatalf("bridgetest: restart %s: %v", c.nodes[i].name, err)
	}
}

// HardStopServer is the in-process stand-in for kill -9 of node i: its
// route connections are cut first (the peers see it vanish mid-stream), and
// only then is it shut down, so the leadership handover Shutdown attempts
// (stepdownRaftNodes) reaches no one. The peers must notice the loss on
// their own: with production Raft timers a new leader takes 4–9 s. Its
// clients see a disconnect. RestartServer brings it back and reconnects it.
func (c *Cluster) HardStopServer(i int) {
	c.isolated[i].Store(true)
	for _, px := range c.proxies {
		if px.from == i || px.to == i {
			px.closeAll()
		}
	}
	c.StopServer(i)
}

// Shutdown stops every node and the route proxies. It is idempotent.
func (c *Cluster) Shutdown() {
	for i := range c.nodes {
		c.StopServer(i)
	}
	for _, px := range c.proxies {
		px.close()
	}
}

// routeProxy forwards node from's route connections to node to's cluster
// port, unless either node is isolated.
type routeProxy struct {
	c        *Cluster
	from, to int
	ln       net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

func (c *Cluster) newRouteProxy(from, to int) (*routeProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("route proxy: %w", err)
	}
	px := &routeProxy{c: c, from: from, to: to, ln: ln, conns: map[net.Conn]struct{}{}}
	go px.serve()
	return px, nil
}

func (px *routeProxy) serve() {
	for {
		in, err := px.ln.Accept()
		if err != nil {
			return
		}
		port := px.c.nodes[px.to].routePort()
		if port <= 0 || px.c.isolated[px.from].Load() || px.c.isolated[px.to].Load() {
			in.Close() // not up yet, or cut off: the route is retried
			continue
		}
		out, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)), 2*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		if !px.track(in, out) {
			continue
		}
		go px.pipe(in, out)
		go px.pipe(out, in)
	}
}

func (px *routeProxy) track(conns ...net.Conn) bool {
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.done {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		px.conns[c] = struct{}{}
	}
	return true
}

func (px *routeProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	px.mu.Lock()
	delete(px.conns, dst)
	delete(px.conns, src)
	px.mu.Unlock()
}

func (px *routeProxy) closeAll() {
	px.mu.Lock()
	defer px.mu.Unlock()
	for c := range px.conns {
		c.Close()
	}
}

func (px *routeProxy) close() {
	px.mu.Lock()
	px.done = true
	px.mu.Unlock()
	px.ln.Close()
	px.closeAll()
}

// ReplicaState is one node's view of a stream.
type ReplicaState struct {
	Server                         string
	Msgs, FirstSeq, LastSeq, Bytes uint64
	NumDeleted                     int
	Leader                         bool
}

// StreamStates returns every running node's local state of stream, read
// from the node itself (JSZ), in node order. Nodes without the stream are
// left out.
func (c *Cluster) StreamStates(stream string) ([]ReplicaState, error) {
	var out []ReplicaState
	for i, nd := range c.nodes {
		s := c.Server(i)
		if s == nil {
			continue
		}
		acc, err := s.JszAccount(&server.JSzOptions{Account: Account, Streams: true})
		if err != nil {
			return nil, fmt.Errorf("%s: jsz: %w", nd.name, err)
		}
		for _, sd := range acc.Streams {
			if sd.Name != stream {
				continue
			}
			out = append(out, ReplicaState{
				Server: nd.name, Msgs: sd.State.Msgs, FirstSeq: sd.State.FirstSeq, LastSeq: sd.State.LastSeq,
				Bytes: sd.State.Bytes, NumDeleted: sd.State.NumDeleted,
				Leader: s.JetStreamIsStreamLeader(Account, stream),
			})
		}
	}
	return out, nil
}

// CheckReplicas is nats-server's checkState for one stream: it returns nil
// when exactly replicas running nodes hold stream, one of them leads it,
// and every replica's Msgs, FirstSeq, LastSeq and NumDeleted equal the
// leader's. Use it inside [WaitFor]: followers apply the log a little
// after the leader.
func (c *Cluster) CheckReplicas(stream string, replicas int) error {
	states, err := c.StreamStates(stream)
	if err != nil {
		return err
	}
	if len(states) != replicas {
		return fmt.Errorf("stream %s on %d running nodes, want %d: %+v", stream, len(states), replicas, states)
	}
	var leader *ReplicaState
	for i := range states {
		if states[i].Leader {
			leader = &states[i]
		}
	}
	if leader == nil {
		return fmt.Errorf("stream %s has no leader: %+v", stream, states)
	}
	for _, st := range states {
		if st.Msgs != leader.Msgs || st.FirstSeq != leader.FirstSeq || st.LastSeq != leader.LastSeq || st.NumDeleted != leader.NumDeleted {
			return fmt.Errorf("stream %s: replica %s %+v differs from leader %s %+v", stream, st.Server, st, leader.Server, *leader)
		}
	}
	return nil
}

// WaitForCurrent waits until node i is current with the meta leader and
// with stream's Raft group, as after a restart before faulting again.
func (c *Cluster) WaitForCurrent(t testing.TB, i int, stream string, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, c.nodes[i].name+" current for stream "+stream, func() error {
		s := c.Server(i)
		if s == nil {
			return errors.New("stopped")
		}
		if !s.JetStreamIsCurrent() {
			return errors.New("meta not current")
		}
		if !s.JetStreamIsStreamCurrent(Account, stream) {
			return errors.New("stream not current")
		}
		return nil
	})
}

// routePort is the node's route listener port, 0 until its first start.
func (nd *clusterNode) routePort() int {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.clusterPort == server.RANDOM_PORT {
		return 0
	}
	return nd.clusterPort
}

// streamOf returns the stream handle for name through js, waiting up to
// timeout for it to answer (after a fault it may need a leader first).
func streamOf(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
	var last error
	for ctx.Err() == nil {
		s, err := js.Stream(ctx, name)
		if err == nil {
			return s, nil
		}
		last = err
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return nil, fmt.Errorf("stream %s: %w (last: %v)", name, ctx.Err(), last)
}
