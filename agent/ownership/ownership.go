// Package ownership decides what in the kernel belongs to whom. Every qdisc the agent makes has
// a major from the agent's range (0xC000-0xFFEF), every iptables chain is `CHAOS-<faultId>`.
// Live agents are the abstract sockets `@chaos-agent/v1/<name>` listening in this network
// namespace (they vanish when their process dies); each says what it holds when asked (a status
// request). An object in the range, or a CHAOS- chain, that no live agent claims is an orphan: a
// gone agent's, to revert. If a live agent does not answer, nothing that could be its is touched.
package ownership

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

// The agent's range of qdisc majors.
const (
	MinMajor uint16 = 0xC000
	MaxMajor uint16 = 0xFFEF
)

// InRange: a qdisc major chaos-run agents make.
func InRange(major uint16) bool { return major >= MinMajor && major <= MaxMajor }

// ChainPrefix starts the name of every chain a fault makes.
const ChainPrefix = "CHAOS-"

// ChainKey names one chain: its family, table and name.
type ChainKey struct {
	Family int
	Table  string
	Name   string
}

func (k ChainKey) String() string { return fmt.Sprintf("IPv%d %s chain %s", k.Family, k.Table, k.Name) }

// Claims says who holds which objects: this agent's faults and what live peers said.
type Claims struct {
	Majors map[uint16]protocol.Owner
	Chains map[ChainKey]protocol.Owner
	// Unanswered are live agents that did not say what they hold.
	Unanswered []string
	// Self is this agent's name: owners with this agent are this agent's own faults.
	Self string
}

// NewClaims is an empty claim set for agent self.
func NewClaims(self string) *Claims {
	return &Claims{Majors: map[uint16]protocol.Owner{}, Chains: map[ChainKey]protocol.Owner{}, Self: self}
}

// ParseMajor reads tc's `c000:` spelling.
func ParseMajor(name string) (uint16, bool) {
	s, ok := strings.CutSuffix(name, ":")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return 0, false
	}
	return uint16(v), true
}

// Add records what one fault holds, as its FaultState lists it.
func (c *Claims) Add(agent string, f protocol.FaultState) {
	owner := protocol.Owner{Agent: agent, RunID: f.RunID, FaultID: f.ID}
	for _, o := range f.Objects {
		switch o.Type {
		case protocol.ObjQdisc:
			if m, ok := ParseMajor(o.Name); ok && InRange(m) {
				c.Majors[m] = owner
			}
		case protocol.ObjChain, protocol.ObjTable:
			// an nftables table is keyed as a chain of its name in its family (`inet`), the form
			// agents before ObjTable used for it
			table := o.Table
			if table == "" {
				table = "filter"
			}
			c.Chains[ChainKey{Family: o.Family, Table: table, Name: o.Name}] = owner
		}
	}
}

// MajorOwner: who holds this major, if anyone.
func (c *Claims) MajorOwner(m uint16) (protocol.Owner, bool) {
	o, ok := c.Majors[m]
	return o, ok
}

// ChainOwner: who holds a chain of this name, in any family or table.
func (c *Claims) ChainOwner(name string) (protocol.Owner, bool) {
	for k, o := range c.Chains {
		if k.Name == name {
			return o, true
		}
	}
	return protocol.Owner{}, false
}

// Allocate picks the lowest run of n free majors in the range: not in the kernel (used, on any
// interface of the namespace) and not claimed.
func Allocate(used map[uint16]bool, c *Claims, n int) (uint16, error) {
	for m := int(MinMajor); m+n-1 <= int(MaxMajor); m++ {
		free := true
		for i := 0; i < n; i++ {
			mm := uint16(m + i)
			if used[mm] {
				free = false
				break
			}
			if _, ok := c.Majors[mm]; ok {
				free = false
				break
			}
		}
		if free {
			return uint16(m), nil
		}
	}
	return 0, fmt.Errorf("no %d free qdisc majors left in %x-%x", n, MinMajor, MaxMajor)
}

