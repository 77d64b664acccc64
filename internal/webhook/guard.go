package webhook

import (
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrPrivateTarget: the target is on loopback, a private or link-local
// network, or another address a server must not be made to call (SSRF).
var ErrPrivateTarget = errors.New("webhook target is on a private network")

// blocked reports whether ip is an address webhooks may not reach.
func blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
		cgnat.Contains(ip) // carrier-grade NAT, often a cloud's internal network
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// CheckURL validates a webhook URL when it is set: absolute http or https,
// a host, no credentials; with allowPrivate false, a literal address or
// "localhost" on a private network is refused at once (names are checked
// again, resolved, when each delivery dials).
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(raw) > 2048 {
		return errors.New("webhook url must be an absolute http or https URL without credentials, at most 2048 characters")
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return ErrPrivateTarget
	}
	if ip, err := netip.ParseAddr(host); err == nil && blocked(ip) {
		return ErrPrivateTarget
	}
	return nil
}

// control refuses connections to blocked addresses; it runs after name
// resolution, on the address actually dialled, so a name that resolves (or
// re-resolves) to a private address is caught too.
func control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if blocked(ip) {
		return ErrPrivateTarget
	}
	return nil
}
