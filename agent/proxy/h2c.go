package proxy

import (
	"net"
	"strings"
	"sync/atomic"
	"time"
)

// The proxy's HTTP/2 side: a client connection that opens with the HTTP/2 connection preface
// (h2c, HTTP/2 with prior knowledge, as gRPC runs inside a cluster) is relayed frame by frame to
// one connection of its own to the application (h2relay.go: the proxy's own framer and HPACK,
// no HTTP/2 server or client of the standard library's — which would bring net/http and
// crypto/tls into the agent, and handed each call between several goroutines). Each stream is
// faulted at its start: a gRPC call (content-type application/grpc…) by the grpc kind, any other
// request by the http kind; the other kind's streams pass untouched. Streams are forwarded as
// they come, both ways, headers and trailers as they are.
//
// Bounds: frame and header sizes, streams per connection and what a connection holds for its
// delayed streams (the constants below) bound what one connection holds; MaxH2Conns bounds the
// connections served so (those beyond are relayed as they are, like those over MaxConns). The
// application is dialled at the client connection's own target (Config.Target: its original
// destination), as for HTTP/1.x.

// The HTTP/2 connection preface a client with prior knowledge opens with (RFC 9113 3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Bounds of one h2c connection (it lives in a pod it was not sized for).
const (
	h2MaxStreams     = 100       // concurrent streams a client may open (gRPC's servers allow 100 too)
	h2ConnWindow     = 256 << 10 // what a connection holds of its delayed streams' frames
	h2MaxFrame       = 16 << 10  // the protocol's minimum maximum frame size, both ways
	h2MaxHeaderBytes = 64 << 10  // a header block and list (gRPC's default limit is 16 KiB of metadata... x4)
	h2BodyReserve    = 4 << 10   // of the client's connection window, kept for the http kind's error bodies
)

// serveH2 relays the connection as h2c until it ends; its first bytes (the preface at least)
// are in c.cr.
func (c *conn) serveH2() {
	p := c.p
	p.h2conns.Add(1)
	defer func() {
		p.mu.Lock()
		p.h2Serving--
		p.mu.Unlock()
	}()
	<-c.resp // the response side has yielded (takeH2 closed its application connection)
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	up, err := d.DialContext(p.dials, "tcp", c.target)
	var uio *rawIO
	if err == nil {
		if uio, err = newRawIO(up, p.cfg.WriteTimeout); err != nil {
			up.Close()
		}
	}
	if err != nil {
		if p.dials.Err() == nil {
			p.dialErrors.Add(1)
			p.cfg.Logf("proxy :%d: h2c connection from %s: the application at %s: %v", p.port, c.client.RemoteAddr(), c.target, err)
		}
		setLinger0(c.client)
		c.closeAll()
		return
	}
	r := newH2Relay(c, up, uio)
	c.mu.Lock()
	closed, closing := c.closed, c.closing
	if !closed {
		c.up, c.h2r = up, r
	}
	c.mu.Unlock()
	if closed {
		up.Close()
		return
	}
	if closing {
		go r.stop()
	}
	r.run()
}

// h2Call is what the fault does with one stream, decided at its start.
type h2Call struct {
	grpc    bool          // a gRPC call of the grpc kind: open (callsOpen) until it ends
	counted bool          // ... counted as forwarded when it is
	roll    bool          // faulted: after its delay, ErrorRate of these are answered
	delay   time.Duration // held this long first (0: not held)
	tallied h2Tally       // what the stream counts as, once the relay takes it (tally)
}

// h2Tally is what a stream counts as in the proxy's figures.
type h2Tally struct {
	call, excluded, request, faulted, delayed bool
}

// decide is the fault's decision for a stream at its start: a gRPC call is the grpc kind's
// (excluded, or faulted: delayed, then maybe answered with the status), any other request the
// http kind's (covered by its methods and paths: delayed, then maybe answered with the error).
// The other kind's streams pass untouched. Nothing is counted until the relay takes the stream
// (tally): one it refuses at its start (over what the connection may hold) reached nobody, and
// the client may send it again.
func (p *Proxy) decide(method, path, contentType string) h2Call {
	var k h2Call
	if isGRPC(contentType) {
		if p.cfg.GRPC == nil {
			// the http kind leaves gRPC calls alone: an HTTP status would reach the client as a
			// gRPC status of the client library's choosing
			return k
		}
		k.grpc, k.counted, k.tallied.call = true, true, true
		if p.callExcluded(path) {
			k.tallied.excluded = true
			return k
		}
		k.tallied.faulted = true
		if p.cfg.Delay > 0 || p.cfg.Jitter > 0 {
			k.tallied.delayed = true
			k.delay = p.pickDelay()
		}
		k.roll = true
		return k
	}
	if p.cfg.GRPC != nil {
		return k
	}
	k.tallied.request = true
	path, _, _ = strings.Cut(path, "?")
	if !p.covers(&request{method: []byte(method), path: []byte(path)}) {
		return k
	}
	k.tallied.faulted = true
	if p.cfg.Delay > 0 || p.cfg.Jitter > 0 {
		k.delay = p.pickDelay()
	}
	k.roll = true
	return k
}

// tally counts a stream the relay took as decide said.
func (p *Proxy) tally(k h2Call) {
	for _, c := range []struct {
		on bool
		n  *atomic.Int64
	}{{k.tallied.call, &p.calls}, {k.tallied.excluded, &p.excluded}, {k.tallied.request, &p.requests}, {k.tallied.faulted, &p.faulted}, {k.tallied.delayed, &p.delayed}} {
		if c.on {
			c.n.Add(1)
		}
	}
}

// callsOf: the gRPC calls open on these connections now.
func callsOf(conns []*conn) (n int64) {
	for _, c := range conns {
		n += c.callsOpen.Load()
	}
	return n
}
