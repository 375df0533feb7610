package replay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrBlockedAddress is returned (wrapped) when the HTTP sink refuses to
// connect to an address: a cloud-metadata or link-local address, directly
// or in an IPv4-mapped, NAT64 or 6to4 form.
var ErrBlockedAddress = errors.New("refusing to connect to a cloud-metadata or link-local address")

var (
	linkLocal4 = netip.MustParsePrefix("169.254.0.0/16") // includes 169.254.169.254, the metadata service of AWS, GCP, Azure, …
	linkLocal6 = netip.MustParsePrefix("fe80::/10")
	awsIMDS6   = netip.MustParseAddr("fd00:ec2::254")
	nat64      = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: IPv4 in the last 32 bits
	sixToFour  = netip.MustParsePrefix("2002::/16")    // RFC 3056: IPv4 in bits 16–47
)

// Blocked reports whether the HTTP sink refuses to connect to ip: IPv4
// link-local 169.254.0.0/16 (cloud metadata at 169.254.169.254), IPv6
// link-local fe80::/10, AWS's IPv6 metadata address fd00:ec2::254, and
// those IPv4 addresses written as IPv4-mapped (::ffff:a.b.c.d), NAT64
// (64:ff9b::/96) or 6to4 (2002::/16) IPv6 addresses. Loopback and private
// (RFC 1918, ULA) addresses are allowed: replay is run by an operator who
// may well deliver to a service on the same host or network.
func Blocked(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		return linkLocal4.Contains(ip)
	}
	if linkLocal6.Contains(ip) || ip == awsIMDS6 {
		return true
	}
	b := ip.As16()
	if nat64.Contains(ip) {
		return Blocked(netip.AddrFrom4([4]byte(b[12:16])))
	}
	if sixToFour.Contains(ip) {
		return Blocked(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return false
}

// dialControl is a net.Dialer Control function: it runs after name
// resolution, on the very address about to be connected to, so neither a
// hostname nor DNS rebinding gets around [Blocked].
func dialControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w (unparseable address)", address, ErrBlockedAddress)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: %w (not an IP address)", address, ErrBlockedAddress)
	}
	if Blocked(ip) {
		return fmt.Errorf("dial %s %s: %w", network, address, ErrBlockedAddress)
	}
	return nil
}

// Resolver looks up the addresses of a host name.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// dialer connects with dialControl; with a Resolver it resolves names itself
// and dials each address in turn (Control still checks every one).
type dialer struct {
	d       net.Dialer
	resolve Resolver
}

func newDialer(resolve Resolver) *dialer {
	return &dialer{d: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: dialControl}, resolve: resolve}
}

func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil || d.resolve == nil {
		return d.d.DialContext(ctx, network, address)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return d.d.DialContext(ctx, network, address)
	}
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	var errs []error
	for _, a := range addrs {
		c, err := d.d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
