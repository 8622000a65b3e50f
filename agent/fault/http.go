package fault

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
	"chaos-run/agent/proxy"
)

// HTTP is the http fault kind: a proxy in this process (package proxy), the port's incoming
// connections redirected to it, and the connections opened before the fault reset so that their
// clients come back through the proxy. Where nf_tables answers, the redirect and the reset are
// an nftables table of the fault's own (firewall.Redirect.NftTable), made and read over netlink,
// which the kernel ends by itself once the lease is not renewed — so a dead agent (whose proxy
// died with it) leaves the port answering the application directly again after the lease;
// elsewhere (a kernel without nf_tables) they are iptables chains (firewall.Redirect), which need
// an agent to end them.
type HTTP struct {
	// Listen opens the proxy's listeners (default: proxy.ListenAny, every address of the
	// families, one free port).
	Listen func(families []int) ([]net.Listener, int, error)
	// Target overrides where the proxy sends a connection's requests (tests).
	Target func(net.Conn) (string, error)
	// Drain is how long a revert lets requests in flight finish (default 1 s).
	Drain time.Duration
}

type httpHeld struct {
	firewallHeld
	kind   string // protocol.KindHTTP, or KindGRPC (grpc.go: the same proxy, faulting gRPC calls)
	r      firewall.Redirect
	proxy  *proxy.Proxy
	drain  time.Duration
	resets string // what became of the connections opened before the fault
}

func (h *httpHeld) Kind() string { return h.kind }

// Counts implements Counting: what the proxy did so far (all of it, once stopped); a grpc
// fault's are its GRPCReading (grpc.go).
func (h *httpHeld) Counts() *protocol.HTTPReading {
	if h.kind != protocol.KindHTTP {
		return nil
	}
	s := h.proxy.Stats()
	return &protocol.HTTPReading{Connections: s.Connections, Relayed: s.Relayed, Requests: s.Requests, H2C: s.H2C, Faulted: s.Faulted, Errors: s.Errors}
}

func (h *httpHeld) proxyObject() protocol.KernelObject {
	return protocol.KernelObject{Type: protocol.ObjProxy, Name: fmt.Sprintf("tcp :%d", h.r.ProxyPort),
		Detail: fmt.Sprintf("the %s proxy of port %d, in the agent's process", proxyWord[h.kind], h.r.Port)}
}

func (h *httpHeld) Objects() []protocol.KernelObject {
	out := h.objects(h.r.Objects)
	if h.proxy != nil && h.proxy.Serving() {
		out = append(out, h.proxyObject())
	}
	return out
}

func (h *httpHeld) Check(env *Env) (string, error) {
	found, words, err := h.readBack(env, h.r.Verify)
	if err != nil {
		return "", err
	}
	rules := fmt.Sprintf("iptables-%s; it needs an agent to end it): proxy :%d; %s", h.backend, h.r.ProxyPort, words)
	if h.nft != nil {
		rules = fmt.Sprintf("nftables, %s): proxy :%d; table %s: port %d redirected to %d, established connections that go around it reset (%s) while %q is in @%s, %d packets so far; %s",
			familyWords(h.families), h.r.ProxyPort, h.nft.NftRef, h.r.Port, h.r.ProxyPort, strings.Join(found.Rules, ", "), h.iface, firewall.LeaseSet, found.Packets, found.Ends())
	}
	if !h.proxy.Serving() {
		return "", fmt.Errorf("the proxy on :%d is stopped", h.r.ProxyPort)
	}
	h.detail = fmt.Sprintf("%s on port %d of %s (%s; %s; %s", h.kind, h.r.Port, h.iface, rules, h.resets, h.proxy.Stats())
	return h.detail, nil
}

// stopProxy stops the proxy (idle connections closed at once, requests in flight given the
// drain) and says how it went.
func (h *httpHeld) stopProxy() string {
	stats := h.proxy.Stats()
	reset := h.proxy.Stop(h.drain)
	w := fmt.Sprintf("proxy :%d stopped after %s", h.r.ProxyPort, stats)
	if reset > 0 {
		w += fmt.Sprintf("; %s still in a request after %s reset", proxy.Count(reset, "connection"), h.drain)
	}
	return w
}

