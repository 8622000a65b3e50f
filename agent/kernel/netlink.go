package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func init() {
	// the kernel's own words for a refusal (extended ack), after the errno
	nl.EnableErrorMessageReporting = true
}

// Netlink reads and changes the kernel over netlink, in the network namespace of the calling
// process.
type Netlink struct{}

var _ Kernel = Netlink{}

func linkByName(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("%s: %w", name, ErrNoInterface)
		}
		return nil, fmt.Errorf("reading link %s: %w", name, err)
	}
	return l, nil
}

// Links implements StateReader.
func (Netlink) Links() ([]Link, error) {
	ls, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	out := make([]Link, 0, len(ls))
	for _, l := range ls {
		out = append(out, Link{Name: l.Attrs().Name, Index: l.Attrs().Index})
	}
	return out, nil
}

// Qdiscs implements StateReader: one RTM_GETQDISC dump, decoded here so that each qdisc's
// options come back as the kernel gave them.
func (n Netlink) Qdiscs(iface string) ([]Qdisc, error) {
	names := map[int]string{}
	if iface != "" {
		l, err := linkByName(iface)
		if err != nil {
			return nil, err
		}
		names[l.Attrs().Index] = iface
	} else {
		ls, err := n.Links()
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			names[l.Index] = l.Name
		}
	}
	req := nl.NewNetlinkRequest(unix.RTM_GETQDISC, unix.NLM_F_DUMP)
	req.AddData(&nl.TcMsg{Family: unix.AF_UNSPEC})
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWQDISC)
	if err != nil {
		return nil, fmt.Errorf("listing qdiscs: %w", err)
	}
	out := make([]Qdisc, 0, len(msgs))
	for _, m := range msgs {
		if len(m) < nl.SizeofTcMsg {
			continue
		}
		tm := nl.DeserializeTcMsg(m)
		name, ok := names[int(tm.Ifindex)]
		if !ok {
			continue // another interface, or one that came and went while we read
		}
		q := Qdisc{Iface: name, Handle: tm.Handle, Parent: tm.Parent}
		for _, a := range ParseAttrs(m[nl.SizeofTcMsg:]) {
			switch a.Type {
			case unix.TCA_KIND:
				q.Kind = unix.ByteSliceToString(a.Data)
			case unix.TCA_OPTIONS:
				q.Options = append([]byte(nil), a.Data...)
			case unix.TCA_STAB:
				q.Stab = true
			}
		}
		out = append(out, Described(q))
	}
	return out, nil
}

// Described fills in what the agent reads out of a qdisc's options: its words, and netem's and
// prio's parameters.
func Described(q Qdisc) Qdisc {
	q.Words = optionWords(q.Kind, q.Options)
	switch q.Kind {
	case "netem":
		q.Netem = DecodeNetem(q.Options)
	case "prio":
		q.Prio = DecodePrio(q.Options)
	}
	return q
}

// ChangeQdisc implements Writer: RTM_NEWQDISC (add: create, exclusive; replace: create or
// replace) or RTM_DELQDISC.
func (Netlink) ChangeQdisc(c QdiscChange) error {
	l, err := linkByName(c.Iface)
	if err != nil {
		return err
	}
	msgType, flags := unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_EXCL
	switch c.Op {
	case QdiscReplace:
		flags = unix.NLM_F_CREATE | unix.NLM_F_REPLACE
	case QdiscDelete:
		msgType, flags = unix.RTM_DELQDISC, 0
	}
	req := nl.NewNetlinkRequest(msgType, flags|unix.NLM_F_ACK)
	req.AddData(&nl.TcMsg{Family: unix.AF_UNSPEC, Ifindex: int32(l.Attrs().Index), Handle: c.Handle, Parent: c.Parent})
	if c.Op != QdiscDelete {
		req.AddData(nl.NewRtAttr(unix.TCA_KIND, nl.ZeroTerminated(c.Kind)))
		if c.Options != nil {
			req.AddData(nl.NewRtAttr(unix.TCA_OPTIONS, c.Options))
		}
	}
	_, err = req.Execute(unix.NETLINK_ROUTE, 0)
	return rtnetlinkError(err)
}

// AddU32 implements Writer: RTM_NEWTFILTER of a u32 filter (the kernel picks its handle, in
// the hash table it makes for the priority), exclusive.
func (Netlink) AddU32(f FilterChange) error {
	l, err := linkByName(f.Iface)
	if err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWTFILTER, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	req.AddData(&nl.TcMsg{Family: unix.AF_UNSPEC, Ifindex: int32(l.Attrs().Index), Parent: f.Parent,
		Info: uint32(f.Priority)<<16 | uint32(nl.Swap16(f.Protocol))})
	req.AddData(nl.NewRtAttr(unix.TCA_KIND, nl.ZeroTerminated("u32")))
	opts := nl.NewRtAttr(unix.TCA_OPTIONS, nil)
	opts.AddRtAttr(nl.TCA_U32_CLASSID, nl.Uint32Attr(f.ClassID))
	opts.AddRtAttr(nl.TCA_U32_SEL, u32Selector(f.Keys))
	req.AddData(opts)
	_, err = req.Execute(unix.NETLINK_ROUTE, 0)
	return rtnetlinkError(err)
}

// rtnetlinkError words a refusal as tc does ("RTNETLINK answers: ..."), keeping the errno.
func rtnetlinkError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("RTNETLINK answers: %w", err)
}

