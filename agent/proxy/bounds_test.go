package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The proxy's bounds: what a client (or an application) that misbehaves can hold of it, and for
// how long; Stop's bound whatever they do.

// answered is a connection to p that has had a GET of path answered (and its reader).
func answered(t *testing.T, p *Proxy, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, p)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	br := bufio.NewReader(c)
	readResponses(t, br, 1, "GET")
	return c, br
}

// pipelineForever sends n GETs on c and never reads (in the background: its writes block once
// the proxy stops reading).
func pipelineForever(c net.Conn, n int) {
	go func() {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		}
		_, _ = io.WriteString(c, b.String())
	}()
}

// waitFor polls cond every 10 ms for at most d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not after %s", what, d)
		}
	}
}

// stopWithin runs Stop(drain) and fails the test if it has not returned after limit (a wedge,
// not a speed: the limit is several times what Stop needs).
func stopWithin(t *testing.T, p *Proxy, drain, limit time.Duration) int {
	t.Helper()
	done := make(chan int, 1)
	go func() { done <- p.Stop(drain) }()
	select {
	case n := <-done:
		return n
	case <-time.After(limit):
		t.Fatalf("Stop(%s) still blocked after %s", drain, limit)
		return 0
	}
}

// Issue 19 item 1: a client that pipelines requests and never reads its answers (4 KiB each)
// fills the socket's buffers, and the proxy's write of an answer waits. Stop must not wait with
// it: the drain, then a reset, then return.
func TestStopIsBoundedWhenAClientNeverReads(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{ErrorRate: 1, ErrorCode: 503, ErrorBody: strings.Repeat("e", 4096)}, app.ln.Addr().String())
	c := dial(t, p)
	pipelineForever(c, 20_000)
	// the proxy has answered what the buffers take and waits to write the next answer
	var last int64
	waitFor(t, "the proxy's writes to wait", 10*time.Second, func() bool {
		n := p.Stats().Errors
		stuck := n > 0 && n == last
		last = n
		time.Sleep(100 * time.Millisecond)
		return stuck
	})
	if reset := stopWithin(t, p, time.Second, 6*time.Second); reset != 1 {
		t.Fatalf("%d connections reset, want the one that never read", reset)
	}
	if s := p.Stats(); s.Active != 0 {
		t.Fatalf("after Stop: %+v", s)
	}
}

// The same client without a Stop: the write that makes no progress for WriteTimeout ends the
// connection, so that it holds nothing of the proxy's for longer.
func TestAWriteThatMakesNoProgressEndsTheConnection(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{ErrorRate: 1, ErrorCode: 503, ErrorBody: strings.Repeat("e", 4096), WriteTimeout: 300 * time.Millisecond}, app.ln.Addr().String())
	c := dial(t, p)
	pipelineForever(c, 20_000)
	waitFor(t, "the connection to end", 10*time.Second, func() bool { return p.Stats().Connections == 1 && p.Stats().Active == 0 })
	// what the client reads is whole answers, then the end
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n := 0
	for ; ; n++ {
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		if b, err := io.ReadAll(r.Body); err != nil || r.StatusCode != 503 || len(b) != 4096 {
			// the last answer may be cut where the write stopped
			break
		}
	}
	if n == 0 {
		t.Fatal("no answer at all")
	}
}

// A client that has not finished connecting to the application when Stop comes (the
// application's accept queue full) is not waited for.
func TestStopDoesNotWaitForADial(t *testing.T) {
	addr := fullBacklog(t)
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	p := Start(Config{Target: func(net.Conn) (string, error) { return addr, nil }, DialTimeout: time.Minute, Logf: t.Logf}, ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "the connection", 5*time.Second, func() bool { return p.Stats().Active == 1 })
	stopWithin(t, p, 200*time.Millisecond, 5*time.Second)
	if s := p.Stats(); s.DialErrors != 0 {
		t.Fatalf("a dial called off by Stop counted as the application's refusal: %+v", s)
	}
}

