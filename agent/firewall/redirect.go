package firewall

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"chaos-run/agent/exec"
	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

// Redirect is an HTTP fault's rules in one family, in chains of the fault's own (CHAOS-<faultId>
// in the nat and the filter table, jumped to with the fault's comment):
//   - nat PREROUTING: TCP connections coming in on the interface to Port are redirected to the
//     proxy's ProxyPort (REDIRECT: to the interface's own address; conntrack keeps the original
//     destination, which the proxy reads back with SO_ORIGINAL_DST);
//   - filter INPUT: a packet that still arrives for Port on an established connection belongs to
//     one opened before the redirect, which goes around the proxy: it is answered with a TCP
//     reset, so the client reconnects — through the proxy. (Redirected packets arrive for
//     ProxyPort.) Where the kernel can destroy sockets the agent resets those connections at
//     once too; this rule is what holds everywhere.
type Redirect struct {
	FaultID   string
	Iface     string
	Port      int
	ProxyPort int
}

// The tables an HTTP fault's chains are in, in the order they are made (nat first: the reset
// rule only makes sense once new connections go to the proxy) and removed (filter first: with
// the redirect gone and the reset rule still there, direct connections would be cut).
var (
	RedirectTables      = []string{"nat", "filter"}
	redirectHooks       = map[string]string{"nat": "PREROUTING", "filter": "INPUT"}
	RedirectRevertOrder = []string{"filter", "nat"}
)

// Rule is the rule spec (after `-A CHAIN`) of the fault's chain in table.
func (r Redirect) Rule(table string) []string {
	match := []string{"-i", r.Iface, "-p", "tcp", "-m", "tcp", "--dport", strconv.Itoa(r.Port)}
	if table == "nat" {
		return append(match, "-j", "REDIRECT", "--to-ports", strconv.Itoa(r.ProxyPort))
	}
	return append(match, "-m", "conntrack", "--ctstate", "ESTABLISHED", "-j", "REJECT", "--reject-with", "tcp-reset")
}

// DrainRule replaces the redirect while the proxy finishes the connections it has: it redirects
// nothing (a connection is not DNATed before the nat table has seen it), but it keeps conntrack
// and the NAT hooks in use in the namespace — they are registered only while some rule or chain
// needs them, and without them the proxy's last packets to its clients (their FIN) would leave
// untranslated, from the proxy's port, and the clients would never see their connection close.
func (r Redirect) DrainRule() []string {
	return []string{"-i", r.Iface, "-p", "tcp", "-m", "tcp", "--dport", strconv.Itoa(r.Port), "-m", "conntrack", "--ctstate", "DNAT", "-j", "RETURN"}
}

// Jump is the rule spec that sends the table's hook into the chain, tagged with the fault's
// comment.
func (r Redirect) Jump(table string) []string {
	return []string{redirectHooks[table], "-m", "comment", "--comment", Comment(r.FaultID), "-j", ChainName(r.FaultID)}
}

