package fault

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
	"chaos-run/agent/proxy"
)

// HTTP is the http fault kind: a proxy in this process (package proxy), the port's incoming
// connections redirected to it (firewall.Redirect), and the connections opened before the fault
// reset so that their clients come back through the proxy.
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
	r        firewall.Redirect
	backend  firewall.Backend
	families []int
	proxy    *proxy.Proxy
	drain    time.Duration
	resets   string // what became of the connections opened before the fault
	detail   string
}

func (h *httpHeld) Kind() string      { return protocol.KindHTTP }
func (h *httpHeld) Interface() string { return h.r.Iface }
func (h *httpHeld) Families() []int   { return h.families }
func (h *httpHeld) Detail() string    { return h.detail }

// Counts implements Counting: what the proxy did so far (all of it, once stopped).
func (h *httpHeld) Counts() *protocol.HTTPReading {
	s := h.proxy.Stats()
	return &protocol.HTTPReading{Connections: s.Connections, Relayed: s.Relayed, Requests: s.Requests, Faulted: s.Faulted, Errors: s.Errors}
}

func (h *httpHeld) proxyObject() protocol.KernelObject {
	return protocol.KernelObject{Type: protocol.ObjProxy, Name: fmt.Sprintf("tcp :%d", h.r.ProxyPort),
		Detail: fmt.Sprintf("the HTTP proxy of port %d, in the agent's process", h.r.Port)}
}

func (h *httpHeld) Objects() []protocol.KernelObject {
	var out []protocol.KernelObject
	for _, f := range h.families {
		out = append(out, h.r.Objects(f)...)
	}
	if h.proxy != nil && h.proxy.Serving() {
		out = append(out, h.proxyObject())
	}
	return out
}

func (h *httpHeld) Check(env *Env) (string, error) {
	var words []string
	for _, f := range h.families {
		rs, err := firewall.Read(env.Ctx, env.Exec, h.backend, f)
		if err != nil {
			return "", err
		}
		d, err := h.r.Verify(rs)
		if err != nil {
			return "", err
		}
		words = append(words, d)
	}
	if !h.proxy.Serving() {
		return "", fmt.Errorf("the proxy on :%d is stopped", h.r.ProxyPort)
	}
	h.detail = fmt.Sprintf("http on port %d of %s (%s): proxy :%d; %s; %s; %s", h.r.Port, h.r.Iface, h.backend, h.r.ProxyPort,
		strings.Join(words, "; "), h.resets, h.proxy.Stats())
	return h.detail, nil
}

// Revert takes the fault down in an order that never cuts a connection:
//  1. the reset rule, family by family (with the redirect gone and the rule left, every direct
//     connection would be reset; if it will not come off, everything else stays, the proxy
//     keeps serving, and the revert is retried);
//  2. the redirect rule, replaced by one that redirects nothing: new connections go to the
//     application directly, while conntrack and the NAT hooks stay in use in the namespace
//     (firewall.Redirect.DrainRule): the connections still going through the proxy need them to
//     have their last packets (their FIN) translated back to the port they came in on;
//  3. the proxy stops: idle connections closed at once, requests in flight given the drain,
//     so clients reconnect, to the application;
//  4. the nat chain and its jump.
func (h *httpHeld) Revert(env *Env) ([]protocol.KernelObject, string) {
	var remaining []protocol.KernelObject
	var words []string
	chain := firewall.ChainName(h.r.FaultID)
	for i := len(h.families) - 1; i >= 0; i-- {
		r, d := firewall.RevertChain(env.Ctx, env.Exec, h.backend, h.families[i], "filter", chain)
		remaining = append(remaining, r...)
		words = append(words, d)
	}
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
		stats := h.proxy.Stats()
		reset := h.proxy.Stop(h.drain)
		w := fmt.Sprintf("proxy :%d stopped after %s", h.r.ProxyPort, stats)
		if reset > 0 {
			w += fmt.Sprintf("; %s still in a request after %s reset", proxy.Count(reset, "connection"), h.drain)
		}
		words = append(words, w)
	}
	for i := len(h.families) - 1; i >= 0; i-- {
		r, d := firewall.RevertChain(env.Ctx, env.Exec, h.backend, h.families[i], "nat", chain)
		remaining = append(remaining, r...)
		words = append(words, d)
	}
	return remaining, strings.Join(words, "; ")
}

