package firewall

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"chaos-run/agent/kernel"
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