// ApplyTransaction is one family's iptables-restore input (--noflush): both tables.
func (r Redirect) ApplyTransaction() string {
	chain := ChainName(r.FaultID)
	var b strings.Builder
	for _, table := range RedirectTables {
		fmt.Fprintf(&b, "*%s\n:%s - [0:0]\n", table, chain)
		fmt.Fprintf(&b, "-A %s %s\n", chain, strings.Join(r.Rule(table), " "))
		j := r.Jump(table)
		fmt.Fprintf(&b, "-I %s 1 %s\n", j[0], strings.Join(j[1:], " "))
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// Objects are what the rules are in one family, as the reply names them.
func (r Redirect) Objects(family int) []protocol.KernelObject {
	chain := ChainName(r.FaultID)
	var out []protocol.KernelObject
	for _, table := range RedirectTables {
		j := r.Jump(table)
		out = append(out,
			protocol.KernelObject{Type: protocol.ObjChain, Name: chain, Family: family, Table: table},
			protocol.KernelObject{Type: protocol.ObjRule, Name: "-A " + chain + " " + strings.Join(r.Rule(table), " "), Family: family, Table: table},
			protocol.KernelObject{Type: protocol.ObjRule, Name: "-A " + j[0] + " " + strings.Join(j[1:], " "), Family: family, Table: table},
		)
	}
	return out
}

// argValue is the token after flag in args ("" when absent).
func argValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// Verify reads one family's dump back: in both tables the chain with its rule, jumped to from
// the hook.
func (r Redirect) Verify(rs *Ruleset) (string, error) {
	chain := ChainName(r.FaultID)
	for _, table := range RedirectTables {
		t := rs.Table(table)
		if !t.HasChain(chain) {
			return "", fmt.Errorf("IPv%d: no %s chain %s", rs.Family, table, chain)
		}
		rule, jump := false, false
		for _, x := range t.Rules {
			switch {
			case x.Chain == chain && table == "nat":
				rule = rule || (x.Target() == "REDIRECT" && argValue(x.Args, "--dport") == strconv.Itoa(r.Port) && argValue(x.Args, "--to-ports") == strconv.Itoa(r.ProxyPort))
			case x.Chain == chain:
				rule = rule || (x.Target() == "REJECT" && argValue(x.Args, "--dport") == strconv.Itoa(r.Port))
			case x.Chain == redirectHooks[table] && x.Target() == chain:
				jump = true
			}
		}
		if !rule || !jump {
			return "", fmt.Errorf("IPv%d %s chain %s not in effect (its rule: %v, the jump from %s: %v)", rs.Family, table, chain, rule, redirectHooks[table], jump)
		}
	}
	return fmt.Sprintf("IPv%d: port %d redirected to %d, established connections that go around it reset", rs.Family, r.Port, r.ProxyPort), nil
}

// PortRedirects lists the CHAOS- chains of a dump's nat table that redirect port: what another
// HTTP fault on the same port holds.
func PortRedirects(rs *Ruleset, port int) []string {
	var out []string
	for _, x := range rs.Table("nat").Rules {
		if strings.HasPrefix(x.Chain, "CHAOS-") && x.Target() == "REDIRECT" && argValue(x.Args, "--dport") == strconv.Itoa(port) && !slices.Contains(out, x.Chain) {
			out = append(out, x.Chain)
		}
	}
	return out
}

// NftTable is the HTTP fault's rules held through nftables, in the fault's table `inet
// CHAOS-<faultId>`, expiring in the kernel like a partition's (see nft.go): the lease set with
// the interface in it, and per family
//   - in a nat chain on prerouting (priority dstnat): TCP coming in on the interface to Port is
//     redirected to ProxyPort;
//   - in a filter chain on input: a packet for Port on an established connection (one from
//     before the redirect, which goes around the proxy) is answered with a TCP reset.
//
// Once the lease element is gone (nobody renewed it) neither rule matches: new connections reach
// the application directly, and the connections the proxy holds keep their NAT (conntrack made
// it at their first packet) for as long as they last.
func (r Redirect) NftTable(families []int, lease time.Duration) *kernel.NftTable {
	var nat, filter []kernel.NftRule
	for _, f := range families {
		var n rule
		n.leased(false)
		n.family(f)
		n.l4("tcp")
		n.port("dport", r.Port)
		n.add("counter redirect to :"+strconv.Itoa(r.ProxyPort), &expr.Counter{},
			&expr.Immediate{Register: 1, Data: binary.BigEndian.AppendUint16(nil, uint16(r.ProxyPort))},
			&expr.Redir{RegisterProtoMin: 1})
		nat = append(nat, n.done())
		var reset rule
		reset.leased(false)
		reset.family(f)
		reset.l4("tcp")
		reset.port("dport", r.Port)
		reset.ctBits("state established", expr.CtKeySTATE, expr.CtStateBitESTABLISHED)
		reset.add("counter reject with tcp reset", &expr.Counter{}, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
		filter = append(filter, reset.done())
	}
	return &kernel.NftTable{
		NftRef: NftRef(r.FaultID),
		Sets:   []kernel.NftSet{LeaseElements(r.Iface, lease)},
		Chains: []kernel.NftChain{
			{Name: NatChain, Type: nftables.ChainTypeNAT, Hook: *nftables.ChainHookPrerouting, Priority: *nftables.ChainPriorityNATDest, Rules: nat},
			{Name: ResetChain, Type: nftables.ChainTypeFilter, Hook: *nftables.ChainHookInput, Priority: *nftables.ChainPriorityFilter, Rules: filter},
		},
	}
}

// ipsDstNat is IPS_DST_NAT of a connection's conntrack status (linux/netfilter/nf_conntrack_common.h):
// its destination was translated, as iptables' `--ctstate DNAT` tests.
const ipsDstNat = 1 << 5

// The chains of an HTTP fault's table.
const (
	NatChain   = "prerouting"
	ResetChain = "input"
)

// NftDrain is what an HTTP fault's table becomes while its proxy finishes the connections it
// has (one transaction, NftReplaceRules): the reset rules go, and the redirects are replaced by
// a rule that redirects nothing but keeps conntrack in use in the namespace — as DrainRule does
// for iptables. The nat chain alone keeps the NAT hooks registered, but those translate only
// packets conntrack tracked, and conntrack runs in a namespace only while some rule needs it
// (a ct expression, a redirect): without it the proxy's last packets to its clients (their FIN)
// would leave untranslated, from the proxy's port, and the clients would never see their
// connections close (kerneltest TestHTTPRevertClosesTheProxysConnectionsVisibly).
func (r Redirect) NftDrain() []kernel.NftChain {
	var drain rule
	drain.ctBits("status dnat", expr.CtKeySTATUS, ipsDstNat)
	drain.add("counter return", &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictReturn})
	return []kernel.NftChain{{Name: ResetChain}, {Name: NatChain, Rules: []kernel.NftRule{drain.done()}}}
}

// redirectsPort: a rule that redirects TCP to port (`th dport PORT … redirect`), as the kernel
// gives it back.
func redirectsPort(r kernel.NftRule, port int) bool {
	want := binary.BigEndian.AppendUint16(nil, uint16(port))
	dport, redir := false, false
	for i, e := range r.Exprs {
		switch x := e.(type) {
		case *expr.Payload:
			if x.Base == expr.PayloadBaseTransportHeader && x.Offset == 2 && x.Len == 2 && i+1 < len(r.Exprs) {
				c, ok := r.Exprs[i+1].(*expr.Cmp)
				dport = dport || (ok && c.Op == expr.CmpOpEq && bytes.Equal(c.Data, want))
			}
		case *expr.Redir:
			redir = true
		}
	}
	return dport && redir
}

// NftRedirects: a table of a fault's redirects port (an HTTP fault's, on that port).
func NftRedirects(t *kernel.NftTable, port int) bool {
	for _, c := range t.Chains {
		if c.Type != nftables.ChainTypeNAT {
			continue
		}
		if slices.ContainsFunc(c.Rules, func(r kernel.NftRule) bool { return redirectsPort(r, port) }) {
			return true
		}
	}
	return false
}

// FoundRedirects says whether a firewall object Inventory found redirects port: an nftables
// table, read over netlink, or an iptables nat chain, read in its backend's dump (dumps keeps
// the dumps read, by backend and family, for the next objects). Anything else redirects nothing.
func FoundRedirects(ctx context.Context, ex exec.Executor, k kernel.Nftables, f Found, port int, dumps map[string]*Ruleset) (bool, error) {
	if f.Backend == Nftables {
		t, err := k.NftRead(NftRefOf(f.Key))
		if errors.Is(err, kernel.ErrNoTable) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return NftRedirects(t, port), nil
	}
	if f.Key.Table != "nat" {
		return false, nil
	}
	key := fmt.Sprintf("%s/%d", f.Backend, f.Key.Family)
	rs, ok := dumps[key]
	if !ok {
		var err error
		if rs, err = Read(ctx, ex, f.Backend, f.Key.Family); err != nil {
			return false, err
		}
		dumps[key] = rs
	}
	return slices.Contains(PortRedirects(rs, port), f.Key.Name), nil
}