// Revert takes the fault down in an order that never cuts a connection:
//  1. the reset rules go, and the redirects are replaced by a rule that redirects nothing: new
//     connections go to the application directly, while conntrack and the NAT hooks stay in
//     use in the namespace (firewall.Redirect.NftDrain, DrainRule): the connections still going
//     through the proxy need them to have their last packets (their FIN) translated back to the
//     port they came in on. Over nftables that is one transaction; over iptables the reset
//     rule goes first, family by family (with the redirect gone and the rule left, every direct
//     connection would be reset). If it does not happen, everything else stays, the proxy keeps
//     serving, and the revert is retried;
//  2. the proxy stops: idle connections closed at once, requests in flight given the drain,
//     so clients reconnect, to the application;
//  3. the fault's table (nftables) or its nat chains and their jumps (iptables) go.
func (h *httpHeld) Revert(env *Env) ([]protocol.KernelObject, string) {
	if h.nft != nil {
		return h.revertNft(env)
	}
	return h.revertIptables(env)
}

func (h *httpHeld) revertNft(env *Env) ([]protocol.KernelObject, string) {
	var words []string
	if h.proxy.Serving() {
		switch err := firewall.NftReplaceRules(env.Exec, env.Kernel, h.nft.NftRef, h.r.NftDrain()); {
		case err == nil:
			words = append(words, fmt.Sprintf("table %s: the redirect and the reset rules replaced by the drain rule", h.nft.NftRef))
		case errors.Is(err, kernel.ErrNoTable):
			words = append(words, fmt.Sprintf("table %s: gone already", h.nft.NftRef))
		default:
			return h.Objects(), fmt.Sprintf("table %s: the redirect and the reset rules not replaced (%v): they and the proxy on :%d stay", h.nft.NftRef, err, h.r.ProxyPort)
		}
		words = append(words, h.stopProxy())
	}
	remaining, d := firewall.NftRevert(env.Exec, env.Kernel, h.nft.NftRef)
	return remaining, strings.Join(append(words, d), "; ")
}

func (h *httpHeld) revertIptables(env *Env) ([]protocol.KernelObject, string) {
	chain := firewall.ChainName(h.r.FaultID)
	remaining, words := h.revertChains(env, "filter")
	if len(remaining) > 0 {
		for _, f := range h.families {
			remaining = append(remaining, protocol.KernelObject{Type: protocol.ObjChain, Name: chain, Family: f, Table: "nat"})
		}
		remaining = append(remaining, h.proxyObject())
		words = append(words, fmt.Sprintf("the redirect and the proxy on :%d stay while a reset rule is left", h.r.ProxyPort))
		return remaining, strings.Join(words, "; ")
	}
	if h.proxy.Serving() {
		for _, f := range h.families {
			if err := firewall.ReplaceRules(env.Ctx, env.Exec, h.backend, f, "nat", chain, [][]string{h.r.DrainRule()}); err != nil {
				words = append(words, err.Error())
			}
		}
		words = append(words, h.stopProxy())
	}
	natLeft, natWords := h.revertChains(env, "nat")
	return append(remaining, natLeft...), strings.Join(append(words, natWords...), "; ")
}

// Apply implements Kind.
func (k HTTP) Apply(env *Env, f protocol.FaultRequest) Outcome {
	spec := f.Spec
	if spec.HTTP == nil {
		return failed(protocol.ErrBadRequest, "an http fault needs its http parameters")
	}
	return k.applyProxy(env, f, protocol.KindHTTP, k.proxyConfig(env, *spec.HTTP))
}

