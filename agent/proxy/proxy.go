// Package proxy is the HTTP fault's proxy. It runs in the agent's serve process (goroutines: it
// dies with the agent and is stopped at revert, lease lapse, TTL and SIGTERM); iptables sends it
// the port's incoming connections (package firewall), and it opens one connection to the
// application for each, at the connection's original destination.
//
// HTTP/1.0 and HTTP/1.1 requests are faulted: each request whose method and path the fault
// covers waits the delay (± jitter) and is then either forwarded or, to errorRate of them,
// answered with the error instead. Bytes are forwarded as they came, both ways: no header is
// added, removed or rewritten. A connection that opens with the HTTP/2 preface (h2c) is relayed
// frame by frame by the proxy's HTTP/2 side (h2c.go, h2relay.go), its requests faulted the same
// way, and its gRPC calls by the grpc kind (Config.GRPC, grpc.go). What is neither — TLS, a connection after a 101 Switching
// Protocols, anything the proxy cannot read with certainty — is relayed byte for byte.
//
// Bounds (Config has the defaults and why): at most MaxConns connections are read as HTTP, those
// beyond are relayed untouched; a connection quiet for IdleTimeout is closed, one whose writes
// make no progress for WriteTimeout too; a quiet connection holds no buffer. An answer that ends
// a connection is followed by a lingering close (conn.go). Stop returns within its drain and a
// second more, whatever clients and the application do: no lock it or the janitor takes is held
// across socket I/O.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is what the proxy does.
type Config struct {
	// AppPort is the port the application serves: requests go to the connection's original
	// destination address at this port.
	AppPort int
	Delay   time.Duration
	Jitter  time.Duration
	// ErrorRate is the share (0..1) of faulted requests answered with ErrorCode.
	ErrorRate float64
	ErrorCode int
	ErrorBody string
	// Exclude: request paths that pass untouched (equal to an entry, or under it).
	Exclude []string
	// Methods: only these are faulted (none: every method).
	Methods []string
	// Target is where a client connection's requests go (default: its original destination,
	// with AppPort).
	Target func(client net.Conn) (string, error)
	// DialTimeout bounds the connection to the application (default 5 s).
	DialTimeout time.Duration
	// MaxConns bounds the connections read as HTTP at once (default 1024: their buffers, 16 KiB
	// a connection while it is busy, stay under 16 MiB of the pod's memory). One beyond it is
	// relayed as it is, spliced in the kernel, the fault not applied (Stats.OverCap, in the
	// fault's detail): the application sees it as without the proxy. Refusing it instead would
	// turn the proxy's limit into an outage of the application that no fault asked for.
	MaxConns int
	// IdleTimeout closes a client connection that owes nothing and sends no complete request
	// head for this long (default 2 min: longer than nginx's keepalive_timeout of 75 s and the
	// 60 s idle timeout of common load balancers, so that with most applications the
	// application's own timeout closes first, and the proxy's bounds a client that only holds a
	// connection). Relayed connections are the application's to time out.
	IdleTimeout time.Duration
	// WriteTimeout ends a connection when a write to either side makes no progress for this
	// long (default 60 s, nginx's send_timeout): a peer that stops reading holds nothing of the
	// proxy's for longer. For relayed connections the kernel applies it (TCP_USER_TIMEOUT).
	WriteTimeout time.Duration
	// GRPC: fault gRPC calls (the grpc kind) instead of HTTP requests (grpc.go).
	GRPC *GRPCConfig
	// MaxH2Conns bounds the connections served as h2c at once (default 128: an h2c connection
	// holds up to h2ConnWindow of its delayed streams' frames and header lists, each counted
	// h2HeldFrameCost more than its bytes, and about 100 KiB of buffers and HPACK tables: some
	// 45 MiB at most for all). One beyond it is relayed as it is, the fault not applied (Stats.OverCap).
	MaxH2Conns int
	// Float64 is the random source of the error roll and the jitter (default math/rand/v2).
	Float64 func() float64
	Logf    func(format string, a ...any)
}

