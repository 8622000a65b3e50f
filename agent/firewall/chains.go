package firewall

import (
	"context"
	"fmt"
	"strings"

	"chaos-run/agent/exec"
	"chaos-run/agent/protocol"
)

// The iptables fallback: a fault's rules are a chain of its own per table and family, jumped
// to from the built-in chains by rules tagged with the fault's id; it is made and taken down
// in iptables-restore transactions, read back with iptables-save.

// ChainName is the fault's chain: `CHAOS-<faultId>` (at most 28 characters, iptables' limit).
func ChainName(faultID string) string { return "CHAOS-" + faultID }

// Comment tags the jumps into a fault's chain.
func Comment(faultID string) string { return "chaos-run:" + faultID }

// RestoreArgv runs a transaction for one family.
func RestoreArgv(b Backend, family int) []string {
	return []string{b.Restore(family), "--noflush", "-w"}
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
