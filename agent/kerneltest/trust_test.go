//go:build kernel

package kerneltest

import (
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"chaos-run/agent/kill"
	"chaos-run/agent/protocol"
)

// Who may drive the agent, on a real kernel: the agent serves in the pod's namespaces; its own
// requester runs in its mount namespace (as `kubectl exec` into its container does), a
// stranger in a mount namespace of its own (`ip netns exec` makes one: another container of
// the pod), or as another user in the agent's.

func (ns *netns) chaosChains(t *testing.T) string {
	t.Helper()
	return strings.Join(ns.leftovers(t), " ")
}

// world copies the test binary where any user may run it.
func world(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chaos-trust-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(dir, "chaos-agent")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
	return path
}

func TestOnlyTheAgentsOwnContainerMayChangeAnything(t *testing.T) {
	ns := newNetns(t)
	if !backendWorks(ns, "nft") && !backendWorks(ns, "legacy") {
		t.Skip("no iptables backend works here")
	}
	agent := ns.serve("agent-tr")
	waitServing(t, ns, "agent-tr")
	r, code := ns.request("agent-tr", apply("tr", "tr-part", obj{"kind": "partition"}))
	mustOK(t, r, code)

	// another container of the pod: the pod's network namespace, a mount namespace of its own
	stranger := []string{"ip", "netns", "exec", ns.pod}
	for _, req := range []obj{
		revert("tr", "tr-part"),
		{"protocol": 1, "op": "status", "runId": "tr"},
		{"protocol": 1, "op": "sweep", "runId": "tr", "own": true},
		apply("tr", "tr-other", obj{"kind": "partition"}),
	} {
		r, code := ns.requestAs("agent-tr", req, stranger)
		if code != 4 || r.OK || r.Error.Code != protocol.ErrForbidden || !strings.Contains(r.Error.Message, "another mount namespace") {
			t.Fatalf("%v from a stranger: exit %d %+v", req["op"], code, r.Error)
		}
	}
	// what agents ask each other is still answered
	r, code = ns.requestAs("agent-tr", obj{"protocol": 1, "op": "status", "runId": "tr", "scanOrphans": false}, stranger)
	mustOK(t, r, code)
	if len(r.Faults) != 1 || r.Faults[0].ID != "tr-part" {
		t.Fatalf("peer status %+v", r.Faults)
	}
	// another user in the agent's own mount namespace
	bin := world(t)
	pid := fmt.Sprint(agent.Process.Pid)
	nobody := []string{"nsenter", "-t", pid, "-m", "-n", "-S", "65534", "-G", "65534", "--"}
	raw := `{"protocol":1,"op":"revert","runId":"tr","faultId":"tr-part"}`
	c := osexec.Command(nobody[0], append(nobody[1:], bin, "request", raw)...)
	c.Env = agentEnv("agent-tr")
	out, err := c.Output()
	var ee *osexec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(string(out), "runs as UID 65534, neither root nor the agent's UID 0") {
		t.Fatalf("revert as nobody: %v %s", err, out)
	}
	if got := ns.chaosChains(t); got == "" {
		t.Fatal("the partition is gone after the strangers' requests")
	}
	// the agent's own requester reverts it
	r, code = ns.request("agent-tr", revert("tr", "tr-part"))
	mustOK(t, r, code)
	if got := ns.chaosChains(t); got != "" {
		t.Fatalf("chains left in %s", got)
	}
}

func TestASquattedLockRefusesAnApplyAndALapsedLeaseIsRevertedAnyway(t *testing.T) {
	ns := newNetns(t)
	if !backendWorks(ns, "nft") && !backendWorks(ns, "legacy") {
		t.Skip("no iptables backend works here")
	}
	ns.serve("agent-sq")
	waitServing(t, ns, "agent-sq")
	held := obj{"protocol": 1, "op": "apply", "runId": "sq", "fault": obj{"id": "sq-held", "leaseMs": 3000, "spec": obj{"kind": "partition"}}}
	r, code := ns.request("agent-sq", held)
	mustOK(t, r, code)
	// a process of the pod binds the lock's name and keeps it
	var lockFD int
	inNetns(t, ns.pod, func() {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: protocol.LockAddress()}); err != nil {
			t.Error(err)
			return
		}
		lockFD = fd
	})
	if t.Failed() {
		return
	}
	defer unix.Close(lockFD)
	r, code = ns.request("agent-sq", apply("sq", "sq-new", obj{"kind": "partition", "scope": obj{"port": 5432}}))
	if code != 1 || r.Error == nil || r.Error.Code != protocol.ErrApplyFailed || !strings.Contains(r.Error.Message, "@chaos-agent/v1/lock is squatted") || len(r.Commands) != 0 {
		t.Fatalf("apply with the lock squatted: exit %d %+v %d commands", code, r.Error, len(r.Commands))
	}
	// the held fault's lease lapses (nobody renews it): reverted without the lock
	deadline := time.Now().Add(20 * time.Second)
	for ns.chaosChains(t) != "" {
		if time.Now().After(deadline) {
			t.Fatal("the lapsed lease was not reverted while the lock was squatted")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A kill signals the process it planned, never one that took its PID after it exited: with
// kill(2) by PID, the second process would get the signal.
func TestAKillReachesThePlannedProcessOrNone(t *testing.T) {
	for _, mechanism := range []string{kill.ByKill, kill.ByPtrace} {
		planned := osexec.Command("sleep", "60")
		if err := planned.Start(); err != nil {
			t.Fatal(err)
		}
		pid := planned.Process.Pid
		tr := kill.Real{}
		h, err := tr.Open(pid)
		if err != nil || h.FD < 0 {
			t.Fatalf("pidfd_open: %+v %v", h, err)
		}
		p := kill.Plan{Handle: h, PID: pid, Process: "sleep", SignalName: "SIGKILL", Signal: unix.SIGKILL, Mechanism: mechanism}
		// the planned process ends, and another gets its PID
		_ = planned.Process.Kill()
		_ = planned.Wait()
		other := startWithPID(t, pid)
		if err := kill.Do(tr, p); !errors.Is(err, kill.ErrGone) {
			t.Fatalf("%s: the deed said %v", mechanism, err)
		}
		// a signal sent would end it within moments
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			var ws unix.WaitStatus
			if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got != 0 || err != nil {
				t.Fatalf("%s: the process that took PID %d was signalled: %v %v", mechanism, pid, ws, err)
			}
		}
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if !strings.Contains(string(st), "TracerPid:\t0") || strings.Contains(string(st), "State:\tt") {
			t.Fatalf("%s: the other process was traced:\n%s", mechanism, st)
		}
		_ = other.Kill()
	}
}