// Stats count what the proxy did.
type Stats struct {
	Connections int64 // accepted
	Active      int64 // open now
	Requests    int64 // HTTP requests read
	Faulted     int64 // requests the fault covers (method and path)
	Errors      int64 // answered with the error
	Relayed     int64 // connections relayed byte for byte (TLS, HTTP/2, upgraded, unreadable)
	DialErrors  int64 // connections the application did not accept
	OverCap     int64 // of Relayed: accepted over MaxConns (or MaxH2Conns)
	H2C         int64 // connections served as h2c
	HTTP1       int64 // grpc kind: HTTP/1.x connections, relayed untouched (not in Relayed)
	// gRPC calls (the grpc kind): read, passed untouched as excluded, delayed, forwarded to the
	// application, and still open when the proxy stopped (ended by it). Faulted and Errors
	// count the calls the fault covered, and those answered with its status. An HTTP/2 stream
	// refused at its start (over what its connection may hold) is in none of these, nor in
	// Requests: it reached nobody, and the client may send it again.
	Calls, Excluded, Delayed, CallsRelayed, StreamsReset int64
	GRPCKind                                             bool // the proxy faults gRPC calls (Config.GRPC)
}

func (s Stats) String() string {
	relayed := fmt.Sprintf("%d relayed as they are", s.Relayed)
	if s.OverCap > 0 {
		relayed += fmt.Sprintf(", %d of them over the proxy's cap", s.OverCap)
	}
	if s.H2C > 0 {
		relayed += fmt.Sprintf(", %d h2c", s.H2C)
	}
	if s.HTTP1 > 0 {
		relayed += fmt.Sprintf(", %d HTTP/1.x passed untouched", s.HTTP1)
	}
	if s.GRPCKind {
		return fmt.Sprintf("%s (%d open, %s), %s (%d excluded, %d faulted: %d delayed, %d answered with the status; %d forwarded, %d ended open by the proxy's stop)",
			Count(s.Connections, "connection"), s.Active, relayed, Count(s.Calls, "gRPC call"), s.Excluded, s.Faulted, s.Delayed, s.Errors, s.CallsRelayed, s.StreamsReset)
	}
	return fmt.Sprintf("%s (%d open, %s), %s (%d faulted, %d answered with the error)",
		Count(s.Connections, "connection"), s.Active, relayed, Count(s.Requests, "request"), s.Faulted, s.Errors)
}

// Count is "1 request", "2 requests".
func Count[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Proxy serves connections from its listeners until Stop.
type Proxy struct {
	cfg  Config
	lns  []net.Listener
	port int

	mu       sync.Mutex
	conns    map[*conn]struct{}
	parsing  int // conns read as HTTP (not over the cap)
	stopping bool
	stopCh   chan struct{}
	stopped  chan struct{} // Stop is done
	dials    context.Context
	endDials context.CancelFunc
	accepts  sync.WaitGroup
	handlers sync.WaitGroup

	// the janitor's clock: epoch counts its ticks; a connection quiet for parkTicks puts its
	// buffers away, for idleTicks it is closed
	tick                 time.Duration
	epoch                atomic.Int64
	parkTicks, idleTicks int64

	connections, active, requests, faulted, errors, relayed, dialErrors, overCap atomic.Int64
	h2conns, http1, calls, excluded, delayed, callsRelayed, streamsReset         atomic.Int64
	h2Serving                                                                    int // conns served as h2c (p.mu)
	grpcAnswer                                                                   hpackFields
	// parked: bytes of buffers quiet connections have dropped since the janitor last gave
	// memory back
	parked atomic.Int64

	errKeep, errClose, errKeep10 []byte // the error response, per connection outcome
	errHeadKeep, errHeadClose    []byte // ... to a HEAD request (no body)
}

// ListenAny listens on a free port of this network namespace, on every address of the given
// families (4: 0.0.0.0, 6: [::], IPv6 only), the same port for both.
func ListenAny(families []int) ([]net.Listener, int, error) {
	want4, want6 := false, false
	for _, f := range families {
		want4 = want4 || f == 4
		want6 = want6 || f == 6
	}
	if !want4 && !want6 {
		return nil, 0, errors.New("no address family to listen on")
	}
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		var lns []net.Listener
		port := 0
		fail := func(err error) {
			for _, l := range lns {
				l.Close()
			}
			lastErr = err
		}
		if want4 {
			l, err := net.Listen("tcp4", "0.0.0.0:0")
			if err != nil {
				fail(err)
				continue
			}
			lns = append(lns, l)
			port = l.Addr().(*net.TCPAddr).Port
		}
		if want6 {
			l, err := net.Listen("tcp6", net.JoinHostPort("::", strconv.Itoa(port)))
			if err != nil {
				// the port is taken in IPv6 (or, with port 0, IPv6 does not work here)
				fail(err)
				if port == 0 {
					break
				}
				continue
			}
			lns = append(lns, l)
			port = l.Addr().(*net.TCPAddr).Port
		}
		return lns, port, nil
	}
	return nil, 0, fmt.Errorf("no free port for the proxy: %v", lastErr)
}

