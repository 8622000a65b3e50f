package netem

import (
	"slices"
	"strings"
	"testing"

	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

func f(v float64) *float64 { return &v }

func eq(t *testing.T, got, want [][]string) {
	t.Helper()
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("argv\n%q\nwant\n%q", got, want)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		p    protocol.NetemParams
		want []string
	}{
		{protocol.NetemParams{DelayMs: f(100)}, []string{"delay", "100ms"}},
		{protocol.NetemParams{DelayMs: f(1.5)}, []string{"delay", "1500us"}},
		{protocol.NetemParams{DelayMs: f(100), JitterMs: f(10), Correlation: f(25), Distribution: "normal"}, []string{"delay", "100ms", "10ms", "25%", "distribution", "normal"}},
		{protocol.NetemParams{Loss: f(0.5), Duplicate: f(1), Corrupt: f(2), DelayMs: f(10), Reorder: f(25), Rate: "1mbit"},
			[]string{"delay", "10ms", "loss", "0.5%", "duplicate", "1%", "corrupt", "2%", "reorder", "25%", "rate", "1mbit"}},
	} {
		got, err := Options(&tc.p)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %q %v, want %q", tc.p, got, err, tc.want)
		}
	}
	if _, err := Options(&protocol.NetemParams{}); err == nil {
		t.Error("empty params accepted")
	}
}

func TestUnscoped(t *testing.T) {
	l := Layout{Iface: "eth0", Major: 0xc000, Options: []string{"delay", "100ms"}, Families: []int{4}}
	eq(t, l.Apply(), [][]string{{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "100ms"}})
	eq(t, RevertArgv("eth0", 0xc000, nil), [][]string{{"tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"}})
	if Majors(nil) != 1 || l.NetemMajor() != 0xc000 {
		t.Fatal("majors")
	}
}

func TestScopedCIDRv6AndProtocol(t *testing.T) {
	l := Layout{Iface: "eth0", Major: 0xc010, Options: []string{"loss", "5%"}, Families: []int{6},
		Scope: &protocol.Scope{CIDR: "2001:db8::/32", Protocol: "udp"}}
	eq(t, l.Apply(), [][]string{
		{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c010:", "prio", "bands", "4", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"},
		{"tc", "qdisc", "add", "dev", "eth0", "parent", "c010:4", "handle", "c011:", "netem", "loss", "5%"},
		{"tc", "filter", "add", "dev", "eth0", "parent", "c010:", "protocol", "ipv6", "prio", "1", "u32", "match", "ip6", "dst", "2001:db8::/32", "match", "ip6", "protocol", "17", "0xff", "flowid", "c010:4"},
	})
	if Majors(l.Scope) != 2 || l.NetemMajor() != 0xc011 {
		t.Fatal("majors")
	}
}

func TestScopedPortBothFamilies(t *testing.T) {
	l := Layout{Iface: "net1", Major: 0xc000, Options: []string{"delay", "5ms"}, Families: []int{4, 6}, Scope: &protocol.Scope{Port: 8080}}
	eq(t, l.Filters(), [][]string{
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "sport", "8080", "0xffff", "flowid", "c000:4"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ip", "prio", "2", "u32", "match", "ip", "dport", "8080", "0xffff", "flowid", "c000:4"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ipv6", "prio", "3", "u32", "match", "ip6", "sport", "8080", "0xffff", "flowid", "c000:4"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ipv6", "prio", "4", "u32", "match", "ip6", "dport", "8080", "0xffff", "flowid", "c000:4"},
	})
	objs := l.Objects()
	if len(objs) != 6 || objs[0].Name != "c000:" || objs[1].Name != "c001:" || objs[2].Type != protocol.ObjFilter || objs[5].Family != 6 {
		t.Fatalf("objects %+v", objs)
	}
}

func TestForeignNesting(t *testing.T) {
	fr, err := ParseForeign("qdisc tbf 8001: root refcnt 2 rate 1Mbit burst 1600b lat 50ms ")
	if err != nil {
		t.Fatal(err)
	}
	if fr.Kind != "tbf" || fr.Handle != "8001:" || !slices.Equal(fr.Options, []string{"rate", "1Mbit", "burst", "1600b", "lat", "50ms"}) || fr.Shown != "qdisc tbf 8001: rate 1Mbit burst 1600b lat 50ms" {
		t.Fatalf("parsed %+v", fr)
	}
	l := Layout{Iface: "eth0", Major: 0xc000, Options: []string{"delay", "1ms"}, Families: []int{4}, Foreign: fr}
	eq(t, l.Apply(), [][]string{
		{"tc", "qdisc", "replace", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "1ms"},
		{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:1", "handle", "8001:", "tbf", "rate", "1Mbit", "burst", "1600b", "lat", "50ms"},
	})
	l.Scope = &protocol.Scope{Port: 80}
	eq(t, l.Apply()[:3], [][]string{
		{"tc", "qdisc", "replace", "dev", "eth0", "root", "handle", "c000:", "prio", "bands", "4", "priomap", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"},
		{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:1", "handle", "8001:", "tbf", "rate", "1Mbit", "burst", "1600b", "lat", "50ms"},
		{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:4", "handle", "c001:", "netem", "delay", "1ms"},
	})
	eq(t, RevertArgv("eth0", 0xc000, fr), [][]string{
		{"tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"},
		{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "8001:", "tbf", "rate", "1Mbit", "burst", "1600b", "lat", "50ms"},
	})
	// the same qdisc nested normalizes to the same text
	if Normalize("qdisc tbf 8001: parent c000:1 rate 1Mbit burst 1600b lat 50ms") != fr.Shown {
		t.Fatal("normalize")
	}
}

func TestShowLinesJoinsContinuations(t *testing.T) {
	out := "qdisc cake 8001: root refcnt 2 bandwidth unlimited\n  diffserv3 triple-isolate\nqdisc ingress ffff: parent ffff:fff1 ----------------\n"
	lines := ShowLines(out)
	if len(lines) != 2 || lines[0] != "qdisc cake 8001: root refcnt 2 bandwidth unlimited diffserv3 triple-isolate" {
		t.Fatalf("%q", lines)
	}
	if l, ok := FindShown(out, "8001:"); !ok || !strings.HasPrefix(l, "qdisc cake") {
		t.Fatal("find")
	}
}

func TestCheckRestorable(t *testing.T) {
	tbf := kernel.Qdisc{Kind: "tbf", Handle: 0x80010000, Parent: kernel.HandleRoot}
	if err := CheckRestorable("eth0", RootState{Root: &tbf, Egress: 1}, "qdisc tbf 8001: root rate 1Mbit"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s    RootState
		want string
	}{
		{RootState{Root: &tbf, Egress: 2}, "qdisc tree (root tbf 8001: and 1 more qdiscs)"},
		{RootState{Root: &tbf, Egress: 1, Filters: 1}, "1 tc filters"},
		{RootState{Root: &kernel.Qdisc{Kind: "htb", Handle: 0x10000, Parent: kernel.HandleRoot}, Egress: 1}, "htb 1:, which chaos-run cannot re-create exactly"},
		{RootState{Root: &kernel.Qdisc{Kind: "pfifo_fast", Handle: 0x10000, Parent: kernel.HandleRoot}, Egress: 1}, "cannot re-create"},
	} {
		err := CheckRestorable("eth0", tc.s, "qdisc x")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.s, err, tc.want)
		}
	}
}
