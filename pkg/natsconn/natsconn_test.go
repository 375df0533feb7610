package natsconn_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/natsconn"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustConnect(t *testing.T, o natsconn.Options, extra ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := natsconn.Connect(testCtx(t), o, extra...)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	if err := nc.FlushWithContext(testCtx(t)); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return nc
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUserPassword(t *testing.T) {
	const user, pass = "bridge", "s3cr3t-Pa55w0rd"
	s := bridgetest.RunServer(t, bridgetest.WithUserPassword(user, pass))

	nc := mustConnect(t, natsconn.Options{URL: s.URL(), Name: "dtbridge-test", User: user, Password: pass})
	if !nc.IsConnected() {
		t.Fatal("not connected")
	}

	for _, o := range []natsconn.Options{
		{URL: s.URL(), User: user, Password: "wrong-" + pass},
		{URL: strings.Replace(s.URL(), "nats://", "nats://"+user+":wrong-"+pass+"@", 1)},
	} {
		_, err := natsconn.Connect(testCtx(t), o)
		if err == nil {
			t.Fatal("Connect with wrong password succeeded")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("err = %v, want nats.ErrAuthorization in chain", err)
		}
		if strings.Contains(err.Error(), pass) {
			t.Errorf("error leaks the password: %q", err)
		}
		if !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("error does not name the server: %q", err)
		}
	}
}

func TestToken(t *testing.T) {
	const tok = "tok-0123456789abcdef"
	s := bridgetest.RunServer(t, bridgetest.WithToken(tok))
	mustConnect(t, natsconn.Options{URL: s.URL(), Token: tok})

	_, err := natsconn.Connect(testCtx(t), natsconn.Options{URL: s.URL(), Token: tok + "-bad"})
	if err == nil {
		t.Fatal("Connect with wrong token succeeded")
	}
	if strings.Contains(err.Error(), tok) {
		t.Fatalf("error leaks the token: %q", err)
	}
}

func TestNKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	s := bridgetest.RunServer(t, bridgetest.WithNKeyUser(pub))
	mustConnect(t, natsconn.Options{URL: s.URL(), NKey: writeFile(t, "user.nk", seed)})

	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	if _, err := natsconn.Connect(testCtx(t), natsconn.Options{URL: s.URL(), NKey: writeFile(t, "other.nk", otherSeed)}); err == nil {
		t.Fatal("Connect with an unknown nkey succeeded")
	}
	if _, err := (natsconn.Options{NKey: filepath.Join(t.TempDir(), "missing.nk")}).NATSOptions(); err == nil {
		t.Fatal("NATSOptions with a missing seed file succeeded")
	}
}

// withOperator puts the server in operator (JWT) mode trusting op, with
// account JWTs served from memory and sys as the system account.
func withOperator(op *jwt.OperatorClaims, sys string, accounts map[string]string) bridgetest.Option {
	return func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{op}
		o.SystemAccount = sys
		r := &server.MemAccResolver{}
		for pub, tok := range accounts {
			if err := r.Store(pub, tok); err != nil {
				panic(err)
			}
		}
		o.AccountResolver = r
	}
}

func TestCreds(t *testing.T) {
	opKP, _ := nkeys.CreateOperator()
	opPub, _ := opKP.PublicKey()
	opClaims := jwt.NewOperatorClaims(opPub)
	opJWT, err := opClaims.Encode(opKP)
	if err != nil {
		t.Fatal(err)
	}
	opClaims, err = jwt.DecodeOperatorClaims(opJWT)
	if err != nil {
		t.Fatal(err)
	}

	sysKP, _ := nkeys.CreateAccount()
	sysPub, _ := sysKP.PublicKey()
	sysJWT, err := jwt.NewAccountClaims(sysPub).Encode(opKP)
	if err != nil {
		t.Fatal(err)
	}

	accKP, _ := nkeys.CreateAccount()
	accPub, _ := accKP.PublicKey()
	accJWT, err := jwt.NewAccountClaims(accPub).Encode(opKP)
	if err != nil {
		t.Fatal(err)
	}

	userKP, _ := nkeys.CreateUser()
	userPub, _ := userKP.PublicKey()
	userSeed, _ := userKP.Seed()
	uc := jwt.NewUserClaims(userPub)
	uc.IssuerAccount = accPub
	userJWT, err := uc.Encode(accKP)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(userJWT, userSeed)
	if err != nil {
		t.Fatal(err)
	}

	s := bridgetest.RunServer(t, withOperator(opClaims, sysPub, map[string]string{sysPub: sysJWT, accPub: accJWT}))
	mustConnect(t, natsconn.Options{URL: s.URL(), Creds: writeFile(t, "user.creds", creds)})

	if _, err := natsconn.Connect(testCtx(t), natsconn.Options{URL: s.URL()}); err == nil {
		t.Fatal("Connect without creds to an operator-mode server succeeded")
	}
}

