package service

import (
	"net"
	"testing"
	"time"

	"chaos-run/agent/internal/fakekernel"
	"chaos-run/agent/lease"
	"chaos-run/agent/protocol"
)

// FuzzStrangerRequest sends what any process of the pod can send to an agent's socket — any
// bytes — through the agent's own reading of a connection and its answer to a stranger: it
// must never panic, always answer with a reply the schema accepts, and never let a stranger
// change anything (no command runs, nothing is held). Seed corpus: testdata/fuzz.
func FuzzStrangerRequest(f *testing.F) {
	f.Add([]byte(`{"protocol":1,"op":"status","runId":"a","scanOrphans":false}`))
	f.Add([]byte(`{"protocol":1,"op":"revert","runId":"aaaa","faultId":"aaaa-s1"}`))
	f.Add([]byte(`{"protocol":1,"op":"sweep","runId":"a","own":true}`))
	f.Add([]byte(`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"f","leaseMs":1000,"spec":{"kind":"netem","netem":{"delayMs":5}}}}`))
	f.Add([]byte(`{"protocol":1,"op":"status"`))
	k := fakekernel.New()
	a := New(Config{Name: "chaos-agent-fuzz", RunID: "fuzz", Version: "test", TTL: time.Hour,
		Exec: k, Kernel: k, Clock: lease.NewFake(), Lock: &chanLock{ch: make(chan struct{}, 1)}, ReadFile: k.ReadFile})
	f.Fuzz(func(t *testing.T, raw []byte) {
		server, client := net.Pipe()
		go func() {
			_, _ = client.Write(raw)
			_ = client.Close()
		}()
		got, _ := readRequest(server, maxStrangerBytes, time.Second)
		_ = server.Close()
		r := a.HandleStranger(got, "a test stranger")
		if err := protocol.ValidateReply(r); err != nil {
			t.Fatalf("reply to %q does not validate: %v (%+v)", raw, err, r)
		}
		if r.OK && (r.Op != protocol.OpStatus || len(r.Commands) != 0) {
			t.Fatalf("a stranger's %s was served: %+v", r.Op, r)
		}
		if n := len(k.Calls()); n != 0 || len(a.books.records()) != 0 {
			t.Fatalf("a stranger's request changed something: %d commands, %d faults", n, len(a.books.records()))
		}
	})
}
