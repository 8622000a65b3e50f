package service

import (
	"context"
	"os"

	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

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
