package auth

import (
	"bufio"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	tokA = "tok-A-0123456789abcdefghijklmnop"
	tokB = "tok-B-rotated-zyxwvutsrqponmlkji"
)

func mustNew(t *testing.T, cfg Config) *Authenticator {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

type reqOpt func(*http.Request)

func header(k, v string) reqOpt        { return func(r *http.Request) { r.Header.Add(k, v) } }
func peer(addr string) reqOpt          { return func(r *http.Request) { r.RemoteAddr = addr } }
func basic(user, pass string) reqOpt   { return func(r *http.Request) { r.SetBasicAuth(user, pass) } }
func xff(v string) reqOpt              { return header("X-Forwarded-For", v) }
func bearer(scheme, tok string) reqOpt { return header("Authorization", scheme+" "+tok) }

func request(target string, opts ...reqOpt) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, nil)
	for _, o := range opts {
		o(r)
	}
	return r
}

func TestCheck(t *testing.T) {
	full := Config{
		Tokens: []string{tokA, tokB},
		Basic:  []string{"dt:pa:ss:word"},
		Header: "x-dtbridge-token",
	}
	cidr := full
	cidr.AllowCIDRs = prefixes(t, "203.0.113.0/24", "2001:db8::/32")
	cidr.TrustedProxies = prefixes(t, "10.0.0.0/8")
	disabled := Config{Disabled: true}
	disabledCIDR := Config{Disabled: true, AllowCIDRs: prefixes(t, "203.0.113.0/24")}

	tests := []struct {
		name   string
		cfg    Config
		target string
		opts   []reqOpt
		want   error
	}{
		{"query token", full, "/hook?token=" + tokA, nil, nil},
		{"query token among other params", full, "/hook?a=1&token=" + tokA + "&b=2", nil, nil},
		{"rotation: second token", full, "/hook?token=" + tokB, nil, nil},
		{"bearer", full, "/hook", []reqOpt{bearer("Bearer", tokA)}, nil},
		{"bearer scheme case-insensitive", full, "/hook", []reqOpt{bearer("bEARER", tokB)}, nil},
		{"custom header", full, "/hook", []reqOpt{header("X-Dtbridge-Token", tokA)}, nil},
		{"basic, password with colons", full, "/hook", []reqOpt{basic("dt", "pa:ss:word")}, nil},
		{"wrong query token", full, "/hook?token=nope", nil, ErrUnauthenticated},
		{"empty query token", full, "/hook?token=", nil, ErrUnauthenticated},
		{"prefix of valid token", full, "/hook?token=" + tokA[:len(tokA)-1], nil, ErrUnauthenticated},
		{"valid token plus suffix", full, "/hook?token=" + tokA + "x", nil, ErrUnauthenticated},
		{"no credentials", full, "/hook", nil, ErrUnauthenticated},
		{"empty bearer", full, "/hook", []reqOpt{bearer("Bearer", "")}, ErrUnauthenticated},
		{"token under other scheme", full, "/hook", []reqOpt{bearer("Token", tokA)}, ErrUnauthenticated},
		{"token in wrong header", full, "/hook", []reqOpt{header("X-Other", tokA)}, ErrUnauthenticated},
		{"basic wrong password", full, "/hook", []reqOpt{basic("dt", "pa:ss")}, ErrUnauthenticated},
		{"basic wrong user", full, "/hook", []reqOpt{basic("xx", "pa:ss:word")}, ErrUnauthenticated},
		{"basic with token as password", full, "/hook", []reqOpt{basic("dt", tokA)}, ErrUnauthenticated},
		{"token as basic pair is not a token", full, "/hook?token=dt:pa:ss:word", nil, ErrUnauthenticated},
		{"disabled, no credentials", disabled, "/hook", nil, nil},
		{"disabled, allowed address", disabledCIDR, "/hook", []reqOpt{peer("203.0.113.9:4000")}, nil},
		{"disabled still checks CIDR", disabledCIDR, "/hook", []reqOpt{peer("198.51.100.1:4000")}, ErrForbidden},
		{"cidr: allowed peer", cidr, "/hook?token=" + tokA, []reqOpt{peer("203.0.113.7:5555")}, nil},
		{"cidr: allowed v6 peer", cidr, "/hook?token=" + tokA, []reqOpt{peer("[2001:db8::1]:5555")}, nil},
		{"cidr: v4-mapped peer unmapped", cidr, "/hook?token=" + tokA, []reqOpt{peer("[::ffff:203.0.113.7]:5555")}, nil},
		{"cidr: peer outside", cidr, "/hook?token=" + tokA, []reqOpt{peer("198.51.100.1:5555")}, ErrForbidden},
		{"cidr checked before credentials", cidr, "/hook", []reqOpt{peer("198.51.100.1:5555")}, ErrForbidden},
		{"cidr ok, bad credentials", cidr, "/hook?token=bad", []reqOpt{peer("203.0.113.7:5555")}, ErrUnauthenticated},
		{"spoofed XFF from untrusted peer ignored", cidr, "/hook?token=" + tokA,
			[]reqOpt{peer("198.51.100.1:5555"), xff("203.0.113.7")}, ErrForbidden},
		{"XFF from trusted proxy used", cidr, "/hook?token=" + tokA,
			[]reqOpt{peer("10.1.2.3:5555"), xff("203.0.113.7")}, nil},
		{"XFF from trusted proxy: outside client forbidden", cidr, "/hook?token=" + tokA,
			[]reqOpt{peer("10.1.2.3:5555"), xff("198.51.100.1")}, ErrForbidden},
		{"XFF: client-spoofed leftmost entry ignored", cidr, "/hook?token=" + tokA,
			[]reqOpt{peer("10.1.2.3:5555"), xff("203.0.113.7, 198.51.100.1")}, ErrForbidden},
		{"proxy itself not in allow-list", cidr, "/hook?token=" + tokA, []reqOpt{peer("10.1.2.3:5555")}, ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, tt.cfg)
			err := a.Check(request(tt.target, tt.opts...))
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	a := mustNew(t, Config{Tokens: []string{tokA}, TrustedProxies: prefixes(t, "10.0.0.0/8", "fd00::/8")})
	tests := []struct {
		name string
		opts []reqOpt
		want string
	}{
		{"peer only", []reqOpt{peer("198.51.100.1:1234")}, "198.51.100.1"},
		{"v4-mapped peer", []reqOpt{peer("[::ffff:198.51.100.1]:1234")}, "198.51.100.1"},
		{"v6 peer", []reqOpt{peer("[2001:db8::5]:1234")}, "2001:db8::5"},
		{"untrusted peer ignores XFF", []reqOpt{peer("198.51.100.1:1234"), xff("1.2.3.4")}, "198.51.100.1"},
		{"trusted peer, no XFF", []reqOpt{peer("10.0.0.1:1234")}, "10.0.0.1"},
		{"trusted peer, one hop", []reqOpt{peer("10.0.0.1:1234"), xff("203.0.113.5")}, "203.0.113.5"},
		{"skips trusted hops right to left", []reqOpt{peer("10.0.0.1:1234"), xff("1.1.1.1, 203.0.113.5, 10.9.9.9")}, "203.0.113.5"},
		{"multiple XFF headers", []reqOpt{peer("10.0.0.1:1234"), xff("1.1.1.1"), xff("203.0.113.5, 10.2.2.2")}, "203.0.113.5"},
		{"hop with port", []reqOpt{peer("10.0.0.1:1234"), xff("203.0.113.5:999")}, "203.0.113.5"},
		{"v6 hop via v6 proxy", []reqOpt{peer("[fd00::1]:1234"), xff("2001:db8::7")}, "2001:db8::7"},
		{"all hops trusted: leftmost", []reqOpt{peer("10.0.0.1:1234"), xff("10.0.0.3, 10.0.0.2")}, "10.0.0.3"},
		{"garbage hop stops walk", []reqOpt{peer("10.0.0.1:1234"), xff("203.0.113.5, junk")}, "10.0.0.1"},
		{"unparsable RemoteAddr", []reqOpt{peer("not-an-addr")}, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.ClientIP(request("/", tt.opts...)).String(); got != tt.want {
				t.Fatalf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"no credentials", Config{}, true},
		{"no credentials, header only", Config{Header: "X-Token"}, true},
		{"disabled without credentials", Config{Disabled: true}, false},
		{"token", Config{Tokens: []string{"t"}}, false},
		{"basic", Config{Basic: []string{"u:p"}}, false},
		{"empty token", Config{Tokens: []string{""}}, true},
		{"basic without colon", Config{Basic: []string{"user"}}, true},
		{"basic empty password", Config{Basic: []string{"user:"}}, true},
		{"basic empty user", Config{Basic: []string{":pw"}}, true},
		{"header Authorization", Config{Tokens: []string{"t"}, Header: "authorization"}, true},
		{"invalid prefix", Config{Tokens: []string{"t"}, AllowCIDRs: []netip.Prefix{{}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestLoadOrCreateToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	tok, created, err := LoadOrCreateToken(dir)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 32 || len(tok) != 43 {
		t.Fatalf("token %q: %d bytes, err %v", tok, len(raw), err)
	}
	fi, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode = %v, err %v; want 0600", fi.Mode().Perm(), err)
	}
	di, err := os.Stat(dir)
	if err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode = %v, err %v; want 0700", di.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir has %d entries, want only %s (temp file left behind?)", len(entries), TokenFile)
	}

	again, created, err := LoadOrCreateToken(dir)
	if err != nil || created || again != tok {
		t.Fatalf("second call: token same=%v created=%v err=%v", again == tok, created, err)
	}

	other, _, err := LoadOrCreateToken(t.TempDir())
	if err != nil || other == tok {
		t.Fatalf("second dir: same token=%v err=%v", other == tok, err)
	}
}

func TestLoadOrCreateTokenExisting(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
		wantErr bool
	}{
		{"trimmed", "  hand-made-token \n", 0o600, "hand-made-token", false},
		{"owner read-only", "tok\n", 0o400, "tok", false},
		{"group readable refused", "tok\n", 0o640, "", true},
		{"world readable refused", "tok\n", 0o604, "", true},
		{"empty refused", " \n", 0o600, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, TokenFile)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, created, err := LoadOrCreateToken(dir)
			if (err != nil) != tt.wantErr || got != tt.want || created {
				t.Fatalf("got %q created=%v err=%v; want %q wantErr=%v", got, created, err, tt.want, tt.wantErr)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != tt.mode {
				t.Fatalf("mode changed to %v", fi.Mode().Perm())
			}
		})
	}
}

// TestNoSecretEquality is a coarse guard: no non-test line that mentions a
// secret may use == or != (constant-time digests only). Length checks and
// ConstantTimeCompare results are allowed.
func TestNoSecretEquality(t *testing.T) {
	secret := regexp.MustCompile(`(?i)(token|pass|secret|user|digest|cred|presented)`)
	allowed := regexp.MustCompile(`len\([^)]*\) (==|!=) 0|ConstantTimeCompare|match == 1|err (==|!=) nil`)
	files, _ := filepath.Glob("*.go")
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line, _, _ := strings.Cut(sc.Text(), "//")
			if !strings.Contains(line, "==") && !strings.Contains(line, "!=") {
				continue
			}
			if secret.MatchString(line) && !allowed.MatchString(line) {
				t.Errorf("%s:%d compares a secret with ==/!=: %s", name, n, strings.TrimSpace(line))
			}
		}
		f.Close()
	}
}
