// Package kernel is the agent's way to the network namespace's kernel state, over netlink in its
// own process: it reads links, their address families, the default route's interface, qdiscs
// and tc filters back as typed values, and it makes the changes faults need — qdiscs and u32
// filters over rtnetlink (tc.go), tables over nftables' netlink (nft.go) — each of which the
// caller records, as the tc or nft command line that would do the same, with exec.Done. The real
// Kernel is Netlink; tests use a fake (internal/fakekernel).
package kernel

import (
	"errors"
	"fmt"
	"net/netip"
)

// HandleRoot is the parent of a root qdisc (TC_H_ROOT); HandleIngress that of ingress/clsact.
const (
	HandleRoot    uint32 = 0xFFFFFFFF
	HandleIngress uint32 = 0xFFFFFFF1
)

// ErrNoInterface: no link of that name in this network namespace.
var ErrNoInterface = errors.New("no such interface in this network namespace")

// Link is a network interface.
type Link struct {
	Name  string
	Index int
}

// Qdisc is one queueing discipline as the kernel holds it.
type Qdisc struct {
	Iface  string
	Kind   string
	Handle uint32 // major<<16 | minor (minor is 0 for qdiscs)
	Parent uint32 // HandleRoot for the root qdisc
	// Options is its TCA_OPTIONS as the kernel dumps them: what re-creates it (a qdisc's dump
	// holds its configuration in the form its change takes it), and what a re-created one is
	// compared with.
	Options []byte
	// Words are its options in tc's words, where the agent can tell them (netem, prio, tbf,
	// the fifos); nil otherwise.
	Words []string
	// Stab: it has a size table (tc's `stab`/`linklayer`), which a dump does not give back whole.
	Stab  bool
	Netem *NetemOptions
	Prio  *PrioOptions
}

// NetemOptions are what netlink reads back of a netem qdisc.
type NetemOptions struct {
	LatencyUs float64
	JitterUs  float64
	LossPct   float64
	Limit     uint32
}

// PrioOptions are what netlink reads back of a prio qdisc.
type PrioOptions struct {
	Bands   int
	Priomap [16]uint8
}

// Major is the handle's major number (the `c000` of `c000:`).
func (q Qdisc) Major() uint16 { return uint16(q.Handle >> 16) }

// IsRoot: the qdisc is the interface's (egress) root.
func (q Qdisc) IsRoot() bool { return q.Parent == HandleRoot }

// IsIngress: ingress or clsact, which sit beside the egress tree, not in it.
func (q Qdisc) IsIngress() bool {
	return q.Parent == HandleIngress || q.Kind == "ingress" || q.Kind == "clsact"
}

// IsDefault: the qdisc the kernel gives an interface by itself (handle 0:, e.g. noqueue,
// pfifo_fast, mq and its children, or the fq_codel default).
func (q Qdisc) IsDefault() bool { return q.Major() == 0 }

// Filter is one tc filter.
type Filter struct {
	Iface    string
	Kind     string
	Parent   uint32
	Protocol uint16 // ETH_P_IP, ETH_P_IPV6, ...
	Priority uint16
	Handle   uint32
	ClassID  uint32 // where it sends what it matches (u32 flowid)
}

// Kernel is what the agent reads and changes: StateReader, Writer (tc) and Nftables.
type Kernel interface {
	StateReader
	Writer
	Nftables
}

// Reader is Kernel, under the name the packages that wire the agent use (fault.Env,
// service.Config): from when the agent only read the kernel and forked tc to change it.
type Reader = Kernel

// StateReader reads kernel state.
type StateReader interface {
	// Links lists the interfaces.
	Links() ([]Link, error)
	// Qdiscs lists the qdiscs of one interface, or of all when iface is "".
	Qdiscs(iface string) ([]Qdisc, error)
	// Filters lists the filters attached to parent (a qdisc handle) on iface.
	Filters(iface string, parent uint32) ([]Filter, error)
	// Families says which address families iface has an address of: 4 for any IPv4 address,
	// 6 for a non-link-local IPv6 one.
	Families(iface string) ([]int, error)
	// DefaultInterface is the interface of the default route (IPv4, else IPv6).
	DefaultInterface() (string, error)
	// Connections lists the established TCP connections whose local port is port (both
	// families; sock_diag).
	Connections(port int) ([]Conn, error)
}

// Conn is one established TCP connection, as this namespace's side sees it.
type Conn struct {
	Local  netip.AddrPort
	Remote netip.AddrPort
}

// FromElsewhere: the connection comes from outside the pod (not over loopback, not from one of
// the pod's own addresses to itself).
func (c Conn) FromElsewhere() bool {
	l, r := c.Local.Addr().Unmap(), c.Remote.Addr().Unmap()
	return !l.IsLoopback() && !r.IsLoopback() && l != r
}

// HandleString is tc's spelling of a qdisc handle: `c000:`.
func HandleString(h uint32) string {
	if h == HandleRoot {
		return "root"
	}
	if h&0xFFFF == 0 {
		return fmt.Sprintf("%x:", h>>16)
	}
	return fmt.Sprintf("%x:%x", h>>16, h&0xFFFF)
}

// MakeHandle builds a handle from major and minor.
func MakeHandle(major, minor uint16) uint32 { return uint32(major)<<16 | uint32(minor) }