// applyProxy applies a fault of the proxy's (http, grpc): the proxy started with cfg, the
// port's connections redirected to it.
func (k HTTP) applyProxy(env *Env, f protocol.FaultRequest, kind string, cfg proxy.Config) Outcome {
	iface, families, chain, rerr := env.firewallTarget(f.ID, f.Spec.Interface, nil, "no connection comes in there")
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	if out := portFree(env, f.ID, chain, cfg.AppPort); out.Err != nil {
		return out
	}
	listen := k.Listen
	if listen == nil {
		listen = proxy.ListenAny
	}
	lns, port, err := listen(families)
	if err != nil {
		return failed(protocol.ErrApplyFailed, "the proxy cannot listen: %v", err)
	}
	held := &httpHeld{
		firewallHeld: firewallHeld{faultID: f.ID, iface: iface}, kind: kind,
		r:     firewall.Redirect{FaultID: f.ID, Iface: iface, Port: cfg.AppPort, ProxyPort: port},
		proxy: proxy.Start(cfg, lns...), drain: k.Drain,
	}
	if held.drain == 0 {
		held.drain = time.Second
	}
	if out, viaNft := held.applyNft(env, families, time.Duration(f.LeaseMs)*time.Millisecond); viaNft {
		return out
	}
	return held.applyIptables(env, families)
}

func (k HTTP) proxyConfig(env *Env, params protocol.HTTPParams) proxy.Config {
	cfg := proxy.Config{AppPort: params.Port, ErrorCode: params.ErrorCode, ErrorBody: params.ErrorBody,
		Exclude: params.Exclude, Methods: params.Methods, Target: k.Target, Logf: env.logf}
	cfg.Delay, cfg.Jitter, cfg.ErrorRate = proxyTiming(params.DelayMs, params.JitterMs, params.ErrorRate)
	return cfg
}

// portFree refuses an HTTP fault whose name is taken in the firewall already (a gone agent's
// that the orphan scan could not revert, or a live one's that did not answer), or whose port
// another HTTP fault redirects (one proxy per port: a second redirect would take the connections
// from the first) — found in nftables tables and in iptables chains alike (an agent of an
// earlier version redirects with iptables). Where nf_tables answers and the namespace has no
// legacy tables, nothing but netlink is read.
func portFree(env *Env, id, chain string, port int) Outcome {
	found := firewall.Inventory(env.Ctx, env.Exec, env.Kernel, env.readFile)
	dumps := map[string]*firewall.Ruleset{}
	for _, fo := range found {
		if fo.Key.Name == chain {
			return existing(env, id, foundWords(fo))
		}
		redirects, err := firewall.FoundRedirects(env.Ctx, env.Exec, env.Kernel, fo, port, dumps)
		if err != nil {
			return failed(protocol.ErrApplyFailed, "%v", err)
		}
		if !redirects {
			continue
		}
		if owner, ok := env.Claims.Chains[fo.Key]; ok {
			return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrConflict, Owner: &owner,
				Message: fmt.Sprintf("port %d is already redirected by %s", port, OwnerWords(owner, env.Agent))}}
		}
		if len(env.Claims.Unanswered) > 0 {
			a := env.Claims.Unanswered[0]
			return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrConflict, Owner: &protocol.Owner{Agent: a, FaultID: strings.TrimPrefix(fo.Key.Name, ownership.ChainPrefix)},
				Message: fmt.Sprintf("port %d is redirected by %s, and agent %s did not say what it holds; it may be its, so it is left alone", port, fo.Key.Name, a)}}
		}
		return failed(protocol.ErrApplyFailed, "port %d is redirected by %s, which no live agent holds; it could not be reverted as an orphan", port, fo.Key.Name)
	}
	return Outcome{}
}

// applyNft makes the fault's table, in one transaction, resets the connections from before it,
// and reads it back; viaNft is false when nf_tables cannot hold it here (nothing was made: fall
// back to iptables).
func (h *httpHeld) applyNft(env *Env, families []int, lease time.Duration) (out Outcome, viaNft bool) {
	t := h.r.NftTable(families, lease)
	made := time.Now()
	if viaNft, rerr := makeTable(env, t); !viaNft || rerr != nil {
		if rerr != nil {
			h.proxy.Stop(0)
		}
		return Outcome{Err: rerr}, viaNft
	}
	h.nft, h.families = t, families
	h.resets = resetConnections(env, h.r.Port)
	return heldFromNow(env, h, made, lease), true
}

