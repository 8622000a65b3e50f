package fault

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"chaos-run/agent/dns"
	"chaos-run/agent/firewall"
	"chaos-run/agent/protocol"
)

// DNS is the dns fault kind: a resolver in this process (package dns), on loopback ports, to
// which the pod's outgoing queries are redirected by an nftables table of the fault's own
// (firewall.DNSRedirect) that the kernel ends by itself once the lease is not renewed. The
// resolver's own queries to the nameservers carry DNSMark, which the redirect leaves alone.
// There is no iptables fallback: where nf_tables cannot hold the table, the fault is refused
// (unsupported) before anything is made.
type DNS struct {
	// ResolvConf is the file the pod's nameservers are read from (default /etc/resolv.conf:
	// the kubelet writes the same one into every container of the pod, the agent's too).
	ResolvConf string
}

// DNSMark marks the resolver's sockets to the nameservers ("CHAS"). The flows the redirect
// sends to the resolver are marked too, in their conntrack entries' ct mark: 0x00440000 under
// the mask 0x00ff0000 (firewall.FlowMark, FlowMask; the other bits kept), so that the revert
// deletes exactly their entries, which would otherwise keep the NAT to the closed resolver's
// port alive for as long as they live (30 s idle for UDP).
const DNSMark = 0x43484153

// Outcomed is a held fault with more to say in its revert's outcome (dns: what its resolver did).
type Outcomed interface {
	Outcome(out *protocol.RevertOutcome)
}

type dnsHeld struct {
	firewallHeld
	d       firewall.DNSRedirect
	server  *dns.Server
	skipped []string // nameservers whose UDP queries are not redirected, and why
	// unreachable: nameservers of a family the interface has no address in (an IPv6-only pod
	// given the cluster's IPv4 DNS address): the pod's queries to them fail, faulted or not
	unreachable []string
	earlier     string // what the apply did to the flows begun before it (EarlierQueriesWords)
}

func (h *dnsHeld) Kind() string { return protocol.KindDNS }

func (h *dnsHeld) reading() *protocol.DNSReading {
	c := h.server.Counts()
	return &protocol.DNSReading{Queries: c.Queries, UDP: c.UDP, TCP: c.TCP, Matched: c.Matched, Forwarded: c.Forwarded,
		UpstreamErrors: c.UpstreamErrors, Malformed: c.Malformed, Faulted: protocol.DNSFaultedBy{NXDomain: c.NXDomain,
			ServFail: c.ServFail, Refused: c.Refused, Timeout: c.Timeout, Addresses: c.AddressesAnswered, Delayed: c.Delayed}}
}

// State implements Stated: the resolver's counts so far.
func (h *dnsHeld) State(st *protocol.FaultState) { st.DNS = h.reading() }

// Outcome implements Outcomed: the resolver's counts, all of them once it stopped.
func (h *dnsHeld) Outcome(out *protocol.RevertOutcome) { out.DNS = h.reading() }

func (h *dnsHeld) resolverObject() protocol.KernelObject {
	ports := []string{fmt.Sprintf("tcp :%d", h.d.TCPPort)}
	for _, u := range h.d.UDP {
		ports = append(ports, fmt.Sprintf("udp :%d (%s)", u.Port, u.Nameserver))
	}
	return protocol.KernelObject{Type: protocol.ObjResolver, Name: strings.Join(ports, ", "),
		Detail: "the dns fault's resolver, on loopback, in the agent's process"}
}

func (h *dnsHeld) Objects() []protocol.KernelObject {
	out := h.objects(func(int) []protocol.KernelObject { return nil })
	if h.server.Serving() {
		out = append(out, h.resolverObject())
	}
	return out
}

func (h *dnsHeld) Check(env *Env) (string, error) {
	found, _, err := h.readBack(env, nil)
	if err != nil {
		return "", err
	}
	if !h.server.Serving() {
		return "", errors.New("the resolver is stopped")
	}
	udp := []string{"no udp"}
	for i, u := range h.d.UDP {
		if i == 0 {
			udp = nil
		}
		udp = append(udp, fmt.Sprintf("udp to %s → :%d", u.Nameserver, u.Port))
	}
	skipped := ""
	if len(h.skipped) > 0 {
		skipped = "; not redirected: " + strings.Join(h.skipped, ", ")
	}
	h.detail = fmt.Sprintf("dns on %s (nftables, %s): table %s: queries out of %s to port 53 redirected (tcp → :%d; %s; %s) while %q is in @%s, %d packets so far; %s%s%s; %s",
		h.iface, familyWords(h.families), h.nft.NftRef, h.iface, h.d.TCPPort, strings.Join(udp, ", "), strings.Join(found.Rules, ", "),
		h.iface, firewall.LeaseSet, found.Packets, found.Ends(), skipped, h.earlier, h.server.Counts())
	return h.detail, nil
}

