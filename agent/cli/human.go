package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

// human runs status, revert and sweep for a person: the same requests the runner sends, the
// reply in words (or as JSON with --json).
func human(verb string, args []string) int {
	asJSON, own := false, false
	var rest []string
	for _, a := range args {
		switch a {
		case "--json":
			asJSON = true
		case "--own":
			own = true
		default:
			rest = append(rest, a)
		}
	}
	runID := os.Getenv("CHAOS_RUN_ID")
	if !runIDPattern.MatchString(runID) {
		runID = "manual"
	}
	req := &protocol.Request{Protocol: protocol.Version, Op: verb, RunID: runID}
	switch verb {
	case "revert":
		if len(rest) != 1 {
			fmt.Fprintln(os.Stderr, "usage: chaos-agent revert FAULT_ID [--json]")
			return 2
		}
		req.FaultID = rest[0]
	case "sweep":
		req.Own = &own
	}
	if verb != "revert" && len(rest) > 0 {
		fmt.Fprintf(os.Stderr, "chaos-agent %s: unknown argument %q\n", verb, rest[0])
		return 2
	}
	raw, _ := json.Marshal(req)
	if _, perr := protocol.Parse(raw); perr != nil {
		fmt.Fprintln(os.Stderr, "chaos-agent:", perr.Message)
		return 2
	}
	r, rerr := call(raw, time.Second, 5*time.Minute)
	if rerr != nil && rerr.Code == protocol.ErrUnreachable && verb == "sweep" && !own {
		// no serve process here (the agent died, or this is a debug container): sweep from
		// this process, under the same lock and rules
		fmt.Fprintln(os.Stderr, "chaos-agent: no serve process answers ("+rerr.Message+"); sweeping from this process")
		name := fmt.Sprintf("sweep-%d", os.Getpid())
		r = newAgent(name, runID, time.Minute, roleAgent, nil).HandleRequest(context.Background(), req)
		rerr = nil
	}
	if rerr != nil {
		r = localReply(verb, rerr.Code, rerr.Message)
	}
	if asJSON {
		printReply(r)
	} else {
		printHuman(r)
	}
	return protocol.ExitCode(r)
}

func printHuman(r *protocol.Reply) {
	a := r.Agent
	if a.Name != "" {
		backend := a.IptablesBackend
		if backend == "" {
			backend = "not detected yet"
		}
		fmt.Printf("agent %s (run %s, version %s): TTL left %s, iptables backend %s\n", a.Name, a.RunID, a.Version, ms(a.TTLLeftMs), backend)
	}
	for _, f := range r.Faults {
		fmt.Printf("  holds %s (run %s): %s on %s, IPv%s, lease left %s\n    %s\n", f.ID, f.RunID, f.Kind, f.Interface, families(f.Families), ms(f.LeaseLeftMs), f.Detail)
	}
	if r.Op == protocol.OpStatus && len(r.Faults) == 0 && r.Error == nil {
		fmt.Println("  holds no faults")
	}
	if r.Fault != nil {
		fmt.Printf("  %s: %s\n", r.Fault.ID, r.Fault.Detail)
	}
	for _, o := range r.Reverted {
		fmt.Printf("  reverted %s: %s%s\n", o.FaultID, confirmed(o), o.Detail)
	}
	for _, o := range r.Orphans {
		fmt.Printf("  orphan: %s%s\n", confirmed(o), o.Detail)
	}
	if r.Op == protocol.OpSweep && len(r.Orphans) == 0 && r.Error == nil {
		fmt.Println("  no orphans")
	}
	if r.Error != nil {
		fmt.Printf("error (%s): %s\n", r.Error.Code, r.Error.Message)
	}
	if os.Getenv("CHAOS_AGENT_VERBOSE") != "" {
		for _, c := range r.Commands {
			fmt.Printf("  ran (exit %d, %.1fms): %s\n", c.ExitCode, c.DurationMs, strings.Join(c.Argv, " "))
		}
	}
}

func confirmed(o protocol.RevertOutcome) string {
	if o.Confirmed {
		return ""
	}
	return "NOT confirmed: "
}

func ms(v int64) string { return (time.Duration(v) * time.Millisecond).String() }

func families(f []int) string {
	s := make([]string, 0, len(f))
	for _, v := range f {
		s = append(s, fmt.Sprint(v))
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, "+")
}

// selftest: the programs the agent runs are here, and whether nftables answers and which
// iptables backend works (that needs NET_ADMIN; without it they are reported, not failed).
func selftest() int {
	ctx := context.Background()
	ex := exec.Real{Timeout: 10 * time.Second}
	ok := true
	check := func(label string, argv ...string) {
		r := ex.Run(ctx, argv, "")
		if r.Err != nil {
			fmt.Printf("%s: missing (%v)\n", label, r.Err)
			ok = false
			return
		}
		fmt.Printf("%s: %s\n", label, firstLine(r.Stdout+r.Stderr))
	}
	fmt.Println("chaos-agent", Version, "protocol", protocol.Version)
	// qdiscs, filters, nftables and sockets are changed over netlink: no tc, nft or ss; iptables
	// is the firewall faults' fallback where nf_tables cannot hold their tables
	for _, b := range []firewall.Backend{firewall.NFT, firewall.Legacy} {
		for _, fam := range []int{4, 6} {
			check(b.Tool(fam), b.Tool(fam), "-V")
			check(b.Restore(fam), b.Restore(fam), "--version")
			check(b.Save(fam), b.Save(fam), "--version")
		}
	}
	if links, err := (kernel.Netlink{}).Links(); err != nil {
		fmt.Println("netlink: cannot list links:", err)
		ok = false
	} else {
		fmt.Printf("netlink: %d links\n", len(links))
	}
	if iface, err := (kernel.Netlink{}).DefaultInterface(); err == nil {
		fmt.Println("default interface:", iface)
	} else {
		fmt.Println("default interface: none:", err)
	}
	if _, err := (kernel.Netlink{}).NftTables(); err == nil {
		fmt.Println("nftables: answers (a partition or an HTTP fault is a table that expires in the kernel)")
	} else {
		fmt.Println("nftables: does not answer here (partitions and HTTP faults fall back to iptables):", err)
	}
	if b, err := firewall.Detect(ctx, ex, firewall.ReadFile, fmt.Sprintf("chaos-probe-%d", os.Getpid())); err == nil {
		fmt.Println("iptables backend:", b)
	} else {
		fmt.Println("iptables backend: none works here:", err)
	}
	if ok {
		fmt.Println("selftest: ok")
		return 0
	}
	fmt.Println("selftest: FAILED")
	return 1
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