// applyIptables is the fallback where nf_tables cannot hold the table: one iptables-restore
// transaction per family (both tables), then read back with iptables-save.
func (h *httpHeld) applyIptables(env *Env, families []int) Outcome {
	backend, err := env.Backend()
	if err != nil {
		h.proxy.Stop(0)
		return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrNoBackend, Message: err.Error()}}
	}
	h.backend = backend
	tx := h.r.ApplyTransaction()
	for _, fam := range families {
		argv := firewall.RestoreArgv(backend, fam)
		r := env.Exec.Run(env.Ctx, argv, tx)
		// on a failure the family's nat table may have committed without its filter table
		// (legacy commits table by table): its chains are reverted too
		h.families = append(h.families, fam)
		if !r.OK() {
			return rollback(env, h, protocol.ErrApplyFailed, fmt.Sprintf("%s (IPv%d): %s", argv[0], fam, r.Why()))
		}
	}
	h.resets = resetConnections(env, h.r.Port)
	if _, err := h.Check(env); err != nil {
		return rollback(env, h, protocol.ErrVerifyFailed, "read back: "+err.Error())
	}
	return Outcome{Held: h}
}

// resetConnections resets the established connections to port that came from elsewhere: they
// were opened before the redirect and go around the proxy. They are destroyed over sock_diag
// (SOCK_DESTROY, what `ss -K` does; recorded in its words) where the kernel allows it
// (CONFIG_INET_DIAG_DESTROY): their clients see the reset at once and reconnect through the
// proxy. The connections still there afterwards are reset by the fault's reset rule at their
// next packet.
func resetConnections(env *Env, port int) string {
	conns, err := env.Kernel.Connections(port)
	if err != nil {
		return "connections opened before the fault: not listed (" + err.Error() + "); the reset rule ends them at their next packet"
	}
	var old []kernel.Conn
	for _, c := range conns {
		if c.FromElsewhere() {
			old = append(old, c)
		}
	}
	if len(old) == 0 {
		return "no connection opened before the fault"
	}
	for start := 0; start < len(old); start += killBatch {
		batch := old[start:min(start+killBatch, len(old))]
		began := time.Now()
		_, err := env.Kernel.DestroyConnections(batch)
		_ = exec.Done(env.Exec, KillArgv(port, batch), "", time.Since(began), err)
	}
	after, err := env.Kernel.Connections(port)
	if err != nil {
		return fmt.Sprintf("%s opened before the fault: reset asked for, not read back (%v)", proxy.Count(len(old), "connection"), err)
	}
	left := 0
	for _, c := range after {
		if slices.Contains(old, c) {
			left++
		}
	}
	if left == 0 {
		return fmt.Sprintf("%s opened before the fault reset (sock_destroy)", proxy.Count(len(old), "connection"))
	}
	return fmt.Sprintf("%s opened before the fault could not be destroyed here (no CONFIG_INET_DIAG_DESTROY in this kernel?): the reset rule ends them at their next packet", proxy.Count(left, "connection"))
}

// killBatch bounds the connections one record names.
const killBatch = 100

// ssAddr is ss's spelling of an address and port: a.b.c.d:p, [v6]:p.
func ssAddr(a netip.AddrPort) string {
	if a.Addr().Is4() {
		return a.String()
	}
	return "[" + a.Addr().String() + "]:" + strconv.Itoa(int(a.Port()))
}

// KillArgv is the ss command line that destroys these connections of port (what the record
// says for DestroyConnections): `ss -K` with a filter naming each one's remote end.
func KillArgv(port int, conns []kernel.Conn) []string {
	argv := []string{"ss", "-K", "-t", "-n", "-H", "state", "established", "sport", "=", ":" + strconv.Itoa(port), "and", "("}
	for i, c := range conns {
		if i > 0 {
			argv = append(argv, "or")
		}
		argv = append(argv, "dst", ssAddr(c.Remote))
	}
	return append(argv, ")")
}
