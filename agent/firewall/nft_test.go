package firewall

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

func texts(rs []kernel.NftRule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Text)
	}
	return out
}

func TestNftRulesWords(t *testing.T) {
	p := Partition{FaultID: "f1", Iface: "eth0"}
	rs, err := p.NftRules([]int{4, 6}, true)
	if err != nil || !reflect.DeepEqual(texts(rs), []string{
		"oifname @lease meta nfproto ipv4 counter drop",
		"oifname @lease meta nfproto ipv6 counter drop",
	}) {
		t.Fatalf("%q %v", texts(rs), err)
	}
	p.Scope = &protocol.Scope{Port: 80}
	rs, _ = p.NftRules([]int{4}, false)
	if !reflect.DeepEqual(texts(rs), []string{
		"iifname @lease meta nfproto ipv4 meta l4proto tcp th sport 80 counter drop",
		"iifname @lease meta nfproto ipv4 meta l4proto tcp th dport 80 counter drop",
		"iifname @lease meta nfproto ipv4 meta l4proto udp th sport 80 counter drop",
		"iifname @lease meta nfproto ipv4 meta l4proto udp th dport 80 counter drop",
	}) {
		t.Fatalf("%q", texts(rs))
	}
	p.Scope = &protocol.Scope{CIDR: "nope"}
	if _, err := p.NftRules([]int{4}, true); err == nil {
		t.Fatal("a bad CIDR accepted")
	}
}

// The expressions are what nft itself would send for the same words: the set lookup on the
// interface name, the family, the masked address, the port in network byte order.
func TestNftRuleExpressions(t *testing.T) {
	p := Partition{FaultID: "f1", Iface: "eth0", Scope: &protocol.Scope{CIDR: "192.0.2.0/24", Port: 443, Protocol: "tcp"}}
	rs, err := p.NftRules([]int{4}, true)
	if err != nil || len(rs) != 2 {
		t.Fatalf("%d rules, %v", len(rs), err)
	}
	want := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: "lease"},
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 255, 255, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{192, 0, 2, 0}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x01, 0xbb}},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
	if !reflect.DeepEqual(rs[1].Exprs, want) || rs[1].Text != "oifname @lease meta nfproto ipv4 ip daddr 192.0.2.0/24 meta l4proto tcp th dport 443 counter drop" {
		t.Fatalf("%s\n%#v", rs[1].Text, rs[1].Exprs)
	}
	// an IPv6 source address (input), one address: 16 bytes at offset 8, no mask
	p.Scope = &protocol.Scope{CIDR: "2001:db8::1"}
	rs, _ = p.NftRules([]int{6}, false)
	if pl, ok := rs[0].Exprs[4].(*expr.Payload); !ok || pl.Offset != 8 || pl.Len != 16 {
		t.Fatalf("%#v", rs[0].Exprs)
	}
	if c, ok := rs[0].Exprs[5].(*expr.Cmp); !ok || len(c.Data) != 16 || c.Data[15] != 1 {
		t.Fatalf("%#v", rs[0].Exprs)
	}
}

