//go:build kernel

package kerneltest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"chaos-run/agent/protocol"
)

// The runner's line to the agent, on a real kernel: with CHAOS_AGENT_REQUESTS=stdin the serve
// process answers applies, renewals and reverts written on its stdin, on its stdout. No other process of the
// pod opens that stdin: root with every capability the agent has (and more) but not
// CAP_SYS_PTRACE, in another mount namespace (another container of a pod that shares its PID
// namespace), is refused /proc/PID/fd/0 — and is let in to a serve process that takes no line
// (dumpable, as every process is by default): the refusal is the line's doing.
func TestTheLineOnStdinIsServedAndNoOtherProcessOpensIt(t *testing.T) {
	ns := newNetns(t)
	if !backendWorks(ns, "nft") && !backendWorks(ns, "legacy") {
		t.Skip("no iptables backend works here")
	}
	// the agents, and the runner's exec into the first, with an agent's capabilities only, as in
	// a pod; the stranger below has every other one but CAP_SYS_PTRACE
	asAgent := []string{"setpriv", "--bounding-set=-all,+net_admin,+net_raw", "--inh-caps=-all", "--"}
	var in io.WriteCloser
	var out io.ReadCloser
	agent := ns.serveWith("agent-ln", func(c *osexec.Cmd) {
		c.Env = append(c.Env, "CHAOS_AGENT_REQUESTS=stdin")
		in, _ = c.StdinPipe()
		out, _ = c.StdoutPipe()
	}, append([]string{"nsenter", "--net=/var/run/netns/" + ns.pod, "--"}, asAgent...)...)
	plain := ns.serveVia("agent-lp", append([]string{"nsenter", "--net=/var/run/netns/" + ns.pod, "--"}, asAgent...)...)
	waitServing(t, ns, "agent-ln")
	waitServing(t, ns, "agent-lp")
	r, code := ns.requestAs("agent-ln", apply("ln", "ln-part", obj{"kind": "partition"}), append(ns.inAgent("agent-ln"), asAgent...))
	mustOK(t, r, code)

	replies := bufio.NewScanner(out)
	ask := func(tag string, req obj) *protocol.Reply {
		t.Helper()
		raw, _ := json.Marshal(req)
		if _, err := fmt.Fprintf(in, "%s %s\n", tag, raw); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			for replies.Scan() {
				if rest, ok := strings.CutPrefix(replies.Text(), protocol.LineReplyPrefix+tag+" "); ok {
					got <- rest
					return
				}
			}
		}()
		select {
		case line := <-got:
			var rep protocol.Reply
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				t.Fatalf("%s: %v: %s", tag, err, line)
			}
			return &rep
		case <-time.After(10 * time.Second):
			t.Fatalf("no reply tagged %s on stdout", tag)
			return nil
		}
	}
	if rep := ask("k1", obj{"protocol": 1, "op": "renew", "runId": "ln", "faultId": "ln-part", "leaseMs": 30000}); !rep.OK || rep.Op != protocol.OpRenew {
		t.Fatalf("renewal on the line: %+v", rep)
	}
	if rep := ask("k2", obj{"protocol": 1, "op": "sweep", "runId": "ln", "own": true}); rep.OK || rep.Error == nil || rep.Error.Code != protocol.ErrForbidden {
		t.Fatalf("a sweep on the line: %+v", rep)
	}

	// root in another mount namespace, every capability but CAP_SYS_PTRACE
	stranger := []string{"ip", "netns", "exec", ns.pod, "setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace", "--", "dd", "if=/dev/null", "conv=notrunc", "status=none"}
	open := func(pid int) (string, error) {
		argv := append(append([]string{}, stranger...), fmt.Sprintf("of=/proc/%d/fd/0", pid))
		b, err := osexec.Command(argv[0], argv[1:]...).CombinedOutput()
		return string(b), err
	}
	if said, err := open(plain.Process.Pid); err != nil {
		t.Fatalf("the control: a stranger could not open a dumpable serve process's stdin either (%v: %s), so this test proves nothing", err, said)
	}
	if said, err := open(agent.Process.Pid); err == nil || !strings.Contains(said, "Permission denied") {
		t.Fatalf("a stranger opened the stdin of the agent that takes the runner's line: %v %s", err, said)
	}

	if rep := ask("k3", revert("ln", "ln-part")); !rep.OK || rep.Op != protocol.OpRevert {
		t.Fatalf("revert on the line: %+v", rep)
	}
	if got := ns.chaosChains(t); got != "" {
		t.Fatalf("chains left in %s", got)
	}
}
