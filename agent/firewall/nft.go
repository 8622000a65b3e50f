package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"chaos-run/agent/kernel"
)

// A fault held through nftables lives in a table of its own, `inet CHAOS-<faultId>`, and
// expires in the kernel by itself: its rules match only packets whose interface is an element
// of the table's set `lease`, and that element has a timeout — the fault's lease plus
// ExpiryMargin — which the agent renews with each lease renewal. When nobody renews it (the
// runner and the agent both gone), the kernel drops the element and the rules match nothing;
// the empty table stays until an orphan scan or a sweep removes it.
//
// The agent's own lease ends first while renewals come: each renewal sets the element's
// timeout to lease + margin from the moment the kernel takes it, after the agent moved its own
// deadline to lease from its clock; the kernel counts in jiffies, rounding up. So the kernel
// never ends the fault before the agent would have, and it ends it within lease + margin of the
// last renewal when the agent cannot.

// LeaseSet is the set whose element the rules need.
const LeaseSet = "lease"

// ExpiryMargin is how long the kernel's copy of a lease outlives the agent's.
const ExpiryMargin = time.Second

// NftRef is a fault's table.
func NftRef(faultID string) kernel.NftRef {
	return kernel.NftRef{Family: nftables.TableFamilyINet, Name: ChainName(faultID)}
}

// LeaseElements is the lease set with the interface in it, for a lease.
func LeaseElements(iface string, lease time.Duration) kernel.NftSet {
	return kernel.NftSet{Name: LeaseSet, KeyType: nftables.TypeIFName, Timeout: true,
		Elements: []kernel.NftElement{{Key: kernel.IfnameKey(iface), Timeout: lease + ExpiryMargin}}}
}

// rule builds one rule's expressions and nft's words for them side by side, so the record says
// what the kernel holds. Register 1 carries each match's value.
type rule struct {
	exprs []expr.Any
	words []string
}

func (r *rule) add(words string, es ...expr.Any) {
	r.exprs = append(r.exprs, es...)
	r.words = append(r.words, words)
}

func (r *rule) cmp(data []byte) *expr.Cmp {
	return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data}
}

// leased matches packets of the interface in the lease set: out of it (oifname) or into it
// (iifname).
func (r *rule) leased(out bool) {
	key, word := expr.MetaKeyIIFNAME, "iifname"
	if out {
		key, word = expr.MetaKeyOIFNAME, "oifname"
	}
	r.add(word+" @"+LeaseSet, &expr.Meta{Key: key, Register: 1}, &expr.Lookup{SourceRegister: 1, SetName: LeaseSet})
}

// family matches one address family (needed before any network header field in an inet table).
func (r *rule) family(f int) {
	proto, word := byte(unix.NFPROTO_IPV4), "ipv4"
	if f == 6 {
		proto, word = unix.NFPROTO_IPV6, "ipv6"
	}
	r.add("meta nfproto "+word, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, r.cmp([]byte{proto}))
}

// ParseCIDR reads a scope's CIDR: a prefix, or one address.
func ParseCIDR(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		a, aerr := netip.ParseAddr(cidr)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("scope.cidr %q is not an address or a prefix", cidr)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p.Masked(), nil
}

// address matches the source or destination against a prefix.
func (r *rule) address(f int, dst bool, cidr string, p netip.Prefix) {
	var off uint32 = 12 // ip saddr; daddr at 16; ip6 saddr at 8, daddr at 24
	sel, dir := "ip", "saddr"
	if f == 6 {
		off, sel = 8, "ip6"
	}
	if dst {
		off += map[int]uint32{4: 4, 6: 16}[f]
		dir = "daddr"
	}
	addr := p.Addr().Unmap()
	n := uint32(addr.BitLen() / 8)
	es := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}}
	if p.Bits() < addr.BitLen() {
		es = append(es, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: prefixMask(p.Bits(), int(n)), Xor: make([]byte, n)})
	}
	es = append(es, r.cmp(addr.AsSlice()))
	r.add(sel+" "+dir+" "+cidr, es...)
}

func prefixMask(bits, n int) []byte {
	m := make([]byte, n)
	for i := 0; i < bits; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// l4 matches a transport protocol.
func (r *rule) l4(proto string) {
	r.add("meta l4proto "+proto, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, r.cmp([]byte{byte(map[string]int{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP}[proto])}))
}

// port matches the transport header's source or destination port (after l4).
func (r *rule) port(role string, port int) {
	var off uint32
	if role == "dport" {
		off = 2
	}
	r.add("th "+role+" "+strconv.Itoa(port),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
		r.cmp(binary.BigEndian.AppendUint16(nil, uint16(port))))
}

// ctBits matches a connection whose conntrack key (state, status) has any of bits.
func (r *rule) ctBits(words string, key expr.CtKey, bits uint32) {
	r.add("ct "+words,
		&expr.Ct{Key: key, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
}

func (r *rule) verdict(kind expr.VerdictKind, word string) {
	r.add("counter "+word, &expr.Counter{}, &expr.Verdict{Kind: kind})
}

func (r *rule) done() kernel.NftRule {
	return kernel.NftRule{Exprs: r.exprs, Text: strings.Join(r.words, " ")}
}

// NftRules are a partition's drop rules for one direction (out: the output chain), in the
// families given: per family, per protocol (a port without a protocol covers tcp and udp), per
// port role (a port is the source's or the destination's, as iptables' multiport --ports).
func (p Partition) NftRules(families []int, out bool) ([]kernel.NftRule, error) {
	s := p.Scope
	var prefix netip.Prefix
	if s != nil && s.CIDR != "" {
		var err error
		if prefix, err = ParseCIDR(s.CIDR); err != nil {
			return nil, err
		}
	}
	protocols := []string{""}
	switch {
	case s != nil && s.Protocol != "":
		protocols = []string{s.Protocol}
	case s != nil && s.Port != 0:
		protocols = []string{"tcp", "udp"}
	}
	roles := []string{""}
	if s != nil && s.Port != 0 {
		roles = []string{"sport", "dport"}
	}
	var rules []kernel.NftRule
	for _, f := range families {
		for _, proto := range protocols {
			for _, role := range roles {
				var r rule
				r.leased(out)
				r.family(f)
				if s != nil && s.CIDR != "" {
					r.address(f, out, s.CIDR, prefix)
				}
				if proto != "" {
					r.l4(proto)
				}
				if role != "" {
					r.port(role, s.Port)
				}
				r.verdict(expr.VerdictDrop, "drop")
				rules = append(rules, r.done())
			}
		}
	}
	return rules, nil
}

// NftTable is the partition's table: the lease set with the interface in it for lease (+ the
// margin), and a base chain on output and on input, at the filter priority, with the drop
// rules.
func (p Partition) NftTable(families []int, lease time.Duration) (*kernel.NftTable, error) {
	t := &kernel.NftTable{NftRef: NftRef(p.FaultID), Sets: []kernel.NftSet{LeaseElements(p.Iface, lease)}}
	for _, c := range []struct {
		name string
		hook *nftables.ChainHook
		out  bool
	}{{"output", nftables.ChainHookOutput, true}, {"input", nftables.ChainHookInput, false}} {
		rules, err := p.NftRules(families, c.out)
		if err != nil {
			return nil, err
		}
		t.Chains = append(t.Chains, kernel.NftChain{Name: c.name, Type: nftables.ChainTypeFilter, Hook: *c.hook, Priority: *nftables.ChainPriorityFilter, Rules: rules})
	}
	return t, nil
}