// Apply implements Kind.
func (k HTTP) Apply(env *Env, f protocol.FaultRequest) Outcome {
	spec := f.Spec
	fail := func(code, format string, a ...any) Outcome {
		return Outcome{Err: &protocol.ReplyError{Code: code, Message: fmt.Sprintf(format, a...)}}
	}
	if spec.HTTP == nil {
		return fail(protocol.ErrBadRequest, "an http fault needs its http parameters")
	}
	params := *spec.HTTP
	iface, families, backend, chain, rerr := env.chainTarget(f.ID, spec.Interface, nil, "no connection comes in there")
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	for _, fam := range families {
		rs, err := firewall.Read(env.Ctx, env.Exec, backend, fam)
		if err != nil {
			return fail(protocol.ErrApplyFailed, "%v", err)
		}
		for _, table := range firewall.RedirectTables {
			if len(firewall.Present(rs, table, chain)) > 0 {
				return fail(protocol.ErrApplyFailed, "IPv%d %s chain %s exists already and no live agent holds it; it could not be reverted as an orphan", fam, table, chain)
			}
		}
		// one proxy per port: a second redirect would take the connections from the first
		for _, other := range firewall.PortRedirects(rs, params.Port) {
			if owner, ok := env.Claims.Chains[ownership.ChainKey{Family: fam, Table: "nat", Name: other}]; ok {
				return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrConflict, Owner: &owner,
					Message: fmt.Sprintf("port %d is redirected to the HTTP proxy of %s already", params.Port, OwnerWords(owner, env.Agent))}}
			}
			if len(env.Claims.Unanswered) > 0 {
				a := env.Claims.Unanswered[0]
				return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrConflict, Owner: &protocol.Owner{Agent: a, FaultID: strings.TrimPrefix(other, ownership.ChainPrefix)},
					Message: fmt.Sprintf("port %d is redirected by chain %s, and agent %s did not say what it holds; it may be its, so it is left alone", params.Port, other, a)}}
			}
			return fail(protocol.ErrApplyFailed, "port %d is redirected by chain %s, which no live agent holds; it could not be reverted as an orphan", params.Port, other)
		}
	}

	listen := k.Listen
	if listen == nil {
		listen = proxy.ListenAny
	}
	lns, port, err := listen(families)
	if err != nil {
		return fail(protocol.ErrApplyFailed, "the proxy cannot listen: %v", err)
	}
	cfg := proxy.Config{AppPort: params.Port, ErrorCode: params.ErrorCode, ErrorBody: params.ErrorBody,
		Exclude: params.Exclude, Methods: params.Methods, Target: k.Target, Logf: env.logf}
	if params.DelayMs != nil {
		cfg.Delay = time.Duration(*params.DelayMs * float64(time.Millisecond))
	}
	if params.JitterMs != nil {
		cfg.Jitter = time.Duration(*params.JitterMs * float64(time.Millisecond))
	}
	if params.ErrorRate != nil {
		cfg.ErrorRate = *params.ErrorRate / 100
	}
	drain := k.Drain
	if drain == 0 {
		drain = time.Second
	}
	held := &httpHeld{
		r:       firewall.Redirect{FaultID: f.ID, Iface: iface, Port: params.Port, ProxyPort: port},
		backend: backend, proxy: proxy.Start(cfg, lns...), drain: drain,
	}
	tx := held.r.ApplyTransaction()
	for _, fam := range families {
		argv := firewall.RestoreArgv(backend, fam)
		r := env.Exec.Run(env.Ctx, argv, tx)
		if !r.OK() {
			if len(held.families) == 0 {
				// the first family's transaction failed: the nat table may have committed
				// without the filter one (legacy commits table by table), so look
				held.families = []int{fam}
			} else {
				held.families = append(held.families, fam)
			}
			return rollback(env, held, protocol.ErrApplyFailed, fmt.Sprintf("%s (IPv%d): %s", argv[0], fam, r.Why()))
		}
		held.families = append(held.families, fam)
	}
	held.resets = resetConnections(env, params.Port)
	if _, err := held.Check(env); err != nil {
		return rollback(env, held, protocol.ErrVerifyFailed, "read back: "+err.Error())
	}
	return Outcome{Held: held}
}

// resetConnections resets the established connections to port that came from elsewhere: they
// were opened before the redirect and go around the proxy. `ss -K` destroys sockets where the
// kernel allows it (CONFIG_INET_DIAG_DESTROY; it skips them silently where it does not): their
// clients see the reset at once and reconnect through the proxy. The connections still there
// afterwards are reset by the fault's filter rule at their next packet.
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
	for _, argv := range KillArgv(port, old) {
		env.Exec.Run(env.Ctx, argv, "")
	}
	after, err := env.Kernel.Connections(port)
	if err != nil {
		return fmt.Sprintf("%s opened before the fault: reset asked for, not read back (%v)", proxy.Count(len(old), "connection"), err)
	}
	left := 0
	for _, c := range after {
		for _, o := range old {
			if c == o {
				left++
			}
		}
	}
	if left == 0 {
		return fmt.Sprintf("%s opened before the fault reset (sock_destroy)", proxy.Count(len(old), "connection"))
	}
	return fmt.Sprintf("%s opened before the fault could not be destroyed here (no CONFIG_INET_DIAG_DESTROY in this kernel?): the reset rule ends them at their next packet", proxy.Count(left, "connection"))
}

// killBatch bounds the connections one ss command names.
const killBatch = 100

// ssAddr is ss's spelling of an address and port: a.b.c.d:p, [v6]:p.
func ssAddr(a netip.AddrPort) string {
	if a.Addr().Is4() {
		return a.String()
	}
	return "[" + a.Addr().String() + "]:" + strconv.Itoa(int(a.Port()))
}

// KillArgv is what destroys these connections of port: `ss -K` with a filter naming each one's
// remote end (argv; ss reads the filter from its arguments).
func KillArgv(port int, conns []kernel.Conn) [][]string {
	var out [][]string
	for start := 0; start < len(conns); start += killBatch {
		end := min(start+killBatch, len(conns))
		argv := []string{"ss", "-K", "-t", "-n", "-H", "state", "established", "sport", "=", ":" + strconv.Itoa(port), "and", "("}
		for i, c := range conns[start:end] {
			if i > 0 {
				argv = append(argv, "or")
			}
			argv = append(argv, "dst", ssAddr(c.Remote))
		}
		out = append(out, append(argv, ")"))
	}
	return out
}
