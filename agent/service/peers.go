package service

import (
	"context"
	"os"
	"sort"

	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// Peers finds and asks the other agents of the network namespace.
type Peers interface {
	// Live lists the agents whose sockets listen in this network namespace (self included).
	Live() ([]string, error)
	// Status asks one agent what it holds.
	Status(ctx context.Context, agent string, req *protocol.Request) (*protocol.Reply, error)
}

// SocketPeers finds live agents in /proc/net/unix (this network namespace's unix sockets) and
// asks them over their abstract sockets.
type SocketPeers struct{}

// Live implements Peers.
func (SocketPeers) Live() ([]string, error) {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	return ownership.LiveAgents(string(b)), nil
}

// Status implements Peers.
func (SocketPeers) Status(ctx context.Context, agent string, req *protocol.Request) (*protocol.Reply, error) {
	return protocol.Exchange(ctx, agent, req, protocol.MaxPeerReplyBytes)
}

// claims gathers what this agent and every live peer hold.
func (a *Agent) claims(ctx context.Context) *ownership.Claims {
	c := ownership.NewClaims(a.cfg.Name)
	for _, st := range a.books.states(a.cfg.Clock.Now()) {
		c.Add(a.cfg.Name, st)
	}
	replies, silent := a.askPeers(ctx)
	c.Unanswered = silent
	for _, name := range sortedKeys(replies) {
		for _, f := range replies[name].Faults {
			c.Add(name, f)
		}
	}
	return c
}

// maxPeers bounds how many live agents are asked at once: a pod has a few, but any process of
// the pod can bind names that look like agents' sockets, and each costs a connection and up to
// protocol.MaxPeerReplyBytes of reply (4 MiB in all).
const maxPeers = 32

// askPeers asks every live agent but this one what it holds (status from memory), all at once
// and within PeerTimeout in all — a peer that does not answer (a stranger's socket named like
// an agent's, a wedged agent) costs that much once, not once per peer: the replies by name,
// and the live agents that did not answer (sorted).
func (a *Agent) askPeers(ctx context.Context) (map[string]*protocol.Reply, []string) {
	replies := map[string]*protocol.Reply{}
	if a.cfg.Peers == nil {
		return replies, nil
	}
	names, silent, err := a.otherAgents()
	if err != nil {
		a.logf("cannot list the live agents: %v", err)
		return replies, []string{"(unknown: " + err.Error() + ")"}
	}
	pctx, cancel := context.WithTimeout(ctx, a.cfg.PeerTimeout)
	defer cancel()
	answers := make(chan peerAnswer, len(names))
	for _, name := range names {
		go func() { answers <- a.askPeer(pctx, name) }()
	}
	for range names {
		an := <-answers
		if an.why != "" {
			a.logf("live agent %s did not say what it holds (%s): leaving alone what could be its", an.name, an.why)
			silent = append(silent, an.name)
			continue
		}
		replies[an.name] = an.rep
	}
	sort.Strings(silent)
	return replies, silent
}

// otherAgents are the live agents but this one, at most maxPeers of them (names); those beyond
// are not asked (silent).
func (a *Agent) otherAgents() (names, silent []string, err error) {
	live, err := a.cfg.Peers.Live()
	if err != nil {
		return nil, nil, err
	}
	for _, name := range live {
		switch {
		case name == a.cfg.Name:
		case len(names) == maxPeers:
			silent = append(silent, name)
		default:
			names = append(names, name)
		}
	}
	return names, silent, nil
}

// peerAnswer is one peer's reply, or why it gave none.
type peerAnswer struct {
	name, why string
	rep       *protocol.Reply
}

// askPeer asks one live agent what it holds, from memory.
func (a *Agent) askPeer(ctx context.Context, name string) peerAnswer {
	no := false
	q := &protocol.Request{Protocol: protocol.Version, Op: protocol.OpStatus, RunID: a.cfg.RunID, ScanOrphans: &no}
	rep, err := a.cfg.Peers.Status(ctx, name, q)
	switch {
	case err != nil:
		return peerAnswer{name: name, why: err.Error()}
	case rep == nil || (!rep.OK && rep.Error == nil):
		return peerAnswer{name: name, why: "no reply"}
	case !rep.OK:
		return peerAnswer{name: name, why: rep.Error.Message}
	}
	return peerAnswer{name: name, rep: rep}
}

func sortedKeys(m map[string]*protocol.Reply) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