// Start serves on the listeners (all of one port).
func Start(cfg Config, lns ...net.Listener) *Proxy {
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.Float64 == nil {
		cfg.Float64 = rand.Float64
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.ErrorCode == 0 {
		cfg.ErrorCode = 500
	}
	if cfg.Target == nil {
		cfg.Target = func(c net.Conn) (string, error) { return originalTarget(c, cfg.AppPort) }
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 1024
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = time.Minute
	}
	if cfg.MaxH2Conns == 0 {
		cfg.MaxH2Conns = 128
	}
	p := &Proxy{cfg: cfg, lns: lns, conns: map[*conn]struct{}{}, stopCh: make(chan struct{}), stopped: make(chan struct{})}
	p.dials, p.endDials = context.WithCancel(context.Background())
	// a tick a second (a tenth of a shorter IdleTimeout): a connection quiet for one to two
	// ticks puts its buffers away
	p.tick = max(min(time.Second, cfg.IdleTimeout/10), time.Millisecond)
	p.parkTicks = 2
	p.idleTicks = int64((cfg.IdleTimeout + p.tick - 1) / p.tick)
	if len(lns) > 0 {
		p.port = lns[0].Addr().(*net.TCPAddr).Port
	}
	p.errKeep = errorResponse(cfg.ErrorCode, cfg.ErrorBody, "", true)
	p.errKeep10 = errorResponse(cfg.ErrorCode, cfg.ErrorBody, "keep-alive", true)
	p.errClose = errorResponse(cfg.ErrorCode, cfg.ErrorBody, "close", true)
	p.errHeadKeep = errorResponse(cfg.ErrorCode, cfg.ErrorBody, "", false)
	p.errHeadClose = errorResponse(cfg.ErrorCode, cfg.ErrorBody, "close", false)
	if cfg.GRPC != nil {
		p.grpcAnswer = grpcAnswerOf(cfg.GRPC)
	}
	for _, ln := range lns {
		p.accepts.Add(1)
		go p.accept(ln)
	}
	go p.janitor()
	return p
}

// Port is the port the proxy listens on.
func (p *Proxy) Port() int { return p.port }

// Stats are the counts so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		Connections: p.connections.Load(), Active: p.active.Load(), Requests: p.requests.Load(),
		Faulted: p.faulted.Load(), Errors: p.errors.Load(), Relayed: p.relayed.Load(), DialErrors: p.dialErrors.Load(),
		OverCap: p.overCap.Load(), H2C: p.h2conns.Load(), HTTP1: p.http1.Load(), Calls: p.calls.Load(),
		Excluded: p.excluded.Load(), Delayed: p.delayed.Load(), CallsRelayed: p.callsRelayed.Load(), StreamsReset: p.streamsReset.Load(),
		GRPCKind: p.cfg.GRPC != nil,
	}
}

// Serving: the listeners are open.
func (p *Proxy) Serving() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.stopping
}

// Stop closes the listeners and every connection: idle ones at once, those in the middle of a
// request once its response is through, and whatever is still open after drain is reset.
// Clients of a closed keep-alive connection open a new one (to the application directly, once
// the redirect is gone). It returns the connections that had to be reset.
//
// Stop is bounded: it takes no lock that is held across socket I/O (a client that never reads
// blocks only its own connection's writes, and they end when the reset closes the socket), so
// it returns after drain and at most resetGrace more, whatever the clients do.
func (p *Proxy) Stop(drain time.Duration) int {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		<-p.stopped
		return 0
	}
	p.stopping = true
	close(p.stopCh)
	p.endDials()
	for _, ln := range p.lns {
		ln.Close()
	}
	conns := p.snapshot(nil)
	p.mu.Unlock()
	defer close(p.stopped)
	p.accepts.Wait()
	// h2c clients are told (GOAWAY, conn.stop) to open no more streams here; those open are
	// given the drain
	for _, c := range conns {
		c.stop()
	}
	done := make(chan struct{})
	go func() { p.handlers.Wait(); close(done) }()
	timer := time.NewTimer(drain)
	defer timer.Stop()
	select {
	case <-done:
		return 0
	case <-timer.C:
	}
	p.mu.Lock()
	left := p.snapshot(nil)
	p.mu.Unlock()
	p.streamsReset.Add(callsOf(left))
	for _, c := range left {
		c.reset()
	}
	timer.Reset(resetGrace)
	select {
	case <-done:
	case <-timer.C:
		// never seen: every wait of a connection ends with its sockets; said, not waited for
		p.cfg.Logf("proxy :%d: connections still ending %s after they were reset", p.port, resetGrace)
	}
	return len(left)
}

