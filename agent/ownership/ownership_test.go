package ownership

import (
	"slices"
	"testing"

	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

const procNetUnix = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 35271 @chaos-agent/v1/chaos-agent-aaaa
0000000000000000: 00000003 00000000 00000000 0001 03 35290 @chaos-agent/v1/chaos-agent-aaaa
0000000000000000: 00000002 00000000 00010000 0001 01 35300 @chaos-agent/v1/chaos-agent-bbbb
0000000000000000: 00000002 00000000 00000000 0001 07 35301 @chaos-agent/v1/lock
0000000000000000: 00000002 00000000 00010000 0001 01 35302 /run/containerd/s.sock
0000000000000000: 00000002 00000000 00000000 0001 07 35303 @chaos-agent/v1/chaos-agent-cccc
`

func TestLiveAgents(t *testing.T) {
	// listening sockets only: cccc is bound but not listening (a half-started agent), the lock
	// is not an agent
	if got := LiveAgents(procNetUnix); !slices.Equal(got, []string{"chaos-agent-aaaa", "chaos-agent-bbbb"}) {
		t.Fatalf("%v", got)
	}
}

func TestAllocate(t *testing.T) {
	c := NewClaims("me")
	m, err := Allocate(map[uint16]bool{}, c, 2)
	if err != nil || m != 0xc000 {
		t.Fatalf("%x %v", m, err)
	}
	c.Majors[0xc001] = protocol.Owner{Agent: "peer"}
	m, _ = Allocate(map[uint16]bool{0xc003: true}, c, 2)
	if m != 0xc004 {
		t.Fatalf("%x", m)
	}
	m, _ = Allocate(map[uint16]bool{0xc003: true}, c, 1)
	if m != 0xc000 {
		t.Fatalf("%x", m)
	}
	used := map[uint16]bool{}
	for i := int(MinMajor); i <= int(MaxMajor); i++ {
		used[uint16(i)] = true
	}
	if _, err := Allocate(used, c, 1); err == nil {
		t.Fatal("range exhausted but allocated")
	}
	if InRange(0x8001) || InRange(0xffff) || !InRange(0xc000) || !InRange(0xffef) || InRange(0xfff0) {
		t.Fatal("range")
	}
}

func q(iface, kind string, h, parent uint32) kernel.Qdisc {
	return kernel.Qdisc{Iface: iface, Kind: kind, Handle: h, Parent: parent}
}

func TestFindOrphans(t *testing.T) {
	inv := Inventory{
		Qdiscs: []kernel.Qdisc{
			// eth0: a live peer's scoped netem
			q("eth0", "prio", 0xc0000000, kernel.HandleRoot), q("eth0", "netem", 0xc0010000, 0xc0000004),
			// net1: a dead agent's scoped netem keeping a tbf
			q("net1", "prio", 0xc0020000, kernel.HandleRoot), q("net1", "netem", 0xc0030000, 0xc0020004), q("net1", "tbf", 0x80010000, 0xc0020001),
			// net2: someone's own tbf, not ours
			q("net2", "tbf", 0x10000, kernel.HandleRoot),
			q("net2", "ingress", 0xffff0000, kernel.HandleIngress),
		},
		Chains: []ChainKey{{4, "filter", "CHAOS-live"}, {4, "filter", "CHAOS-dead"}, {6, "filter", "CHAOS-dead"}},
	}
	c := NewClaims("me")
	c.Add("peer", protocol.FaultState{ID: "live-s1", RunID: "live", Objects: []protocol.KernelObject{{Type: "qdisc", Name: "c000:"}, {Type: "qdisc", Name: "c001:"}}})
	c.Add("peer", protocol.FaultState{ID: "live", RunID: "live", Objects: []protocol.KernelObject{{Type: "chain", Name: "CHAOS-live", Family: 4, Table: "filter"}}})
	o := FindOrphans(inv, c)
	if len(o.Blocked) != 0 || len(o.Qdiscs) != 1 || o.Qdiscs[0].Iface != "net1" || !slices.Equal(o.Qdiscs[0].Majors, []uint16{0xc002, 0xc003}) || !o.Qdiscs[0].Root {
		t.Fatalf("qdisc orphans %+v", o.Qdiscs)
	}
	if len(o.Chains) != 2 || o.Chains[0].Name != "CHAOS-dead" {
		t.Fatalf("chain orphans %+v", o.Chains)
	}
	if owner, ok := c.MajorOwner(0xc001); !ok || owner.FaultID != "live-s1" {
		t.Fatal("major owner")
	}
	c.Unanswered = []string{"silent"}
	if o := FindOrphans(inv, c); !slices.Equal(o.Blocked, []string{"silent"}) {
		t.Fatalf("blocked %v", o.Blocked)
	}
}

// An nftables table is claimed by an object of type table (its family in Table), and — as agents
// before that type named it — by a chain of its name in table `inet`: a table either form names
// is no orphan.
func TestATableIsClaimedInEitherForm(t *testing.T) {
	inv := Inventory{Chains: []ChainKey{{0, "inet", "CHAOS-new"}, {0, "inet", "CHAOS-old"}, {0, "inet", "CHAOS-dead"}}}
	c := NewClaims("me")
	c.Add("peer", protocol.FaultState{ID: "new", RunID: "r", Objects: []protocol.KernelObject{{Type: protocol.ObjTable, Name: "CHAOS-new", Table: "inet"}}})
	c.Add("older", protocol.FaultState{ID: "old", RunID: "r", Objects: []protocol.KernelObject{{Type: protocol.ObjChain, Name: "CHAOS-old", Table: "inet"}}})
	o := FindOrphans(inv, c)
	if len(o.Chains) != 1 || o.Chains[0].Name != "CHAOS-dead" {
		t.Fatalf("orphans %+v", o.Chains)
	}
	if owner, ok := c.ChainOwner("CHAOS-new"); !ok || owner.Agent != "peer" {
		t.Fatalf("owner of the table: %+v %v", owner, ok)
	}
}