func TestTLSWithCA(t *testing.T) {
	cert, key, ca := bridgetest.SelfSignedCert(t, t.TempDir())
	s := bridgetest.RunServer(t, bridgetest.WithTLS(cert, key))

	nc := mustConnect(t, natsconn.Options{URL: s.URL(), TLS: natsconn.TLSOptions{CA: ca}})
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Fatalf("connection is not TLS: %v", err)
	}

	// Without the CA the server certificate does not verify.
	if _, err := natsconn.Connect(testCtx(t), natsconn.Options{URL: s.URL()}); err == nil {
		t.Fatal("Connect without the CA succeeded")
	}
}

func TestReconnectBufferDisabled(t *testing.T) {
	s := bridgetest.RunServer(t)
	nc := mustConnect(t, natsconn.Options{URL: s.URL(), Name: "rbuf"})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(testCtx(t), jetstream.StreamConfig{Name: "DT", Subjects: []string{"dt.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}

	s.Shutdown()
	bridgetest.WaitFor(t, 5*time.Second, "client RECONNECTING", func() error {
		if st := nc.Status(); st != nats.RECONNECTING {
			return errors.New("status " + st.String())
		}
		return nil
	})

	began := time.Now()
	err = nc.Publish("dt.core", []byte("x"))
	if !errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Fatalf("core publish while reconnecting: err = %v, want ErrReconnectBufExceeded", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "dt.js", []byte("x")); err == nil {
		t.Fatal("JetStream publish while reconnecting succeeded")
	}
	if d := time.Since(began); d > time.Second {
		t.Fatalf("publishes took %s to fail, want immediate failure", d)
	}

	s.Restart(t)
	bridgetest.WaitFor(t, 10*time.Second, "client reconnected", func() error {
		if !nc.IsConnected() {
			return errors.New("status " + nc.Status().String())
		}
		return nil
	})
	if _, err := js.Publish(testCtx(t), "dt.js", []byte("after")); err != nil {
		t.Fatalf("publish after reconnect: %v", err)
	}
	// Nothing published during the outage may have been delivered late.
	info, err := js.Stream(testCtx(t), "DT")
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("stream has %d messages, want 1 (only the post-reconnect publish)", n)
	}
}

func TestNATSOptionsPolicy(t *testing.T) {
	opts, err := natsconn.Options{Name: "n", User: "u", Password: "p", TLS: natsconn.TLSOptions{CA: writeCA(t)}}.NATSOptions()
	if err != nil {
		t.Fatal(err)
	}
	got := nats.GetDefaultOptions()
	for _, opt := range opts {
		if err := opt(&got); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case got.MaxReconnect != -1:
		t.Errorf("MaxReconnect = %d, want -1", got.MaxReconnect)
	case got.ReconnectBufSize != -1:
		t.Errorf("ReconnectBufSize = %d, want -1", got.ReconnectBufSize)
	case got.RetryOnFailedConnect:
		t.Error("RetryOnFailedConnect = true")
	case got.ReconnectWait != natsconn.ReconnectWait || got.ReconnectJitter != natsconn.ReconnectJitter:
		t.Errorf("ReconnectWait/Jitter = %s/%s", got.ReconnectWait, got.ReconnectJitter)
	case got.PingInterval != natsconn.PingInterval || got.MaxPingsOut != natsconn.MaxPingsOutstanding:
		t.Errorf("PingInterval/MaxPingsOut = %s/%d", got.PingInterval, got.MaxPingsOut)
	case got.Name != "n" || got.User != "u" || got.Password != "p":
		t.Errorf("name/user/password not applied: %q %q", got.Name, got.User)
	case !got.Secure || got.RootCAsCB == nil:
		t.Error("TLS CA not applied")
	case got.DisconnectedErrCB != nil || got.ReconnectedCB != nil || got.ClosedCB != nil:
		t.Error("handlers set by NATSOptions; they belong to the caller")
	}
}

func writeCA(t *testing.T) string {
	_, _, ca := bridgetest.SelfSignedCert(t, t.TempDir())
	return ca
}

func TestInvalidOptions(t *testing.T) {
	for name, o := range map[string]natsconn.Options{
		"two auth methods":   {URL: "nats://127.0.0.1:1", User: "u", Password: "hunter2", Token: "tok-secret"},
		"password no user":   {URL: "nats://127.0.0.1:1", Password: "hunter2"},
		"cert without key":   {URL: "nats://127.0.0.1:1", TLS: natsconn.TLSOptions{Cert: "c.pem"}},
		"no URL":             {},
		"unreachable server": {URL: "nats://u:hunter2@127.0.0.1:1, nats://127.0.0.1:2", Token: "tok-secret"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := natsconn.Connect(testCtx(t), o)
			if err == nil {
				t.Fatal("Connect succeeded")
			}
			for _, secret := range []string{"hunter2", "tok-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks %q: %q", secret, err)
				}
			}
		})
	}
}

func TestConnectHonoursContext(t *testing.T) {
	s := bridgetest.RunServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := natsconn.Connect(ctx, natsconn.Options{URL: s.URL()}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
