package firewall

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"chaos-run/agent/exec"
	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

// DNSRedirect is a dns fault's redirect, held through nftables only, in the fault's table `inet
// CHAOS-<faultId>` that expires in the kernel like an HTTP fault's: the lease set with the
// interface in it, and a nat chain on output (priority dstnat) in which the pod's own queries —
// what its processes send out of the interface to port 53, except the packets of sockets with
// the agent's mark (its resolver's own queries to the nameservers) — are redirected to the
// resolver on loopback:
//   - TCP to any address, to TCPPort (the resolver reads each connection's original
//     destination back with SO_ORIGINAL_DST);
//   - UDP to one of the pod's nameservers, to that nameserver's own port (a redirected datagram
//     carries no original destination a socket could read, so the port says which it was).
//
// Each redirected flow's conntrack entry gets FlowMark in the bits of FlowMask of its ct mark
// (the other bits kept): after the table is gone those entries still hold the NAT to the
// resolver's port (a UDP socket that keeps its source port keeps its entry, 30 s idle), which
// the kernel applies again as soon as any nat chain is back in the namespace — the next dns
// fault's, an HTTP fault's, a mesh's — so the revert deletes them (ForgetRedirected).
type DNSRedirect struct {
	FaultID string
	Iface   string
	Mark    uint32
	TCPPort int
	UDP     []UDPRedirect
}

// UDPRedirect is one nameserver's UDP queries and the resolver's port for them.
type UDPRedirect struct {
	Nameserver netip.Addr
	Port       int
}

// DNSChain is a dns fault's nat chain.
const DNSChain = "output"

// FlowMark in the bits of FlowMask of the ct mark: a flow a dns fault redirected. Bits 16–23
// ("D"): the low 12 bits are Istio's (0x111/0xfff in ambient mode) and other meshes keep to the
// low bits or the packet mark; the agent's own packet mark (fault.DNSMark, 0x43484153) has
// 0x48 there, so a mesh that saves packet marks into ct marks does not make the resolver's
// own flows look redirected. Only these 8 bits are written, only on the pod's port-53 flows.
const (
	FlowMark uint32 = 0x00440000
	FlowMask uint32 = 0x00ff0000
)

// markFlow sets FlowMark in the connection's ct mark, the bits outside FlowMask kept.
func (r *rule) markFlow() {
	r.add(fmt.Sprintf("ct mark set ct mark & 0x%08x | 0x%08x", ^FlowMask, FlowMark),
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, ^FlowMask), Xor: binary.NativeEndian.AppendUint32(nil, FlowMark)},
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true})
}

// ForgetRedirected deletes the conntrack entries of the flows a dns fault redirected (FlowMark
// under FlowMask, every family; one ctnetlink message), and records it in ex as the conntrack
// command line that does the same. Called with no dns fault's table in the namespace (after the
// revert removed it; before a dns fault is applied, for an orphan's), when every such entry is
// stale. A kernel that cannot (no conntrack netlink) says why in the error.
func ForgetRedirected(ex exec.Executor, k kernel.Nftables) error {
	ct, ok := k.(kernel.Conntrack)
	if !ok {
		return nil // not a real kernel: no conntrack table
	}
	start := time.Now()
	err := ct.ForgetMarked(FlowMark, FlowMask)
	return exec.Done(ex, kernel.ForgetMarkedArgv(FlowMark, FlowMask), "", time.Since(start), err)
}

// ForgetEarlierQueries deletes the conntrack entries of the pod's UDP flows to port 53 of the
// redirected nameservers that the redirect did not mark: flows begun before the table was made.
// A flow's NAT is decided at its first packet, so without this a socket that keeps its source
// port (c-ares, a caching sidecar, a resolver library's long-lived socket) would keep asking the
// nameserver directly, unfaulted, for as long as its entry lives (30 s idle, renewed by each
// query). Once its entry is gone its next query is a new flow, which the fault's nat chain
// redirects. Called with the table in place (an entry deleted before it would be made again,
// unredirected, by the next query). Left alone:
//   - the resolver's own sockets forwarding now (own: their packets carry the agent's mark, so
//     their entries are not the redirect's to change; deleting one would make its answer arrive
//     as a new flow, which a pod's firewall may drop);
//   - TCP: an entry deleted under a connection in progress makes its next segment a new flow,
//     which the redirect would send mid-stream to the resolver's port, where no such connection
//     exists: a reset, a failed query even for names the fault does not match — more harm than
//     asked. Its queries pass unfaulted until it closes (DNS over TCP is short-lived; servers
//     close idle connections within seconds), and its next connection is redirected.
//
// It returns how many entries it deleted, and records one conntrack command line per nameserver
// (the nearest one: conntrack(8) cannot leave out the marked entries and the resolver's).
func ForgetEarlierQueries(ex exec.Executor, k kernel.Nftables, d DNSRedirect, own func(netip.AddrPort) bool) (int, error) {
	ct, ok := k.(kernel.Conntrack)
	if !ok {
		return 0, nil // not a real kernel: no conntrack table
	}
	deleted := 0
	var errs []error
	for _, family := range []int{4, 6} {
		var servers []netip.Addr
		for _, u := range d.UDP {
			if familyOf(u.Nameserver) == family {
				servers = append(servers, u.Nameserver)
			}
		}
		if len(servers) == 0 {
			continue
		}
		start := time.Now()
		n, err := ct.ForgetFlows(family, func(f kernel.Flow) bool {
			return f.Proto == unix.IPPROTO_UDP && f.Dst.Port() == 53 && slices.Contains(servers, f.Dst.Addr()) &&
				f.Mark&FlowMask != FlowMark && !own(f.Src)
		})
		deleted += n
		for _, s := range servers {
			_ = exec.Done(ex, []string{"conntrack", "-D", "-p", "udp", "--orig-dst", s.String(), "--orig-port-dst", "53"}, "", time.Since(start), err)
		}
		errs = append(errs, err)
	}
	return deleted, errors.Join(errs...)
}