// Revert removes the table first (new queries go to the nameservers directly), deletes the
// conntrack entries of the flows it redirected (else they would keep their NAT to the
// resolver's port, used again by the kernel once any nat chain is back in the namespace), then
// stops the resolver (queries in its hands end unanswered: their clients retry, directly). If
// the table cannot be removed the resolver keeps serving, and the revert is retried. If the
// entries cannot be deleted the revert still holds (the fault is gone; they expire by
// themselves) and its detail says so.
func (h *dnsHeld) Revert(env *Env) ([]protocol.KernelObject, string) {
	remaining, detail := firewall.NftRevert(env.Exec, env.Kernel, h.nft.NftRef)
	if len(remaining) > 0 {
		if h.server.Serving() {
			remaining = append(remaining, h.resolverObject())
		}
		return remaining, detail + "; the resolver keeps serving while its redirect is there"
	}
	detail += firewall.ForgetWords(firewall.ForgetRedirected(env.Exec, env.Kernel))
	if h.server.Serving() {
		counts := h.server.Counts()
		h.server.Stop()
		detail += fmt.Sprintf("; resolver stopped after %s", counts)
	}
	return nil, detail
}

// Apply implements Kind.
func (k DNS) Apply(env *Env, f protocol.FaultRequest) Outcome {
	p := f.Spec.DNS
	if p == nil {
		return failed(protocol.ErrBadRequest, "a dns fault needs its dns parameters")
	}
	cfg, rerr := resolverConfig(*p)
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	iface, families, chain, rerr := env.firewallTarget(f.ID, "", nil, "no query leaves by it")
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	if out := portFree(env, f.ID, chain, 53); out.Err != nil {
		return out
	}
	// no dns fault redirects port 53 here now: entries marked as redirected are a previous
	// one's (an agent that died holding it), stale, pointing at a closed port
	if err := firewall.ForgetRedirected(env.Exec, env.Kernel); err != nil {
		env.logf("dns fault %s: %v", f.ID, err)
	}
	path := k.ResolvConf
	if path == "" {
		path = "/etc/resolv.conf"
	}
	rc, err := dns.ReadResolvConf(path)
	if err != nil {
		return failed(protocol.ErrApplyFailed, "the pod's nameservers: %v", err)
	}
	held := &dnsHeld{firewallHeld: firewallHeld{faultID: f.ID, iface: iface}}
	udp, tcp, families, err := held.listen(families, rc)
	if err != nil {
		return failed(protocol.ErrApplyFailed, "the resolver cannot listen on loopback: %v", err)
	}
	if len(udp) == 0 && len(held.unreachable) > 0 {
		closeAll(udp, tcp)
		return failed(protocol.ErrUnsupported, "the pod's nameservers (%s) are of a family %s has no address in: the pod cannot reach them, so its queries fail with or without the fault, and a dns fault would fault none of them (an IPv6-only pod given the cluster's IPv4 DNS address; dnsConfig can name a nameserver it reaches); nothing was changed",
			strings.Join(held.unreachable, ", "), iface)
	}
	cfg.Mark, cfg.Logf = DNSMark, env.logf
	held.server = dns.Start(cfg, udp, tcp)
	lease := time.Duration(f.LeaseMs) * time.Millisecond
	t := held.d.NftTable(families, lease)
	made := time.Now()
	viaNft, rerr := makeTable(env, t)
	if !viaNft || rerr != nil {
		held.server.Stop()
		if rerr == nil {
			rerr = &protocol.ReplyError{Code: protocol.ErrUnsupported, Message: "nf_tables cannot hold the dns fault's table here (no nf_tables, or no inet family or NAT): a dns fault has no iptables fallback; nothing was changed"}
		}
		return Outcome{Err: rerr}
	}
	held.nft, held.families = t, families
	// the table is in place: the pod's UDP flows begun before it are redirected from their next
	// query on (firewall.ForgetEarlierQueries says what is left alone, and why)
	held.earlier = firewall.EarlierQueriesWords(firewall.ForgetEarlierQueries(env.Exec, env.Kernel, held.d, held.server.Forwarding))
	return heldFromNow(env, held, made, lease)
}

