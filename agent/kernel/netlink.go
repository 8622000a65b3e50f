package kernel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink reads the kernel over netlink, in the network namespace of the calling process.
type Netlink struct{}

var _ Reader = Netlink{}

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

// Links implements Reader.
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

// Qdiscs implements Reader.
func (n Netlink) Qdiscs(iface string) ([]Qdisc, error) {
	var link netlink.Link
	names := map[int]string{}
	if iface != "" {
		l, err := linkByName(iface)
		if err != nil {
			return nil, err
		}
		link = l
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
	qs, err := netlink.QdiscList(link)
	if err != nil {
		return nil, fmt.Errorf("listing qdiscs: %w", err)
	}
	out := make([]Qdisc, 0, len(qs))
	for _, q := range qs {
		a := q.Attrs()
		name, ok := names[a.LinkIndex]
		if !ok {
			continue // a link that came and went while we read
		}
		kq := Qdisc{Iface: name, Kind: q.Type(), Handle: a.Handle, Parent: a.Parent}
		switch v := q.(type) {
		case *netlink.Netem:
			tick := netlink.TickInUsec()
			if tick <= 0 {
				tick = 1
			}
			kq.Netem = &NetemOptions{
				LatencyUs: float64(v.Latency) / tick,
				JitterUs:  float64(v.Jitter) / tick,
				LossPct:   float64(v.Loss) / float64(^uint32(0)) * 100,
				Limit:     v.Limit,
			}
		case *netlink.Prio:
			kq.Prio = &PrioOptions{Bands: int(v.Bands), Priomap: v.PriorityMap}
		}
		out = append(out, kq)
	}
	return out, nil
}

// Filters implements Reader.
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

// Families implements Reader.
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

// DefaultInterface implements Reader.
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

// Connections implements Reader.
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
