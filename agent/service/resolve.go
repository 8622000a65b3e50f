package service

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"chaos-run/agent/dns"
	"chaos-run/agent/kill"
	"chaos-run/agent/protocol"
)

// resolve serves the resolve op (the dns probe): names resolved from this network namespace as
// the pod's application resolves them — with the target container's resolv.conf, through any
// dns fault the pod holds. It changes nothing, so it takes no lock: a probe's minute of queries
// never holds up a renewal. Only the agent's own requester gets here (strangers may only ask a
// status from memory).
func (a *Agent) resolve(ctx context.Context, req *protocol.Request) *protocol.Reply {
	r := a.reply(protocol.OpResolve, nil)
	rc, err := targetResolvConf("", req.ContainerID)
	if err != nil {
		return failed(r, &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: "no resolv.conf to resolve with: " + err.Error()})
	}
	qtype := dnsmessage.TypeA
	if req.QType == "AAAA" {
		qtype = dnsmessage.TypeAAAA
	}
	names := dns.Resolve(ctx, rc, dns.ResolveSpec{Names: req.Names, Type: qtype, Count: req.Count,
		Timeout: time.Duration(req.TimeoutMs) * time.Millisecond, TCP: req.TCP})
	ns := []string{}
	for _, n := range rc.Nameservers {
		ns = append(ns, n.String())
	}
	r.Resolved = &protocol.ResolveResult{ResolvConf: rc.Path, Nameservers: ns, Search: rc.Search, Ndots: rc.Ndots, Names: names}
	return r
}

// targetResolvConf reads the target container's resolv.conf where one of its processes is
// visible (a shared PID namespace: through /proc/PID/root), else the agent's own /etc/resolv.conf
// — the kubelet writes the same file into every container of a pod, ephemeral ones included, so
// the two differ only where something in the target rewrote its copy.
func targetResolvConf(procRoot, containerID string) (dns.ResolvConf, error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	if containerID != "" {
		if pid, _, err := kill.Target(kill.RealProc{Root: procRoot}, containerID); err == nil {
			path := filepath.Join(procRoot, strconv.Itoa(pid), "root", "etc", "resolv.conf")
			if rc, err := dns.ReadResolvConf(path); err == nil {
				return rc, nil
			}
		}
	}
	rc, err := dns.ReadResolvConf("/etc/resolv.conf")
	if err != nil {
		return rc, fmt.Errorf("%v (and no process of the target container visible to read its own)", err)
	}
	return rc, nil
}