// resolverConfig is what the resolver does, from the fault's parameters.
func resolverConfig(p protocol.DNSParams) (dns.Config, *protocol.ReplyError) {
	bad := func(format string, a ...any) (dns.Config, *protocol.ReplyError) {
		return dns.Config{}, &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: fmt.Sprintf(format, a...)}
	}
	pats, err := dns.CompilePatterns(p.Names)
	if err != nil {
		return bad("dns.names: %v", err)
	}
	cfg := dns.Config{Patterns: pats, Rate: 100}
	if p.Rate != nil {
		cfg.Rate = *p.Rate
	}
	if p.DelayMs != nil {
		cfg.Delay = time.Duration(*p.DelayMs * float64(time.Millisecond))
	}
	if p.JitterMs != nil {
		cfg.Jitter = time.Duration(*p.JitterMs * float64(time.Millisecond))
	}
	if p.Answer != nil {
		cfg.Answer = p.Answer.Action
		for _, a := range p.Answer.Addresses {
			addr, err := netip.ParseAddr(a)
			if err != nil || addr.Zone() != "" {
				return bad("dns.answer.addresses: %q is not an IPv4 or IPv6 address", a)
			}
			cfg.Addresses = append(cfg.Addresses, addr.Unmap())
		}
	}
	return cfg, nil
}

// loopback is the address a redirect in the output hook sends a family's packets to.
func loopback(family int) netip.Addr {
	if family == 4 {
		return netip.MustParseAddr("127.0.0.1")
	}
	return netip.IPv6Loopback()
}

// listen opens the resolver's sockets on loopback: TCP on one port in each family it can (the
// families it cannot are not redirected), UDP on a port per nameserver of those families. A
// nameserver on loopback itself (a resolver in the pod: its queries do not leave by the
// interface) is not redirected.
func (h *dnsHeld) listen(families []int, rc dns.ResolvConf) (udp []dns.UDPListener, tcp []net.Listener, have []int, err error) {
	defer func() {
		if err != nil {
			closeAll(udp, tcp)
		}
	}()
	tcp, have, h.d.TCPPort, err = listenTCP(families)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, ns := range rc.Nameservers {
		switch {
		case ns.IsLoopback():
			h.skipped = append(h.skipped, ns.String()+" (on loopback: a resolver in the pod)")
			continue
		case !slices.Contains(families, familyOf(ns)):
			h.unreachable = append(h.unreachable, ns.String())
			h.skipped = append(h.skipped, fmt.Sprintf("%s (%s has no IPv%d address: the pod cannot reach it)", ns, h.iface, familyOf(ns)))
			continue
		case !slices.Contains(have, familyOf(ns)):
			h.skipped = append(h.skipped, ns.String()+" (its family is not redirected)")
			continue
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback(familyOf(ns)), 0)))
		if err != nil {
			return udp, tcp, nil, err
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		udp = append(udp, dns.UDPListener{Conn: c, Nameserver: netip.AddrPortFrom(ns, 53)})
		h.d.UDP = append(h.d.UDP, firewall.UDPRedirect{Nameserver: ns, Port: port})
	}
	h.d.FaultID, h.d.Iface, h.d.Mark = h.faultID, h.iface, DNSMark
	return udp, tcp, have, nil
}

// listenTCP listens on one port on the loopback of each family it can, the first family's port
// tried on the others (a few times over, should another socket hold it there).
func listenTCP(families []int) (lns []net.Listener, have []int, port int, err error) {
	for try := 0; try < 16; try++ {
		closeAll(nil, lns)
		lns, have, port = nil, nil, 0
		for _, f := range families {
			ln, lerr := net.Listen("tcp", netip.AddrPortFrom(loopback(f), uint16(port)).String())
			if lerr != nil {
				err = lerr
				continue
			}
			if port == 0 {
				port = ln.Addr().(*net.TCPAddr).Port
			}
			lns, have = append(lns, ln), append(have, f)
		}
		if len(have) == len(families) || (len(have) > 0 && try == 15) {
			return lns, have, port, nil
		}
	}
	return nil, nil, 0, err
}

func closeAll(udp []dns.UDPListener, tcp []net.Listener) {
	for _, u := range udp {
		_ = u.Conn.Close()
	}
	for _, l := range tcp {
		_ = l.Close()
	}
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}
