package dns

import (
	"errors"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// originalNameserver is where a redirected TCP connection was going (SO_ORIGINAL_DST, which
// conntrack keeps; its port is 53, which the redirect matched). One getsockopt into a buffer
// that holds either family's address: sockaddr_in (SOL_IP) or sockaddr_in6 (SOL_IPV6,
// IP6T_SO_ORIGINAL_DST, the same number).
func originalNameserver(c net.Conn) (netip.AddrPort, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, errors.New("not a TCP connection")
	}
	local, _ := tc.LocalAddr().(*net.TCPAddr)
	level := unix.SOL_IPV6
	if local != nil && local.IP.To4() != nil {
		level = unix.SOL_IP
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var sa unix.RawSockaddrInet6
	size := uint32(unsafe.Sizeof(sa))
	var errno unix.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, uintptr(level), unix.SO_ORIGINAL_DST, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&size)), 0)
	}); err != nil {
		return netip.AddrPort{}, err
	}
	if errno != 0 {
		return netip.AddrPort{}, errno
	}
	if sa.Family == unix.AF_INET {
		v4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
		return netip.AddrPortFrom(netip.AddrFrom4(v4.Addr), 53), nil
	}
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), 53), nil
}