// EarlierQueriesWords is ForgetEarlierQueries' outcome for an apply's detail.
func EarlierQueriesWords(deleted int, err error) string {
	if err != nil {
		return fmt.Sprintf("; the conntrack entries of UDP queries begun before the fault not all deleted (%d were; the others' sockets stay unfaulted until their entries expire, 30 s idle): %v", deleted, err)
	}
	return fmt.Sprintf("; %d conntrack entries of UDP queries begun before the fault deleted (their sockets' next queries are redirected)", deleted)
}

// ForgetWords is ForgetRedirected's outcome for a revert's detail.
func ForgetWords(err error) string {
	if err != nil {
		return "; the redirected flows' conntrack entries not deleted (they expire by themselves, 30 s idle): " + err.Error()
	}
	return "; the redirected flows' conntrack entries deleted"
}

// marksFlows: a table read back has markFlow's rule (a dns fault's), told by its bitwise
// operation (google/nftables reads a ct expression back without its source register).
func marksFlows(t *kernel.NftTable) bool {
	mask, xor := binary.NativeEndian.AppendUint32(nil, ^FlowMask), binary.NativeEndian.AppendUint32(nil, FlowMark)
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for _, e := range r.Exprs {
				if b, ok := e.(*expr.Bitwise); ok && bytes.Equal(b.Mask, mask) && bytes.Equal(b.Xor, xor) {
					return true
				}
			}
		}
	}
	return false
}

// NftRevertOrphan is NftRevert for a table no live agent holds: a dns fault's (its rules mark
// the flows they redirect) also has its flows' conntrack entries deleted once it is gone.
func NftRevertOrphan(ex exec.Executor, k kernel.Nftables, ref kernel.NftRef) ([]protocol.KernelObject, string) {
	t, err := k.NftRead(ref)
	dnsFault := err == nil && marksFlows(t)
	remaining, detail := NftRevert(ex, k, ref)
	if dnsFault && len(remaining) == 0 {
		detail += ForgetWords(ForgetRedirected(ex, k))
	}
	return remaining, detail
}

// notMarked matches packets whose mark is not the agent's.
func (r *rule) notMarked(mark uint32) {
	r.add("meta mark != 0x"+strconv.FormatUint(uint64(mark), 16), &expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, mark)})
}

func (r *rule) redirectTo(port int) {
	r.add("counter redirect to :"+strconv.Itoa(port), &expr.Counter{},
		&expr.Immediate{Register: 1, Data: binary.BigEndian.AppendUint16(nil, uint16(port))},
		&expr.Redir{RegisterProtoMin: 1})
}

// NftTable is the fault's table: the TCP redirect in each family, the UDP one per nameserver of
// those families.
func (d DNSRedirect) NftTable(families []int, lease time.Duration) *kernel.NftTable {
	var rules []kernel.NftRule
	for _, f := range families {
		var r rule
		r.leased(true)
		r.family(f)
		r.l4("tcp")
		r.port("dport", 53)
		r.notMarked(d.Mark)
		r.markFlow()
		r.redirectTo(d.TCPPort)
		rules = append(rules, r.done())
		for _, u := range d.UDP {
			if familyOf(u.Nameserver) != f {
				continue
			}
			var r rule
			r.leased(true)
			r.family(f)
			r.l4("udp")
			r.address(f, true, u.Nameserver.String(), netip.PrefixFrom(u.Nameserver, u.Nameserver.BitLen()))
			r.port("dport", 53)
			r.notMarked(d.Mark)
			r.markFlow()
			r.redirectTo(u.Port)
			rules = append(rules, r.done())
		}
	}
	return &kernel.NftTable{
		NftRef: NftRef(d.FaultID),
		Sets:   []kernel.NftSet{LeaseElements(d.Iface, lease)},
		Chains: []kernel.NftChain{{Name: DNSChain, Type: nftables.ChainTypeNAT, Hook: *nftables.ChainHookOutput, Priority: *nftables.ChainPriorityNATDest, Rules: rules}},
	}
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}
