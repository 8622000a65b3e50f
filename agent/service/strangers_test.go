package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
		logged = append(logged, fmt.Sprintf(f, args...))
	}
	// the client's own socket name tells who it is: the agent's own requester, or a stranger
	a.cfg.Identify = func(c net.Conn) Peer {
		if strings.HasSuffix(c.RemoteAddr().String(), "/own") {
			return Peer{PID: os.Getpid(), UID: 0, MountNS: a.self.MountNS}
		}
		return Peer{PID: 9, UID: 0, MountNS: "mnt:[4026532777]"}
	}
	// a short path: a unix socket's name is at most 108 bytes, and TMPDIR may be long
	dir, err := os.MkdirTemp("", "ag")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
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

	// a ninth is closed unanswered, while the eight are still being served
	ninth := dial("stranger-i")
	// (its write may meet the close already: what matters is that nothing comes back)
	_, _ = ninth.Write([]byte(`{"protocol":1,"op":"revert","runId":"aaaa","faultId":"x"}`))
	// closed with the request unread: a reset
	if out, err := io.ReadAll(ninth); (err != nil && !errors.Is(err, syscall.ECONNRESET)) || len(out) != 0 {
		t.Fatalf("the ninth stranger got %q, %v; want its connection closed unanswered", out, err)
	}
	if n := a.strangers.Load(); n != maxStrangers {
		t.Fatalf("%d strangers' connections being served after the ninth was turned away, want %d", n, maxStrangers)
	}
	// the pod's clock moves on: the next line about strangers may be said
	p.clock.Advance(strangerNoteEvery)

	// the agent's own requester is served meanwhile
	askStatus(t, dial("own"))

	// the eight are answered (a bad request: they sent none) and closed once their time is up
	for i, c := range held {
		out, err := io.ReadAll(c)
		var bad protocol.Reply
		if err != nil || json.Unmarshal(out, &bad) != nil || bad.Error == nil || bad.Error.Code != protocol.ErrBadRequest {
			t.Fatalf("stranger %d: %q, %v", i, out, err)
		}
	}
	// at their read limit: well before the 10 s the agent's own requester is given
	if took := time.Since(start); took < strangerReadLimit || took > 8*time.Second {
		t.Fatalf("the strangers were answered after %s, want their read limit, %s", took, strangerReadLimit)
	}
	// then a stranger is served again
	for a.strangers.Load() != 0 {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("%d strangers' connections still being served", a.strangers.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	askStatus(t, dial("stranger-j"))

	// the log: the ninth turned away, then (the clock moved) the eight too slow — once, for
	// eight; nothing a stranger sent (the ninth's request) is in it
	logMu.Lock()
	defer logMu.Unlock()
	if len(logged) != 2 || !strings.HasPrefix(logged[0], "turned a stranger's connection away, unanswered: 8 are being served") ||
		!strings.HasPrefix(logged[1], "a stranger sent no whole request within 2s") {
		t.Fatalf("the agent's log: %q", logged)
	}
	for _, l := range logged {
		if strings.Contains(l, "revert") || !strings.Contains(l, "another mount namespace") {
			t.Fatalf("a line about a stranger: %q", l)
		}
	}
}

// askStatus sends a status from memory on c (the request any peer may send) and wants it served.
func askStatus(t *testing.T, c *net.UnixConn) {
	t.Helper()
	if _, err := c.Write([]byte(`{"protocol":1,"op":"status","runId":"aaaa","scanOrphans":false}`)); err != nil {
		t.Fatal(err)
	}
	_ = c.CloseWrite()
	var r protocol.Reply
	if out, err := io.ReadAll(c); err != nil || json.Unmarshal(out, &r) != nil {
		t.Fatalf("a status on %s: %q, %v", c.LocalAddr(), out, err)
	}
	mustOK(t, &r)
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

// A stranger that sends refused requests in a loop cannot flood the agent's log: its refusals are
// said as the other lines about strangers are, one at most every strangerNoteEvery.
func TestAStrangersRefusalsAreSaidAtMostEveryTenSeconds(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	var logged []string
	a.cfg.Logf = func(f string, args ...any) { logged = append(logged, fmt.Sprintf(f, args...)) }
	for range 1000 {
		mustFail(t, a.HandleStranger([]byte(revertReq("aaaa", "aaaa-s1")), "PID 9 is in another mount namespace"), protocol.ErrForbidden, 4)
	}
	if len(logged) != 1 || logged[0] != "refused a revert request from a stranger: PID 9 is in another mount namespace" {
		t.Fatalf("logged %q", logged)
	}
}
