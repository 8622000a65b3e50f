package service

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"chaos-run/agent/protocol"
)

// Another container's processes can reach the agent's socket. They cannot hold it: at most
// maxStrangers of their connections are served at once, each for strangerReadLimit at most; one
// beyond is closed unanswered, and the agent's own requester is served all the while. What
// happened is said in the agent's log, one line at most every strangerNoteEvery.
func TestStrangersAreServedAFewAtATimeAndBriefly(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	a.self = Self{UID: 0, MountNS: "mnt:[4026532001]"}
	var logMu sync.Mutex
	var logged []string
	a.cfg.Logf = func(f string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		logged = append(logged, f)
	}
	// the client's own socket name tells who it is: the agent's own requester, or a stranger
	a.cfg.Identify = func(c net.Conn) Peer {
		if strings.HasSuffix(c.RemoteAddr().String(), "/own") {
			return Peer{PID: os.Getpid(), UID: 0, MountNS: a.self.MountNS}
		}
		return Peer{PID: 9, UID: 0, MountNS: "mnt:[4026532777]"}
	}
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, "agent"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { _ = a.Serve(context.Background(), ln) }()
	dial := func(as string) *net.UnixConn {
		t.Helper()
		_ = os.Remove(filepath.Join(dir, as))
		c, err := net.DialUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, as), Net: "unix"}, &net.UnixAddr{Name: ln.Addr().String(), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		return c
	}

	// eight strangers connect and send nothing
	start := time.Now()
	held := make([]*net.UnixConn, maxStrangers)
	for i := range held {
		held[i] = dial("stranger-" + string(rune('a'+i)))
	}
	for a.strangers.Load() < maxStrangers {
		if time.Since(start) > strangerReadLimit/2 {
			t.Fatalf("%d strangers' connections being served, want %d", a.strangers.Load(), maxStrangers)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// a ninth is closed at once, unanswered
	ninth := dial("stranger-i")
	if out, err := io.ReadAll(ninth); err != nil || len(out) != 0 {
		t.Fatalf("the ninth stranger got %q, %v; want its connection closed unanswered", out, err)
	}
	if time.Since(start) >= strangerReadLimit {
		t.Fatalf("the ninth stranger waited %s", time.Since(start))
	}

	// the agent's own requester is served meanwhile
	own := dial("own")
	if _, err := own.Write([]byte(`{"protocol":1,"op":"status","runId":"aaaa","scanOrphans":false}`)); err != nil {
		t.Fatal(err)
	}
	_ = own.CloseWrite()
	var r protocol.Reply
	if out, err := io.ReadAll(own); err != nil || json.Unmarshal(out, &r) != nil {
		t.Fatalf("the agent's own status: %q, %v", out, err)
	}
	mustOK(t, &r)

	// the eight are answered (a bad request: they sent none) and closed once their time is up
	for i, c := range held {
		out, err := io.ReadAll(c)
		var bad protocol.Reply
		if err != nil || json.Unmarshal(out, &bad) != nil || bad.Error == nil || bad.Error.Code != protocol.ErrBadRequest {
			t.Fatalf("stranger %d: %q, %v", i, out, err)
		}
	}
	if took := time.Since(start); took < strangerReadLimit || took > strangerReadLimit+2*time.Second {
		t.Fatalf("the strangers were answered after %s, want their read limit, %s", took, strangerReadLimit)
	}
	// then a stranger is served again
	for a.strangers.Load() != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	peek := dial("stranger-j")
	if _, err := peek.Write([]byte(`{"protocol":1,"op":"status","runId":"aaaa","scanOrphans":false}`)); err != nil {
		t.Fatal(err)
	}
	_ = peek.CloseWrite()
	var status protocol.Reply
	if out, err := io.ReadAll(peek); err != nil || json.Unmarshal(out, &status) != nil {
		t.Fatalf("a stranger's status: %q, %v", out, err)
	}
	mustOK(t, &status)

	// the log says it once (the pod's clock did not move), without anything a stranger sent
	logMu.Lock()
	defer logMu.Unlock()
	if len(logged) != 1 || !strings.HasPrefix(logged[0], "turned a stranger's connection away, unanswered") {
		t.Fatalf("the agent's log: %q", logged)
	}
}

func TestAStrangerNoteIsSaidAtMostEveryTenSeconds(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	var logged []string
	a.cfg.Logf = func(f string, _ ...any) { logged = append(logged, f) }
	a.noteStranger("one")
	a.noteStranger("two")
	p.clock.Advance(strangerNoteEvery - time.Millisecond)
	a.noteStranger("three")
	p.clock.Advance(time.Millisecond)
	a.noteStranger("four")
	if strings.Join(logged, " ") != "one four" {
		t.Fatalf("logged %q", logged)
	}
}