// fullBacklog is a loopback address whose listener never accepts and whose accept queue is full:
// a connection to it waits (its SYNs dropped).
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "backlog")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	for i := 0; i < 4; i++ {
		// these fill the queue (the last ones wait, in the background)
		go func() {
			if c, err := net.DialTimeout("tcp", addr, 30*time.Second); err == nil {
				t.Cleanup(func() { c.Close() })
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	return addr
}

// An idle keep-alive connection is closed after IdleTimeout, and so is one that sends half a
// request head and stops; one whose request is still being answered, or that is relayed, is not.
func TestIdleConnectionsAreClosed(t *testing.T) {
	slow := make(chan struct{})
	app := newRawApp(t, func(r *http.Request) string {
		if r.URL.Path == "/slow" {
			<-slow
		}
		return ok(r.URL.Path)
	})
	p := start(t, Config{IdleTimeout: 300 * time.Millisecond}, app.ln.Addr().String())
	idle, _ := answered(t, p, "/a")
	half := dial(t, p)
	io.WriteString(half, "GET /b HTTP/1.1\r\nHost: x\r\n")
	busy := dial(t, p)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, c := range []net.Conn{idle, half} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("an idle connection: %v, want the proxy's close", err)
		}
	}
	// the request in flight for longer than IdleTimeout is answered, and the connection kept
	time.Sleep(200 * time.Millisecond)
	close(slow)
	bbr := bufio.NewReader(busy)
	if r := readResponses(t, bbr, 1, "GET")[0]; body(r) != "/slow" {
		t.Fatalf("%q", body(r))
	}
	io.WriteString(busy, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := readResponses(t, bbr, 1, "GET")[0]; body(r) != "/again" {
		t.Fatalf("%q", body(r))
	}
}

func TestARelayedConnectionHasNoIdleTimeout(t *testing.T) {
	echo := echoServer(t)
	p := start(t, Config{IdleTimeout: 200 * time.Millisecond}, echo)
	c := dial(t, p)
	c.Write([]byte{0x16, 3, 1, 'h', 'i'})
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	c.Write([]byte("again"))
	got = make([]byte, 5)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "again" {
		t.Fatalf("the relay after a second of silence: %q %v", got, err)
	}
}

// echoServer is an application that sends back what it gets, byte for byte.
func echoServer(t *testing.T) string {
	return serveConns(t, func(c net.Conn) { io.Copy(c, c) }).Addr().String()
}

// serveConns is an application on loopback that handles each connection with handle (and then
// closes it).
func serveConns(t testing.TB, handle func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln
}

// A quiet connection puts its buffers away (both sides wait without them), and takes them again
// for what comes next: requests, pipelined ones, the application's close.
func TestAQuietConnectionWaitsWithoutItsBuffers(t *testing.T) {
	app := newRawApp(t, func(r *http.Request) string {
		if r.URL.Path == "/bye" {
			return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye"
		}
		return ok(r.URL.Path)
	})
	p := start(t, Config{IdleTimeout: 2 * time.Second, ErrorRate: 1, ErrorCode: 503, Exclude: []string{"/a", "/b", "/bye"}}, app.ln.Addr().String())
	c := dial(t, p)
	br := bufio.NewReader(c)
	parked := func() bool {
		cc := onlyConn(p)
		return cc != nil && cc.cio.parked.Load() && cc.uio.parked.Load()
	}
	for round := 0; round < 2; round++ {
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		readResponses(t, br, 1, "GET")
		waitFor(t, "both sides parked", 3*time.Second, parked)
		io.WriteString(c, "GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /error HTTP/1.1\r\nHost: x\r\n\r\n")
		rs := readResponses(t, br, 2, "GET")
		if body(rs[0]) != "/b" || rs[1].StatusCode != 503 {
			t.Fatalf("after a park: %q %d", body(rs[0]), rs[1].StatusCode)
		}
	}
	waitFor(t, "both sides parked", 3*time.Second, parked)
	io.WriteString(c, "GET /bye HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := readResponses(t, br, 1, "GET")[0]; body(r) != "bye" {
		t.Fatalf("%q", body(r))
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("the application's close: %v", err)
	}
}

// onlyConn is the proxy's one open connection (nil: none, or more).
func onlyConn(p *Proxy) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) != 1 {
		return nil
	}
	for c := range p.conns {
		c.mu.Lock()
		ready := c.cio != nil
		c.mu.Unlock()
		if ready {
			return c
		}
	}
	return nil
}

// Over MaxConns a connection is relayed as it is: the application answers it as it would
// without the proxy (no error injected), and the counts say so.
func TestOverTheCapAConnectionIsRelayedAsItIs(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{MaxConns: 2, ErrorRate: 1, ErrorCode: 503}, app.ln.Addr().String())
	get := func(c net.Conn) int {
		t.Helper()
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
		return readResponses(t, bufio.NewReader(c), 1, "GET")[0].StatusCode
	}
	a, b := dial(t, p), dial(t, p)
	if get(a) != 503 || get(b) != 503 {
		t.Fatal("the first two are not faulted")
	}
	over := dial(t, p)
	if s := get(over); s != 200 {
		t.Fatalf("over the cap: %d, want the application's 200", s)
	}
	if s := p.Stats(); s.OverCap != 1 || s.Relayed != 1 || !strings.Contains(s.String(), "1 of them over the proxy's cap") {
		t.Fatalf("stats %+v: %s", s, s)
	}
	a.Close()
	waitFor(t, "a slot", 5*time.Second, func() bool { return p.Stats().Active == 2 })
	if s := get(dial(t, p)); s != 503 {
		t.Fatalf("under the cap again: %d", s)
	}
}

// A relay's writes are spliced in the kernel; one to a client that never reads ends after
// WriteTimeout there too (TCP_USER_TIMEOUT on a zero window).
func TestARelayToAClientThatNeverReadsEnds(t *testing.T) {
	app := serveConns(t, func(c net.Conn) {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	p := start(t, Config{WriteTimeout: 500 * time.Millisecond}, app.Addr().String())
	c := dial(t, p)
	c.Write([]byte{0x16, 3, 1}) // TLS: relayed
	waitFor(t, "the relay to end", 20*time.Second, func() bool { return p.Stats().Connections == 1 && p.Stats().Active == 0 })
}