// LiveAgents reads /proc/net/unix (this network namespace's unix sockets) for the agents'
// listening abstract sockets, and returns their names, sorted.
func LiveAgents(procNetUnix string) []string {
	const prefix = "@" + protocol.SocketPrefix
	seen := map[string]bool{}
	for _, line := range strings.Split(procNetUnix, "\n") {
		f := strings.Fields(line)
		// Num RefCount Protocol Flags Type St Inode Path
		if len(f) < 8 || !strings.HasPrefix(f[7], prefix) {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&0x10000 == 0 { // __SO_ACCEPTCON: listening
			continue
		}
		name := strings.TrimPrefix(f[7], prefix)
		if name == protocol.LockName || name == "" {
			continue
		}
		seen[name] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Inventory is what chaos-run-shaped objects the kernel holds.
type Inventory struct {
	Qdiscs []kernel.Qdisc // every qdisc of every interface
	Chains []ChainKey     // every CHAOS- chain
}

// QdiscOrphan is a qdisc tree of a gone agent.
type QdiscOrphan struct {
	Iface  string
	Majors []uint16 // root first
	Kind   string   // the root's kind
	Root   bool     // the tree is the interface's root (else: a stray in-range qdisc elsewhere)
	Parent uint32   // for a stray: its parent
}

// Name is how a reply names the orphan (a qdisc's fault id is not in the kernel: the handle is).
func (o QdiscOrphan) Name() string { return kernel.HandleString(kernel.MakeHandle(o.Majors[0], 0)) }

// Orphans is what no live agent claims.
type Orphans struct {
	Qdiscs []QdiscOrphan
	Chains []ChainKey
	// Blocked: some live agent did not answer, so the candidates above may be its: touch none.
	Blocked []string
}

// Empty: nothing found.
func (o Orphans) Empty() bool { return len(o.Qdiscs) == 0 && len(o.Chains) == 0 }

// FindOrphans classifies the inventory against the claims.
func FindOrphans(inv Inventory, c *Claims) Orphans {
	var out Orphans
	out.Blocked = append(out.Blocked, c.Unanswered...)
	byIface := map[string][]kernel.Qdisc{}
	for _, q := range inv.Qdiscs {
		if !q.IsIngress() {
			byIface[q.Iface] = append(byIface[q.Iface], q)
		}
	}
	ifaces := make([]string, 0, len(byIface))
	for i := range byIface {
		ifaces = append(ifaces, i)
	}
	sort.Strings(ifaces)
	for _, iface := range ifaces {
		qs := byIface[iface]
		covered := map[uint16]bool{}
		for _, q := range qs {
			if !q.IsRoot() || !InRange(q.Major()) {
				continue
			}
			if _, claimed := c.Majors[q.Major()]; claimed {
				continue
			}
			majors := subtree(qs, q.Major())
			for _, m := range majors {
				covered[m] = true
			}
			out.Qdiscs = append(out.Qdiscs, QdiscOrphan{Iface: iface, Majors: majors, Kind: q.Kind, Root: true})
		}
		for _, q := range qs {
			m := q.Major()
			if q.IsRoot() || !InRange(m) || covered[m] {
				continue
			}
			if _, claimed := c.Majors[m]; claimed {
				continue
			}
			// in our range, under a root that is not an orphan tree: claimed trees hold their
			// own majors; anything else is a stray
			if parentClaimed(c, q) {
				continue
			}
			out.Qdiscs = append(out.Qdiscs, QdiscOrphan{Iface: iface, Majors: []uint16{m}, Kind: q.Kind, Parent: q.Parent})
		}
	}
	for _, k := range inv.Chains {
		if _, claimed := c.Chains[k]; claimed {
			continue
		}
		out.Chains = append(out.Chains, k)
	}
	sort.Slice(out.Chains, func(i, j int) bool { return out.Chains[i].String() < out.Chains[j].String() })
	return out
}

func parentClaimed(c *Claims, q kernel.Qdisc) bool {
	_, ok := c.Majors[uint16(q.Parent>>16)]
	return ok
}

// subtree: the in-range majors of the tree under root (root first).
func subtree(qs []kernel.Qdisc, root uint16) []uint16 {
	out := []uint16{root}
	in := map[uint16]bool{root: true}
	for changed := true; changed; {
		changed = false
		for _, q := range qs {
			m := q.Major()
			if in[m] || q.IsRoot() || !InRange(m) {
				continue
			}
			if in[uint16(q.Parent>>16)] {
				in[m] = true
				out = append(out, m)
				changed = true
			}
		}
	}
	return out
}
