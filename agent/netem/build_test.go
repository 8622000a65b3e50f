package netem

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

func f(v float64) *float64 { return &v }

func argvs(steps []Step) [][]string {
	var out [][]string
	for _, s := range steps {
		out = append(out, s.Argv())
	}
	return out
}

func eq(t *testing.T, got, want [][]string) {
	t.Helper()
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("argv\n%q\nwant\n%q", got, want)
	}
}

func mustEncode(t *testing.T, p protocol.NetemParams) Params {
	t.Helper()
	e, err := Encode(&p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEncodeWords(t *testing.T) {
	for _, tc := range []struct {
		p    protocol.NetemParams
		want []string
	}{
		{protocol.NetemParams{DelayMs: f(100)}, []string{"delay", "100ms"}},
		{protocol.NetemParams{DelayMs: f(1.5)}, []string{"delay", "1500us"}},
		{protocol.NetemParams{DelayMs: f(100), JitterMs: f(10), Correlation: f(25), Distribution: "normal"}, []string{"delay", "100ms", "10ms", "25%", "distribution", "normal"}},
		// uniform is netem's own jitter: no table, and tc has none to name
		{protocol.NetemParams{DelayMs: f(100), JitterMs: f(10), Distribution: "uniform"}, []string{"delay", "100ms", "10ms"}},
		{protocol.NetemParams{Loss: f(0.5), Duplicate: f(1), Corrupt: f(2), DelayMs: f(10), Reorder: f(25), Rate: "1mbit"},
			[]string{"delay", "10ms", "loss", "0.5%", "duplicate", "1%", "corrupt", "2%", "reorder", "25%", "rate", "1mbit"}},
	} {
		if got := mustEncode(t, tc.p).Words; !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.p, got, tc.want)
		}
	}
	if _, err := Encode(&protocol.NetemParams{}); err == nil {
		t.Error("empty params accepted")
	}
	if _, err := Encode(&protocol.NetemParams{Rate: "fast"}); err == nil {
		t.Error("a rate not in tc's syntax accepted")
	}
}

// attrs reads the attributes after struct tc_netem_qopt.
func attrs(t *testing.T, raw []byte) map[uint16][]byte {
	t.Helper()
	out := map[uint16][]byte{}
	for _, a := range kernel.ParseAttrs(raw[kernel.NetemQoptSize:]) {
		out[a.Type] = a.Data
	}
	return out
}

// The options are what tc sends: the qopt (ticks of 64 ns, a 1000-packet queue, probabilities
// as fractions of 2^32-1), the 64-bit times, correlation, the distribution table, reorder's gap.
func TestEncodeRaw(t *testing.T) {
	e := mustEncode(t, protocol.NetemParams{DelayMs: f(100), JitterMs: f(10), Correlation: f(25), Distribution: "pareto", Loss: f(50), Reorder: f(10), Corrupt: f(1)})
	u32 := func(i int) uint32 { return binary.NativeEndian.Uint32(e.Raw[4*i:]) }
	if u32(0) != 100e6/64 || u32(1) != 1000 || u32(2) != math.MaxUint32/2+1 || u32(3) != 1 || u32(4) != 0 || u32(5) != 10e6/64 {
		t.Fatalf("qopt %v", e.Raw[:24])
	}
	a := attrs(t, e.Raw)
	if binary.NativeEndian.Uint64(a[kernel.NetemLatency64]) != 100e6 || binary.NativeEndian.Uint64(a[kernel.NetemJitter64]) != 10e6 {
		t.Fatal("64-bit times")
	}
	if binary.NativeEndian.Uint32(a[kernel.NetemCorr]) != uint32(math.RoundToEven(0.25*math.MaxUint32)) || len(a[kernel.NetemCorr]) != 12 {
		t.Fatal("correlation")
	}
	if len(a[kernel.NetemDelayDist]) != 2*4096 || len(a[kernel.NetemReorder]) != 8 || len(a[kernel.NetemCorrupt]) != 8 {
		t.Fatalf("dist %d, reorder %d, corrupt %d bytes", len(a[kernel.NetemDelayDist]), len(a[kernel.NetemReorder]), len(a[kernel.NetemCorrupt]))
	}
	// the kernel side reads the same back
	n := kernel.DecodeNetem(e.Raw)
	if n.LatencyUs != 100000 || n.JitterUs != 10000 || math.Abs(n.LossPct-50) > 1e-6 || n.Limit != 1000 {
		t.Fatalf("decoded %+v", n)
	}
}

