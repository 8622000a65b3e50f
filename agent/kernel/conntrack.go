package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Conntrack deletes conntrack entries of the network namespace. Netlink implements it; a
// Kernel that does not (the tests' fake) has no conntrack table to clean.
type Conntrack interface {
	// ForgetMarked deletes every conntrack entry, of every family, whose ct mark has value in
	// the bits of mask; the others are untouched.
	ForgetMarked(value, mask uint32) error
	// ForgetFlows deletes the entries of the family (4 or 6) for which forget is true, and says
	// how many it deleted.
	ForgetFlows(family int, forget func(Flow) bool) (int, error)
}

// Flow is what ForgetFlows tells of an entry: its original direction and its ct mark.
type Flow struct {
	Proto    uint8 // unix.IPPROTO_UDP, IPPROTO_TCP, …
	Src, Dst netip.AddrPort
	Mark     uint32
}

var _ Conntrack = Netlink{}

// ctaMarkMask is CTA_MARK_MASK of enum ctattr_type (linux/netfilter/nfnetlink_conntrack.h).
const ctaMarkMask = 21

// ForgetMarked implements Conntrack: one IPCTNL_MSG_CT_DELETE without a tuple, with CTA_MARK
// and CTA_MARK_MASK, which the kernel takes as a flush filtered by the mark
// (ctnetlink_flush_conntrack: entries whose mark & mask is not value are skipped); AF_UNSPEC
// is every family (since 4.19 a family given filters by it; before, the family was ignored).
// A kernel without ct marks (CONFIG_NF_CONNTRACK_MARK) refuses it (EOPNOTSUPP) rather than
// flush everything; without nf_conntrack_netlink nfnetlink has no such subsystem. Before 4.19
// it is not sent at all (markedFlushKnown).
func (Netlink) ForgetMarked(value, mask uint32) error {
	if err := markedFlushKnown(); err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(unix.NFNL_SUBSYS_CTNETLINK<<8|nl.IPCTNL_MSG_CT_DELETE, unix.NLM_F_ACK)
	req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.AF_UNSPEC, Version: nl.NFNETLINK_V0})
	req.AddData(nl.NewRtAttr(nl.CTA_MARK, binary.BigEndian.AppendUint32(nil, value)))
	req.AddData(nl.NewRtAttr(ctaMarkMask, binary.BigEndian.AppendUint32(nil, mask)))
	if _, err := req.Execute(unix.NETLINK_NETFILTER, 0); err != nil {
		return fmt.Errorf("deleting the conntrack entries marked 0x%x/0x%x: %w", value, mask, err)
	}
	return nil
}

// ForgetFlows implements Conntrack: one dump of the family's entries, then one
// IPCTNL_MSG_CT_DELETE per entry chosen, naming it by its tuple, zone and id as dumped — an
// exact lookup, safe on any kernel, which deletes nothing if the entry was meanwhile replaced
// (another id: counted then as deleted, as one gone already).
func (Netlink) ForgetFlows(family int, forget func(Flow) bool) (int, error) {
	fam := netlink.InetFamily(unix.AF_INET)
	if family == 6 {
		fam = unix.AF_INET6
	}
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, fam, flowFilter(forget))
	if err != nil {
		return int(n), fmt.Errorf("deleting conntrack entries of IPv%d: %w", family, err)
	}
	return int(n), nil
}

// flowFilter is a netlink.CustomConntrackFilter over Flow.
type flowFilter func(Flow) bool

func (f flowFilter) MatchConntrackFlow(c *netlink.ConntrackFlow) bool {
	src, ok1 := netip.AddrFromSlice(c.Forward.SrcIP)
	dst, ok2 := netip.AddrFromSlice(c.Forward.DstIP)
	if !ok1 || !ok2 {
		return false
	}
	return f(Flow{Proto: c.Forward.Protocol, Src: netip.AddrPortFrom(src.Unmap(), c.Forward.SrcPort),
		Dst: netip.AddrPortFrom(dst.Unmap(), c.Forward.DstPort), Mark: c.Mark})
}

// ForgetMarkedArgv is the conntrack command line that does what ForgetMarked does.
func ForgetMarkedArgv(value, mask uint32) []string {
	return []string{"conntrack", "-D", "--mark", fmt.Sprintf("0x%x/0x%x", value, mask)}
}

// markedFlushKnown refuses kernels older than 4.19 (Kubernetes' own floor): a delete without a
// tuple is a flush, and the mark filter on it is not in every older kernel — there, the same
// message would flush every entry of the namespace.
func markedFlushKnown() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("reading the kernel's release: %w", err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	if !AtLeast(release, 4, 19) {
		return fmt.Errorf("kernel %s is older than 4.19: a conntrack flush filtered by mark may flush every entry there, so none is sent", release)
	}
	return nil
}

// AtLeast: a kernel release ("6.1.0-18-amd64") is major.minor or later.
func AtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	digits := parts[1]
	if i := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		digits = digits[:i] // "20-rc1"
	}
	mi, err2 := strconv.Atoi(digits)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
