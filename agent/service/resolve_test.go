package service

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"chaos-run/agent/internal/fakekernel"
	"chaos-run/agent/lease"
	"chaos-run/agent/protocol"
)

// A resolve sends traffic from the pod: a stranger may not ask for one.
func TestAStrangerMayNotResolve(t *testing.T) {
	k := fakekernel.New()
	a := New(Config{Name: "chaos-agent-r", RunID: "r", Version: "test", TTL: time.Hour,
		Exec: k, Kernel: k, Clock: lease.NewFake(), Lock: &chanLock{ch: make(chan struct{}, 1)}, ReadFile: k.ReadFile})
	r := a.HandleStranger([]byte(`{"protocol":1,"op":"resolve","runId":"r","names":["x"],"type":"A","count":1,"timeoutMs":100}`), "a test stranger")
	if r.OK || r.Error == nil || r.Error.Code != protocol.ErrForbidden || protocol.ExitCode(r) != 4 || r.Op != protocol.OpResolve {
		t.Fatalf("%+v", r)
	}
}

// The target container's resolv.conf is read through /proc/PID/root where one of its processes
// is visible.
func TestTheTargetsResolvConfThroughProc(t *testing.T) {
	root := t.TempDir()
	id := "0123456789abcdef0123"
	for pid, files := range map[string]map[string]string{
		"1":  {"cgroup": "0::/agent\n", "status": "Name:\tagent\nPPid:\t0\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0\n"},
		"42": {"cgroup": "0::/kubepods/pod/" + id + "\n", "status": "Name:\tapp\nPPid:\t0\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0\n", "root/etc/resolv.conf": "nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local\noptions ndots:5\n"},
	} {
		for name, text := range files {
			path := filepath.Join(root, pid, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	rc, err := targetResolvConf(root, id)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Path != filepath.Join(root, "42/root/etc/resolv.conf") || rc.Nameservers[0].String() != "10.96.0.10" || rc.Ndots != 5 || len(rc.Search) != 2 {
		t.Fatalf("%+v", rc)
	}
}