func TestRates(t *testing.T) {
	for _, tc := range []struct {
		rate string
		want uint64
	}{{"1mbit", 125000}, {"500kbit", 62500}, {"10mbps", 10e6}, {"1Mbit", 125000}, {"2kibit", 256}, {"1.5gbit", 187500000}, {"8bit", 1}} {
		if got, err := RateBytes(tc.rate); err != nil || got != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.rate, got, err, tc.want)
		}
	}
	e := mustEncode(t, protocol.NetemParams{Rate: "40gbit"})
	a := attrs(t, e.Raw)
	if binary.NativeEndian.Uint64(a[kernel.NetemRate64]) != 5e9 || binary.NativeEndian.Uint32(a[kernel.NetemRate]) != math.MaxUint32 {
		t.Fatal("a rate over 2^32 bytes/s goes in RATE64, RATE saturated")
	}
}

func TestUnscoped(t *testing.T) {
	l := Layout{Iface: "eth0", Major: 0xc000, Params: mustEncode(t, protocol.NetemParams{DelayMs: f(100)}), Families: []int{4}}
	eq(t, argvs(l.Steps()), [][]string{{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "100ms"}})
	rs := RevertSteps("eth0", 0xc000, nil)
	if len(rs) != 1 || !slices.Equal(rs[0].Argv(), []string{"tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"}) || rs[0].Handle != 0xc0000000 {
		t.Fatalf("revert %+v", rs)
	}
	if Majors(nil) != 1 || l.NetemMajor() != 0xc000 {
		t.Fatal("majors")
	}
}

func TestScopedCIDRv6AndProtocol(t *testing.T) {
	l := Layout{Iface: "eth0", Major: 0xc010, Params: mustEncode(t, protocol.NetemParams{Loss: f(5)}), Families: []int{6},
		Scope: &protocol.Scope{CIDR: "2001:db8::/32", Protocol: "udp"}}
	eq(t, argvs(l.Steps()), [][]string{
		{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c010:", "prio", "bands", "4", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"},
		{"tc", "qdisc", "add", "dev", "eth0", "parent", "c010:4", "handle", "c011:", "netem", "loss", "5%"},
		{"tc", "filter", "add", "dev", "eth0", "parent", "c010:", "protocol", "ipv6", "prio", "1", "u32", "match", "ip6", "dst", "2001:db8::/32", "match", "ip6", "protocol", "17", "0xff", "flowid", "c010:4"},
	})
	// tc's keys: the first 32 bits of the destination (offset 24), the next header (byte 6)
	fs := l.Filters()
	want := []kernel.U32Key{{Val: 0x20010db8, Mask: 0xffffffff, Off: 24}, {Val: 17 << 8, Mask: 0xff00, Off: 4}}
	if !slices.Equal(fs[0].Keys, want) || fs[0].Protocol != kernel.EthPIPv6 || fs[0].ClassID != 0xc0100004 || fs[0].Parent != 0xc0100000 {
		t.Fatalf("filter %+v", fs[0])
	}
	if Majors(l.Scope) != 2 || l.NetemMajor() != 0xc011 {
		t.Fatal("majors")
	}
	prio := kernel.DecodePrio(l.Steps()[0].Qdisc.Options)
	if prio.Bands != 4 || prio.Priomap != PriomapPlain {
		t.Fatalf("prio %+v", prio)
	}
}

func TestScopedPortBothFamilies(t *testing.T) {
	l := Layout{Iface: "net1", Major: 0xc000, Params: mustEncode(t, protocol.NetemParams{DelayMs: f(5)}), Families: []int{4, 6}, Scope: &protocol.Scope{Port: 8080}}
	fs := l.Filters()
	var got [][]string
	for _, f := range fs {
		got = append(got, f.Argv())
	}
	eq(t, got, [][]string{
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "sport", "8080", "0xffff", "flowid", "c000:4"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ip", "prio", "2", "u32", "match", "ip", "dport", "8080", "0xffff", "flowid", "c000:4"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ipv6", "prio", "3", "u32", "match", "ip6", "sport", "8080", "0xffff", "flowid", "c000:4"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ipv6", "prio", "4", "u32", "match", "ip6", "dport", "8080", "0xffff", "flowid", "c000:4"},
	})
	// sport is the high half of the word at 20 (IPv4) or 40 (IPv6), dport the low half
	for i, want := range []kernel.U32Key{{Val: 8080 << 16, Mask: 0xffff0000, Off: 20}, {Val: 8080, Mask: 0xffff, Off: 20}, {Val: 8080 << 16, Mask: 0xffff0000, Off: 40}, {Val: 8080, Mask: 0xffff, Off: 40}} {
		if !slices.Equal(fs[i].Keys, []kernel.U32Key{want}) {
			t.Errorf("filter %d keys %+v, want %+v", i, fs[i].Keys, want)
		}
	}
	objs := l.Objects()
	if len(objs) != 6 || objs[0].Name != "c000:" || objs[1].Name != "c001:" || objs[2].Type != protocol.ObjFilter || objs[5].Family != 6 || objs[2].Detail != "u32 match ip sport 8080 0xffff flowid c000:4" {
		t.Fatalf("objects %+v", objs)
	}
}

