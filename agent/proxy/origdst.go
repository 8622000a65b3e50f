package proxy

import (
	"errors"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// originalTarget is where a redirected connection was going, at the application's port: its
// original destination address (SO_ORIGINAL_DST, kept by conntrack when iptables REDIRECT
// rewrote it), else the address it arrived at (REDIRECT's: the interface's primary one).
func originalTarget(c net.Conn, appPort int) (string, error) {
	addr, err := originalDst(c)
	if err != nil {
		local, ok := c.LocalAddr().(*net.TCPAddr)
		if !ok {
			return "", err
		}
		addr = local.AddrPort().Addr()
	}
	return net.JoinHostPort(addr.Unmap().String(), strconv.Itoa(appPort)), nil
}

// IP6T_SO_ORIGINAL_DST (linux/netfilter_ipv6/ip6_tables.h), which x/sys does not name.
const ip6tSOOriginalDst = 80

func originalDst(c net.Conn) (netip.Addr, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return netip.Addr{}, errors.New("not a TCP connection")
	}
	local, _ := tc.LocalAddr().(*net.TCPAddr)
	raw, err := tc.SyscallConn()
	if err != nil {
		return netip.Addr{}, err
	}
	var out netip.Addr
	var serr error
	cerr := raw.Control(func(fd uintptr) {
		if local != nil && local.IP.To4() != nil {
			// struct sockaddr_in, read through a getsockopt of the right size
			m, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
			if err != nil {
				serr = err
				return
			}
			out = netip.AddrFrom4([4]byte(m.Multiaddr[4:8]))
			return
		}
		// struct sockaddr_in6 (inside ip6_mtuinfo's first field)
		m, err := unix.GetsockoptIPv6MTUInfo(int(fd), unix.SOL_IPV6, ip6tSOOriginalDst)
		if err != nil {
			serr = err
			return
		}
		out = netip.AddrFrom16(m.Addr.Addr)
	})
	if cerr != nil {
		return netip.Addr{}, cerr
	}
	return out, serr
}
