package firewall

import (
	"context"
	"fmt"
	"strings"

	"chaos-run/agent/exec"
	"chaos-run/agent/protocol"
)

// ChainName is the fault's chain: `CHAOS-<faultId>` (at most 28 characters, iptables' limit).
func ChainName(faultID string) string { return "CHAOS-" + faultID }

// Comment tags the jumps into a fault's chain.
func Comment(faultID string) string { return "chaos-run:" + faultID }

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

// RestoreArgv runs a transaction for one family.
func RestoreArgv(b Backend, family int) []string {
	return []string{b.Restore(family), "--noflush", "-w"}
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

// Present lists what of a chain a dump still holds: the chain, and every rule anywhere that
// jumps to it.
func Present(rs *Ruleset, table, chain string) []protocol.KernelObject {
	t := rs.Table(table)
	var out []protocol.KernelObject
	if t.HasChain(chain) {
		out = append(out, protocol.KernelObject{Type: protocol.ObjChain, Name: chain, Family: rs.Family, Table: table})
	}
	for _, r := range t.Rules {
		if r.Target() == chain {
			out = append(out, protocol.KernelObject{Type: protocol.ObjRule, Name: r.Line, Family: rs.Family, Table: table})
		}
	}
	return out
}

// RevertTransaction removes what of a chain the dump holds: every jump to it (as printed, -A
// turned into -D), then the chain's rules and the chain. Empty when nothing is there.
func RevertTransaction(rs *Ruleset, table, chain string) string {
	t := rs.Table(table)
	var b strings.Builder
	for _, r := range t.Rules {
		if r.Target() == chain {
			fmt.Fprintf(&b, "-D %s\n", strings.TrimPrefix(r.Line, "-A "))
		}
	}
	if t.HasChain(chain) {
		fmt.Fprintf(&b, "-F %s\n-X %s\n", chain, chain)
	}
	if b.Len() == 0 {
		return ""
	}
	return "*" + table + "\n" + b.String() + "COMMIT\n"
}

// RevertChain takes one family's chain down: read what is there, remove it in one transaction;
// if the transaction fails, command by command, keeping going; then read back. remaining is
// what is still there.
func RevertChain(ctx context.Context, ex exec.Executor, b Backend, family int, table, chain string) (remaining []protocol.KernelObject, detail string) {
	rs, err := Read(ctx, ex, b, family)
	if err != nil {
		return []protocol.KernelObject{{Type: protocol.ObjChain, Name: chain, Family: family, Table: table, Detail: err.Error()}}, err.Error()
	}
	tx := RevertTransaction(rs, table, chain)
	if tx == "" {
		return nil, fmt.Sprintf("IPv%d %s chain %s: nothing there", family, table, chain)
	}
	var notes []string
	if r := ex.Run(ctx, RestoreArgv(b, family), tx); !r.OK() {
		notes = append(notes, b.Restore(family)+": "+r.Why())
		for _, argv := range revertCommands(rs, b, table, chain) {
			if r := ex.Run(ctx, argv, ""); !r.OK() {
				notes = append(notes, strings.Join(argv, " ")+": "+r.Why())
			}
		}
	}
	rs, err = Read(ctx, ex, b, family)
	if err != nil {
		return []protocol.KernelObject{{Type: protocol.ObjChain, Name: chain, Family: family, Table: table, Detail: err.Error()}}, err.Error()
	}
	remaining = Present(rs, table, chain)
	detail = fmt.Sprintf("IPv%d %s chain %s removed with its jumps", family, table, chain)
	if len(remaining) > 0 {
		detail = fmt.Sprintf("IPv%d %s chain %s: %d objects remain", family, table, chain, len(remaining))
	}
	if len(notes) > 0 {
		detail += " (" + strings.Join(notes, "; ") + ")"
	}
	return remaining, detail
}

// ReplaceRules replaces a chain's rules with these (specs after `-A CHAIN`), the chain and the
// jumps to it staying, in one transaction.
func ReplaceRules(ctx context.Context, ex exec.Executor, b Backend, family int, table, chain string, rules [][]string) error {
	var tx strings.Builder
	fmt.Fprintf(&tx, "*%s\n-F %s\n", table, chain)
	for _, r := range rules {
		fmt.Fprintf(&tx, "-A %s %s\n", chain, strings.Join(r, " "))
	}
	tx.WriteString("COMMIT\n")
	if r := ex.Run(ctx, RestoreArgv(b, family), tx.String()); !r.OK() {
		return fmt.Errorf("IPv%d %s chain %s: rules not replaced: %s", family, table, chain, r.Why())
	}
	return nil
}

// revertCommands is the revert one command at a time (argv), for when the transaction fails.
func revertCommands(rs *Ruleset, b Backend, table, chain string) [][]string {
	t := rs.Table(table)
	tool := []string{b.Tool(rs.Family), "-w", "-t", table}
	var out [][]string
	for _, r := range t.Rules {
		if r.Target() == chain {
			out = append(out, append(append(append([]string{}, tool...), "-D", r.Chain), r.Args...))
		}
	}
	if t.HasChain(chain) {
		out = append(out, append(append([]string{}, tool...), "-F", chain), append(append([]string{}, tool...), "-X", chain))
	}
	return out
}
