package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Sentinel errors returned by [Authenticator.Check].
var (
	// ErrUnauthenticated: credentials missing or not valid (HTTP 401).
	ErrUnauthenticated = errors.New("auth: missing or invalid credentials")
	// ErrForbidden: the source address is not in the allow-list (HTTP 403).
	ErrForbidden = errors.New("auth: source address not allowed")
)

// QueryParam is the URL query parameter that carries a token.
const QueryParam = "token"

// Config says which credentials and source addresses are accepted.
type Config struct {
	// Tokens are the accepted shared secrets, presented as ?token=,
	// "Authorization: Bearer <token>" or in Header.
	Tokens []string
	// Basic are accepted "user:password" pairs, split on the first ':'
	// (passwords may contain ':').
	Basic []string
	// Header is an optional custom header name carrying a token, e.g.
	// "X-Dtbridge-Token".
	Header string
	// AllowCIDRs restricts source addresses; empty means any address.
	AllowCIDRs []netip.Prefix
	// TrustedProxies are peers whose X-Forwarded-For is honoured.
	TrustedProxies []netip.Prefix
	// Disabled accepts deliveries without credentials (development only).
	// The AllowCIDRs check still applies.
	Disabled bool
}

type digest = [sha256.Size]byte

type basicPair struct{ user, pass digest }

// Authenticator checks requests against a [Config]. It is immutable and safe
// for concurrent use.
type Authenticator struct {
	tokens   []digest
	basic    []basicPair
	header   string // canonical; "" when not configured
	allow    []netip.Prefix
	trusted  []netip.Prefix
	disabled bool
}

// New validates cfg and precomputes digests of its secrets. It fails when no
// credentials are configured and cfg.Disabled is false.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{disabled: cfg.Disabled}
	for i, t := range cfg.Tokens {
		if len(t) == 0 {
			return nil, fmt.Errorf("auth: token %d is empty", i)
		}
		a.tokens = append(a.tokens, sha256.Sum256([]byte(t)))
	}
	for i, b := range cfg.Basic {
		user, pass, ok := strings.Cut(b, ":")
		if !ok || len(user) == 0 || len(pass) == 0 {
			return nil, fmt.Errorf("auth: basic credential %d is not \"user:password\"", i)
		}
		a.basic = append(a.basic, basicPair{sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))})
	}
	if cfg.Header != "" {
		h := http.CanonicalHeaderKey(strings.TrimSpace(cfg.Header))
		if h == "Authorization" || strings.ContainsAny(h, " \t:") {
			return nil, fmt.Errorf("auth: invalid custom token header name %q", cfg.Header)
		}
		a.header = h
	}
	var err error
	if a.allow, err = validPrefixes("allow CIDR", cfg.AllowCIDRs); err != nil {
		return nil, err
	}
	if a.trusted, err = validPrefixes("trusted proxy", cfg.TrustedProxies); err != nil {
		return nil, err
	}
	if len(a.tokens) == 0 && len(a.basic) == 0 && !a.disabled {
		return nil, errors.New("auth: no tokens or basic credentials configured and auth is not disabled")
	}
	return a, nil
}

func validPrefixes(what string, ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() {
			return nil, fmt.Errorf("auth: invalid %s %q", what, p)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Check authorizes r. The source address is checked first ([ErrForbidden]),
// then credentials ([ErrUnauthenticated]). It returns nil when r may deliver.
func (a *Authenticator) Check(r *http.Request) error {
	if len(a.allow) > 0 && !contains(a.allow, a.ClientIP(r)) {
		return ErrForbidden
	}
	if a.disabled || a.credentialsOK(r) {
		return nil
	}
	return ErrUnauthenticated
}

// credentialsOK evaluates every presented credential (no short circuit) so the
// work done does not depend on which one matched.
func (a *Authenticator) credentialsOK(r *http.Request) bool {
	ok := a.matchToken(r.URL.Query().Get(QueryParam))
	if a.header != "" {
		ok = a.matchToken(r.Header.Get(a.header)) || ok
	}
	if scheme, cred, found := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); found && strings.EqualFold(scheme, "Bearer") {
		ok = a.matchToken(strings.TrimSpace(cred)) || ok
	}
	if user, pass, found := r.BasicAuth(); found {
		ok = a.matchBasic(user, pass) || ok
	}
	return ok
}

func (a *Authenticator) matchToken(presented string) bool {
	if len(presented) == 0 {
		return false
	}
	d := sha256.Sum256([]byte(presented))
	match := 0
	for i := range a.tokens {
		match |= subtle.ConstantTimeCompare(d[:], a.tokens[i][:])
	}
	return match == 1
}

func (a *Authenticator) matchBasic(user, pass string) bool {
	if len(user) == 0 || len(pass) == 0 {
		return false
	}
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	match := 0
	for i := range a.basic {
		match |= subtle.ConstantTimeCompare(u[:], a.basic[i].user[:]) &
			subtle.ConstantTimeCompare(p[:], a.basic[i].pass[:])
	}
	return match == 1
}

// ClientIP returns the address r came from: the TCP peer from r.RemoteAddr
// (IPv4-mapped IPv6 unmapped). Only when that peer is a trusted proxy is
// X-Forwarded-For read, right to left, skipping trusted proxies; the first
// untrusted address is returned. If every hop is trusted the leftmost one is
// returned; an unparsable hop stops the walk at the last address known. The
// zero Addr is returned when RemoteAddr cannot be parsed.
func (a *Authenticator) ClientIP(r *http.Request) netip.Addr {
	ip := parseHop(r.RemoteAddr)
	if !ip.IsValid() || !contains(a.trusted, ip) {
		return ip
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := parseHop(hops[i])
		if !hop.IsValid() {
			return ip
		}
		ip = hop
		if !contains(a.trusted, ip) {
			return ip
		}
	}
	return ip
}

// parseHop parses "addr" or "addr:port" ("[v6]:port"), dropping any zone.
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return ip.Unmap().WithZone("")
	}
	return netip.Addr{}
}

func contains(ps []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