// Filters implements StateReader.
func (Netlink) Filters(iface string, parent uint32) ([]Filter, error) {
	l, err := linkByName(iface)
	if err != nil {
		return nil, err
	}
	fs, err := netlink.FilterList(l, parent)
	if err != nil {
		return nil, fmt.Errorf("listing filters of %s on %s: %w", HandleString(parent), iface, err)
	}
	out := make([]Filter, 0, len(fs))
	for _, f := range fs {
		a := f.Attrs()
		kf := Filter{Iface: iface, Kind: f.Type(), Parent: a.Parent, Protocol: a.Protocol, Priority: a.Priority, Handle: a.Handle}
		if u, ok := f.(*netlink.U32); ok {
			kf.ClassID = u.ClassId
		}
		out = append(out, kf)
	}
	return out, nil
}

// Families implements StateReader.
func (Netlink) Families(iface string) ([]int, error) {
	l, err := linkByName(iface)
	if err != nil {
		return nil, err
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", iface, err)
	}
	var has4, has6 bool
	for _, a := range addrs {
		if a.IP == nil {
			continue
		}
		if a.IP.To4() != nil {
			has4 = true
		} else if !a.IP.IsLinkLocalUnicast() {
			has6 = true
		}
	}
	var out []int
	if has4 {
		out = append(out, 4)
	}
	if has6 {
		out = append(out, 6)
	}
	return out, nil
}

// DefaultInterface implements StateReader.
func (Netlink) DefaultInterface() (string, error) {
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := netlink.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return "", fmt.Errorf("listing routes: %w", err)
		}
		for _, r := range routes {
			if !isDefault(r.Dst) {
				continue
			}
			index := r.LinkIndex
			if index == 0 && len(r.MultiPath) > 0 {
				index = r.MultiPath[0].LinkIndex
			}
			if index == 0 {
				continue
			}
			l, err := netlink.LinkByIndex(index)
			if err != nil {
				continue
			}
			return l.Attrs().Name, nil
		}
	}
	return "", errors.New("no default route in this network namespace")
}

func isDefault(dst *net.IPNet) bool {
	if dst == nil {
		return true
	}
	ones, _ := dst.Mask.Size()
	return ones == 0 && dst.IP.IsUnspecified()
}

// tcpEstablished is TCP_ESTABLISHED in sock_diag's states.
const tcpEstablished = 1

// Connections implements StateReader.
func (Netlink) Connections(port int) ([]Conn, error) {
	var out []Conn
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		socks, err := netlink.SocketDiagTCP(family)
		if err != nil {
			if family == unix.AF_INET6 && errors.Is(err, unix.EAFNOSUPPORT) {
				continue
			}
			return nil, fmt.Errorf("listing TCP sockets (sock_diag): %w", err)
		}
		for _, s := range socks {
			if s.State != tcpEstablished || int(s.ID.SourcePort) != port {
				continue
			}
			l, ok1 := netip.AddrFromSlice(s.ID.Source)
			r, ok2 := netip.AddrFromSlice(s.ID.Destination)
			if !ok1 || !ok2 {
				continue
			}
			if family == unix.AF_INET {
				// net.IPv4 is 16 bytes; an IPv6 socket keeps its (maybe v4-mapped) spelling
				l, r = l.Unmap(), r.Unmap()
			}
			out = append(out, Conn{Local: netip.AddrPortFrom(l, s.ID.SourcePort), Remote: netip.AddrPortFrom(r, s.ID.DestinationPort)})
		}
	}
	return out, nil
}

// sockDestroy is SOCK_DESTROY of sock_diag (linux/sock_diag.h).
const sockDestroy = 21

// DestroyConnections implements Writer: it asks the kernel to destroy each established TCP
// connection (sock_diag's SOCK_DESTROY, by its four-tuple, both families) — its peer sees a
// reset at once, as with `ss -K`. A kernel without CONFIG_INET_DIAG_DESTROY refuses
// (EOPNOTSUPP): destroyed counts what went, err says why the others did not.
func (Netlink) DestroyConnections(conns []Conn) (destroyed int, err error) {
	for _, c := range conns {
		req := nl.NewNetlinkRequest(sockDestroy, unix.NLM_F_ACK)
		req.AddRawData(sockDiagRequest(c))
		if _, e := req.Execute(unix.NETLINK_INET_DIAG, 0); e != nil {
			err = fmt.Errorf("destroying %s→%s: %w", c.Local, c.Remote, e)
			continue
		}
		destroyed++
	}
	return destroyed, err
}

// sockDiagRequest is struct inet_diag_req_v2 naming one established TCP socket: family,
// protocol, ext, pad, states, then inet_diag_sockid (ports and addresses in network order, the
// interface, and a cookie that matches any).
func sockDiagRequest(c Conn) []byte {
	b := make([]byte, 56)
	family := byte(unix.AF_INET6)
	local, remote := c.Local.Addr(), c.Remote.Addr()
	if local.Unmap().Is4() && remote.Unmap().Is4() {
		family, local, remote = unix.AF_INET, local.Unmap(), remote.Unmap()
	}
	b[0], b[1] = family, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(b[4:], 1<<tcpEstablished)
	binary.BigEndian.PutUint16(b[8:], c.Local.Port())
	binary.BigEndian.PutUint16(b[10:], c.Remote.Port())
	copy(b[12:28], local.AsSlice())
	copy(b[28:44], remote.AsSlice())
	binary.NativeEndian.PutUint32(b[48:], math.MaxUint32) // INET_DIAG_NOCOOKIE
	binary.NativeEndian.PutUint32(b[52:], math.MaxUint32)
	return b
}