func TestNftTableOfAPartition(t *testing.T) {
	p := Partition{FaultID: "ab12-s1", Iface: "eth0"}
	tb, err := p.NftTable([]int{4}, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := "create table inet CHAOS-ab12-s1\n" +
		"add set inet CHAOS-ab12-s1 lease { type ifname; flags timeout; }\n" +
		"add element inet CHAOS-ab12-s1 lease { \"eth0\" timeout 16000ms }\n" +
		"add chain inet CHAOS-ab12-s1 output { type filter hook output priority 0; policy accept; }\n" +
		"add rule inet CHAOS-ab12-s1 output oifname @lease meta nfproto ipv4 counter drop\n" +
		"add chain inet CHAOS-ab12-s1 input { type filter hook input priority 0; policy accept; }\n" +
		"add rule inet CHAOS-ab12-s1 input iifname @lease meta nfproto ipv4 counter drop\n"
	if got := tb.CreateScript(); got != want {
		t.Fatalf("%s\nwant\n%s", got, want)
	}
	renew := kernel.RenewScript(tb.NftRef, LeaseElements("eth0", 30*time.Second))
	if renew != "delete element inet CHAOS-ab12-s1 lease { \"eth0\" }\nadd element inet CHAOS-ab12-s1 lease { \"eth0\" timeout 31000ms }\n" {
		t.Fatalf("%q", renew)
	}
	if k := NftKey(tb.NftRef); k.Table != "inet" || k.Name != "CHAOS-ab12-s1" || NftRefOf(k) != tb.NftRef {
		t.Fatalf("%+v", k)
	}
}

// The HTTP fault's nftables form: redirect to the proxy in a nat chain on prerouting, the reset
// of connections from before the fault on input; both only while the lease element is there.
func TestNftRedirect(t *testing.T) {
	r := Redirect{FaultID: "h1", Iface: "eth0", Port: 80, ProxyPort: 40000}
	tb := r.NftTable([]int{4, 6}, 10*time.Second)
	nat, filter := tb.Chains[0], tb.Chains[1]
	if nat.Type != nftables.ChainTypeNAT || nat.Hook != *nftables.ChainHookPrerouting || nat.Priority != *nftables.ChainPriorityNATDest || len(nat.Rules) != 2 {
		t.Fatalf("%+v", nat)
	}
	if nat.Rules[1].Text != "iifname @lease meta nfproto ipv6 meta l4proto tcp th dport 80 counter redirect to :40000" {
		t.Fatal(nat.Rules[1].Text)
	}
	last := nat.Rules[0].Exprs[len(nat.Rules[0].Exprs)-2:]
	if !reflect.DeepEqual(last, []expr.Any{&expr.Immediate{Register: 1, Data: []byte{0x9c, 0x40}}, &expr.Redir{RegisterProtoMin: 1}}) {
		t.Fatalf("%#v", last)
	}
	// per family: a family the fault does not cover (an interface without its addresses) keeps
	// its connections
	if len(filter.Rules) != 2 || filter.Rules[0].Text != "iifname @lease meta nfproto ipv4 meta l4proto tcp th dport 80 ct state established counter reject with tcp reset" {
		t.Fatalf("%q", texts(filter.Rules))
	}
	if only4 := r.NftTable([]int{4}, 10*time.Second); len(only4.Chains[1].Rules) != 1 || !strings.Contains(only4.Chains[1].Rules[0].Text, "ipv4") {
		t.Fatalf("%q", texts(only4.Chains[1].Rules))
	}
	ct := filter.Rules[0].Exprs[8:11]
	if !reflect.DeepEqual(ct, []expr.Any{&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, expr.CtStateBitESTABLISHED), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)}}) {
		t.Fatalf("%#v", filter.Rules[0].Exprs)
	}
	if rj, ok := filter.Rules[0].Exprs[len(filter.Rules[0].Exprs)-1].(*expr.Reject); !ok || rj.Type != unix.NFT_REJECT_TCP_RST {
		t.Fatalf("%#v", filter.Rules[0].Exprs)
	}
	if !strings.Contains(tb.CreateScript(), "add chain inet CHAOS-h1 prerouting { type nat hook prerouting priority -100; policy accept; }") {
		t.Fatal(tb.CreateScript())
	}
}

// The drain: the reset rules go and the redirects are replaced, in one transaction, by a rule
// that redirects nothing but needs conntrack (ct status dnat), as iptables' DrainRule does.
func TestNftDrainOfARedirect(t *testing.T) {
	r := Redirect{FaultID: "h1", Iface: "eth0", Port: 80, ProxyPort: 40000}
	drain := r.NftDrain()
	want := "flush chain inet CHAOS-h1 input\n" +
		"flush chain inet CHAOS-h1 prerouting\n" +
		"add rule inet CHAOS-h1 prerouting ct status dnat counter return\n"
	if got := kernel.ReplaceScript(NftRef("h1"), drain); got != want {
		t.Fatalf("%s\nwant\n%s", got, want)
	}
	exprs := drain[1].Rules[0].Exprs
	if ct, ok := exprs[0].(*expr.Ct); !ok || ct.Key != expr.CtKeySTATUS {
		t.Fatalf("%#v", exprs)
	}
	if bw, ok := exprs[1].(*expr.Bitwise); !ok || binary.NativeEndian.Uint32(bw.Mask) != 0x20 {
		t.Fatalf("%#v", exprs)
	}
}
