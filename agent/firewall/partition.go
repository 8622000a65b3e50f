package firewall

import (
	"fmt"
	"strings"

	"chaos-run/agent/protocol"
)

// Partition is a partition fault on one interface, as rules.
type Partition struct {
	FaultID string
	Iface   string
	Scope   *protocol.Scope
}

// DropRules are the rule specs (after `-A CHAIN`) of the chain, for both directions: packets out
// of the interface (to the CIDR), then packets into it (from the CIDR); a port without a
// protocol covers tcp and udp.
func (p Partition) DropRules() [][]string {
	var protocols []string
	s := p.Scope
	switch {
	case s != nil && s.Protocol != "":
		protocols = []string{s.Protocol}
	case s != nil && s.Port != 0:
		protocols = []string{"tcp", "udp"}
	default:
		protocols = []string{""}
	}
	var out [][]string
	for _, dir := range []string{"out", "in"} {
		for _, proto := range protocols {
			rule := []string{"-o", p.Iface}
			if dir == "in" {
				rule = []string{"-i", p.Iface}
			}
			if s != nil && s.CIDR != "" {
				if dir == "out" {
					rule = append(rule, "-d", s.CIDR)
				} else {
					rule = append(rule, "-s", s.CIDR)
				}
			}
			if proto != "" {
				rule = append(rule, "-p", proto)
				if s.Port != 0 {
					rule = append(rule, "-m", "multiport", "--ports", fmt.Sprint(s.Port))
				}
			}
			out = append(out, append(rule, "-j", "DROP"))
		}
	}
	return out
}

// JumpRules are the rule specs that send traffic into the chain, inserted first in OUTPUT and
// INPUT, each tagged with the fault's comment.
func (p Partition) JumpRules() [][]string {
	chain := ChainName(p.FaultID)
	var out [][]string
	for _, hook := range []string{"OUTPUT", "INPUT"} {
		out = append(out, []string{hook, "-m", "comment", "--comment", Comment(p.FaultID), "-j", chain})
	}
	return out
}

// ApplyTransaction is one family's iptables-restore input (run with --noflush: it adds and
// touches nothing else; all of it happens or none).
func (p Partition) ApplyTransaction() string {
	chain := ChainName(p.FaultID)
	var b strings.Builder
	b.WriteString("*filter\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n", chain)
	for _, r := range p.DropRules() {
		fmt.Fprintf(&b, "-A %s %s\n", chain, strings.Join(r, " "))
	}
	for _, j := range p.JumpRules() {
		fmt.Fprintf(&b, "-I %s 1 %s\n", j[0], strings.Join(j[1:], " "))
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// Objects are the objects a partition makes in one family, as the reply names them.
func (p Partition) Objects(family int) []protocol.KernelObject {
	chain := ChainName(p.FaultID)
	out := []protocol.KernelObject{{Type: protocol.ObjChain, Name: chain, Family: family, Table: "filter"}}
	for _, r := range p.DropRules() {
		out = append(out, protocol.KernelObject{Type: protocol.ObjRule, Name: "-A " + chain + " " + strings.Join(r, " "), Family: family, Table: "filter"})
	}
	for _, j := range p.JumpRules() {
		out = append(out, protocol.KernelObject{Type: protocol.ObjRule, Name: "-A " + j[0] + " " + strings.Join(j[1:], " "), Family: family, Table: "filter"})
	}
	return out
}

// Verify reads the family's filter table back: the chain with every DROP rule, jumped to from
// OUTPUT and INPUT.
func (p Partition) Verify(rs *Ruleset) (string, error) {
	chain := ChainName(p.FaultID)
	t := rs.Table("filter")
	if !t.HasChain(chain) {
		return "", fmt.Errorf("IPv%d: no chain %s", rs.Family, chain)
	}
	drops, jumps := 0, map[string]bool{}
	for _, r := range t.Rules {
		if r.Chain == chain && r.Target() == "DROP" {
			drops++
		}
		if r.Target() == chain {
			jumps[r.Chain] = true
		}
	}
	want := len(p.DropRules())
	if drops < want || !jumps["INPUT"] || !jumps["OUTPUT"] {
		return "", fmt.Errorf("IPv%d chain %s not in effect (%d of %d DROP rules, jumps from INPUT %v, OUTPUT %v)", rs.Family, chain, drops, want, jumps["INPUT"], jumps["OUTPUT"])
	}
	return fmt.Sprintf("IPv%d chain %s: %d DROP rules, jumped to from INPUT and OUTPUT", rs.Family, chain, drops), nil
}