// resetGrace: how long Stop waits for the connections it reset to end.
const resetGrace = time.Second

// snapshot appends the open connections to out (p.mu held).
func (p *Proxy) snapshot(out []*conn) []*conn {
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

// janitor ticks the connections' clock: it puts away the buffers of connections quiet for a
// tick or two (an idle connection holds no buffer) and closes those quiet for IdleTimeout.
func (p *Proxy) janitor() {
	t := time.NewTicker(p.tick)
	defer t.Stop()
	var conns []*conn
	for {
		select {
		case <-p.stopCh:
			return
		case <-t.C:
		}
		now := p.epoch.Add(1)
		p.mu.Lock()
		conns = p.snapshot(conns[:0])
		p.mu.Unlock()
		for _, c := range conns {
			c.tend(now)
		}
		clear(conns)
		if p.parked.Load() >= releaseAfter {
			// a burst is over and its buffers dropped: the pod gets their memory back now, not
			// at the runtime's next collection and scavenge (minutes away in a quiet agent)
			p.parked.Store(0)
			debug.FreeOSMemory()
		}
	}
}

// releaseAfter: how many bytes of parked buffers make the janitor give memory back to the pod.
const releaseAfter = 1 << 20

func (p *Proxy) accept(ln net.Listener) {
	defer p.accepts.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			p.mu.Lock()
			stopping := p.stopping
			p.mu.Unlock()
			if stopping || errors.Is(err, net.ErrClosed) {
				return
			}
			p.cfg.Logf("proxy :%d: accept: %v", p.port, err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		p.mu.Lock()
		if p.stopping {
			p.mu.Unlock()
			c.Close()
			return
		}
		cc := newConn(p, c)
		if p.parsing < p.cfg.MaxConns {
			p.parsing++
		} else {
			cc.spliced = true
		}
		p.conns[cc] = struct{}{}
		p.handlers.Add(1)
		p.mu.Unlock()
		p.connections.Add(1)
		p.active.Add(1)
		go cc.serve()
	}
}

func (p *Proxy) forget(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	if !c.spliced {
		p.parsing--
	}
	p.mu.Unlock()
	p.active.Add(-1)
	p.handlers.Done()
}

// covers: the fault applies to this request.
func (p *Proxy) covers(q *request) bool {
	if len(p.cfg.Methods) > 0 {
		found := false
		for _, m := range p.cfg.Methods {
			if string(q.method) == m {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, e := range p.cfg.Exclude {
		if excluded(q.path, e) {
			return false
		}
	}
	return true
}

// excluded: path is the entry or under it.
func excluded(path []byte, entry string) bool {
	if len(path) < len(entry) || string(path[:len(entry)]) != entry {
		return false
	}
	return len(path) == len(entry) || strings.HasSuffix(entry, "/") || path[len(entry)] == '/'
}

// pickDelay is one request's delay: the delay ± the jitter (uniform), never below zero.
func (p *Proxy) pickDelay() time.Duration {
	d := p.cfg.Delay
	if p.cfg.Jitter > 0 {
		d += time.Duration((p.cfg.Float64()*2 - 1) * float64(p.cfg.Jitter))
	}
	return max(d, 0)
}

// delay waits one request's delay, or less if the proxy stops meanwhile.
func (p *Proxy) delay() {
	d := p.pickDelay()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-p.stopCh:
		t.Stop()
	}
}

var reasons = map[int]string{
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
	409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
	414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable", 417: "Expectation Failed",
	418: "I'm a teapot", 421: "Misdirected Request", 422: "Unprocessable Content", 423: "Locked", 424: "Failed Dependency",
	425: "Too Early", 426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
	504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates", 507: "Insufficient Storage",
	508: "Loop Detected", 510: "Not Extended", 511: "Network Authentication Required",
}

// errorResponse is the injected error, whole. connection: "" (HTTP/1.1 keep-alive, the default),
// "keep-alive" (HTTP/1.0) or "close".
func errorResponse(code int, body, connection string, withBody bool) []byte {
	reason := reasons[code]
	if reason == "" {
		reason = "Error"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n", code, reason, len(body))
	if connection != "" {
		fmt.Fprintf(&b, "Connection: %s\r\n", connection)
	}
	b.WriteString("\r\n")
	if withBody {
		b.WriteString(body)
	}
	return []byte(b.String())
}