func TestCIDRKeysAsTcPacksThem(t *testing.T) {
	for _, tc := range []struct {
		family int
		cidr   string
		want   []kernel.U32Key
	}{
		{4, "192.0.2.0/24", []kernel.U32Key{{Val: 0xc0000200, Mask: 0xffffff00, Off: 16}}},
		{4, "192.0.2.7", []kernel.U32Key{{Val: 0xc0000207, Mask: 0xffffffff, Off: 16}}},
		{6, "2001:db8:1:2::/72", []kernel.U32Key{{Val: 0x20010db8, Mask: 0xffffffff, Off: 24}, {Val: 0x00010002, Mask: 0xffffffff, Off: 28}, {Val: 0, Mask: 0xff000000, Off: 32}}},
	} {
		var s selector
		s.prefix(offsets[tc.family], tc.cidr)
		if !slices.Equal(s.keys, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.cidr, s.keys, tc.want)
		}
	}
	// a protocol and a port on one word merge, as tc merges them
	var s selector
	s.key(6, 0xff, 9, 1)
	s.key(7, 0xff, 8, 1)
	if !slices.Equal(s.keys, []kernel.U32Key{{Val: 0x07060000, Mask: 0xffff0000, Off: 8}}) {
		t.Fatalf("%+v", s.keys)
	}
}

func TestForeignNesting(t *testing.T) {
	tbf := kernel.Qdisc{Kind: "tbf", Handle: 0x80010000, Parent: kernel.HandleRoot, Options: []byte{1, 2, 3, 4}, Words: []string{"rate", "8000000bit"}}
	fr := ForeignOf(tbf)
	if fr.Shown() != "tbf 8001: rate 8000000bit" || !fr.Same(tbf) {
		t.Fatalf("foreign %+v", fr)
	}
	l := Layout{Iface: "eth0", Major: 0xc000, Params: mustEncode(t, protocol.NetemParams{DelayMs: f(1)}), Families: []int{4}, Foreign: fr}
	eq(t, argvs(l.Steps()), [][]string{
		{"tc", "qdisc", "replace", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "1ms"},
		{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:1", "handle", "8001:", "tbf", "rate", "8000000bit"},
	})
	if nested := l.Steps()[1].Qdisc; !slices.Equal(nested.Options, tbf.Options) {
		t.Fatal("the nested copy is not made from the dump")
	}
	l.Scope = &protocol.Scope{Port: 80}
	eq(t, argvs(l.Steps())[:3], [][]string{
		{"tc", "qdisc", "replace", "dev", "eth0", "root", "handle", "c000:", "prio", "bands", "4", "priomap", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"},
		{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:1", "handle", "8001:", "tbf", "rate", "8000000bit"},
		{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:4", "handle", "c001:", "netem", "delay", "1ms"},
	})
	var back [][]string
	for _, c := range RevertSteps("eth0", 0xc000, fr) {
		back = append(back, c.Argv())
	}
	eq(t, back, [][]string{
		{"tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"},
		{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "8001:", "tbf", "rate", "8000000bit"},
	})
	// a kind whose words the agent cannot tell is copied all the same, and said so
	fq := ForeignOf(kernel.Qdisc{Kind: "fq_codel", Handle: 0x10000, Options: []byte{8, 0, 1, 0}})
	if argv := fq.Change("eth0", kernel.HandleRoot).Argv(); argv[len(argv)-1] != kernel.OptionsAsRead {
		t.Fatalf("%q", argv)
	}
	if fr.Same(kernel.Qdisc{Kind: "tbf", Handle: 0x80010000, Options: []byte{1, 2, 3, 5}}) {
		t.Fatal("different options are the same")
	}
}

func TestCheckRestorable(t *testing.T) {
	tbf := kernel.Qdisc{Kind: "tbf", Handle: 0x80010000, Parent: kernel.HandleRoot}
	if err := CheckRestorable("eth0", RootState{Root: &tbf, Egress: 1}); err != nil {
		t.Fatal(err)
	}
	stab := tbf
	stab.Stab = true
	for _, tc := range []struct {
		s    RootState
		want string
	}{
		{RootState{Root: &tbf, Egress: 2}, "qdisc tree (root tbf 8001: and 1 more qdiscs)"},
		{RootState{Root: &tbf, Egress: 1, Filters: 1}, "1 tc filters"},
		{RootState{Root: &kernel.Qdisc{Kind: "htb", Handle: 0x10000, Parent: kernel.HandleRoot}, Egress: 1}, "htb 1:, which chaos-run cannot re-create exactly"},
		{RootState{Root: &kernel.Qdisc{Kind: "pfifo_fast", Handle: 0x10000, Parent: kernel.HandleRoot}, Egress: 1}, "cannot re-create"},
		{RootState{Root: &stab, Egress: 1}, "size table"},
	} {
		err := CheckRestorable("eth0", tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.s, err, tc.want)
		}
	}
}
