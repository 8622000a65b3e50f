package proxy

import (
	"bufio"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// One client connection and its connection to the application. Two goroutines: the request side
// reads requests from the client, faults them and forwards the rest; the response side relays
// the application's responses back, in order, with the injected errors in their places (a queue
// of what each request is owed, so pipelined requests keep their order). A close on either side
// is passed on to the other, as it would be without the proxy.
//
// Locks. c.mu guards the connection's state (the queue, the flags) and is never held across
// socket I/O: Stop, the janitor and the other side take it, and a client that stops reading must
// hold none of them up. c.wmu makes the writes to the client one at a time and in order: the
// response side holds it from a response's first byte through the injected errors queued behind
// that response, the request side to answer with nothing owed. Only the two sides take it, and a
// write under it ends within WriteTimeout or with the socket (Stop's reset). wmu is taken before
// mu, never while mu is held.
//
// Buffers: 4 KiB each way and side (a head longer than a buffer is read in pieces, a body streams
// through), from pools. A connection quiet for a tick or two puts them back and waits for its
// next bytes without them (rawIO.waitReadable): an idle connection costs the pod's memory its two
// goroutines and little more (npm run bench -- proxy-memory).

const bufSize = 4 << 10

// After an answer that ends the connection, the client's socket is shut for writing (the answer,
// then FIN) and what the client still sends is read and dropped, for at most lingerTime and
// lingerBytes, before the last close: a socket closed with unread data sends a reset, which can
// destroy the answer before the client has read it (a client still sending a body it was not
// asked for, or pipelined requests). Go's net/http and nginx (lingering_close) do the same.
const (
	lingerTime  = 5 * time.Second
	lingerBytes = 1 << 20
)

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}
)

func getReader(r io.Reader) *bufio.Reader {
	b := readers.Get().(*bufio.Reader)
	b.Reset(r)
	return b
}

func putReader(b *bufio.Reader) {
	if b != nil {
		b.Reset(nil)
		readers.Put(b)
	}
}

func getWriter(w io.Writer) *bufio.Writer {
	b := writers.Get().(*bufio.Writer)
	b.Reset(w)
	return b
}

func putWriter(b *bufio.Writer) {
	if b != nil && b.Buffered() == 0 {
		b.Reset(nil)
		writers.Put(b)
	}
}

func bufSizeOf(b *bufio.Writer) int {
	if b == nil {
		return 0
	}
	return b.Size()
}

type item struct {
	synthetic  []byte // an injected error response (nil: the application answers)
	closeAfter bool   // synthetic: the connection ends after it
	head       bool   // a HEAD request: no body in its response
	tunnel     bool   // an Upgrade or CONNECT request: it may switch the connection to a relay
	connect    bool
}

type conn struct {
	p        *Proxy
	client   net.Conn
	up       net.Conn // once dialled (set under mu)
	cio, uio *rawIO   // the client's and the application's sockets (set with up)
	cr, ur   *bufio.Reader
	cw, uw   *bufio.Writer // cw under wmu
	// spliced: accepted over the cap; relayed as it is from the start, with no buffer of the
	// proxy's
	spliced bool

	reqHead, respHead, scratch []byte

	wmu sync.Mutex

	mu       sync.Mutex
	cond     *sync.Cond
	q        []item
	idle     bool  // the request side waits for the first byte of a request
	inHead   bool  // ... or reads a request's head
	lastBusy int64 // the janitor's epoch when the connection last had something to do
	closing  bool  // Stop: close as soon as nothing is in flight
	reqDone  bool  // the request side reads no more requests
	upDone   bool  // the application closed the connection
	respDone bool  // the response side has ended
	closed   bool
	linger   bool // closed after an answer: serve drains the client before the last close
	raw      atomic.Bool
	verdict  chan bool // an Upgrade/CONNECT request's outcome: switched or not
	resp     chan struct{}

	// What the client speaks, told by its first bytes (sides.go, sniff): sniffed is closed once
	// the request side knows; h2 (under mu): the connection is the HTTP/2 side's (h2c.go), its
	// application connection closed and its response side gone; appFirst (under mu): the
	// application spoke first and its bytes were relayed before the client said anything, so the
	// connection is not taken as h2c.
	sniffed      chan struct{}
	sniffOnce    sync.Once
	h2, appFirst bool
	target       string       // the application's address (dial)
	callsOpen    atomic.Int64 // gRPC calls in progress on an h2c connection
	h2r          *h2relay     // the h2c relay (under mu), once it serves the connection
}

func newConn(p *Proxy, c net.Conn) *conn {
	cc := &conn{p: p, client: c, verdict: make(chan bool, 1), resp: make(chan struct{}), sniffed: make(chan struct{}), lastBusy: p.epoch.Load()}
	cc.cond = sync.NewCond(&cc.mu)
	return cc
}

func (c *conn) serve() {
	defer c.p.forget(c)
	if !c.dial() {
		return
	}
	if c.spliced {
		c.splice()
		return
	}
	c.cr, c.ur = getReader(c.cio), getReader(c.uio)
	go c.responses()
	c.requests()
	<-c.resp
	c.closeAll()
	c.mu.Lock()
	linger := c.linger
	c.mu.Unlock()
	if linger {
		c.drainClient()
		c.client.Close()
	}
	putReader(c.cr)
	putReader(c.ur)
	putWriter(c.cw)
	putWriter(c.uw)
}

// dial connects to the application; false: it did not (the client is reset, as the
// application's refusal would have), or the connection was closed meanwhile (Stop).
func (c *conn) dial() bool {
	p := c.p
	target, err := p.cfg.Target(c.client)
	var up net.Conn
	if err == nil {
		d := net.Dialer{Timeout: p.cfg.DialTimeout}
		up, err = d.DialContext(p.dials, "tcp", target)
	}
	if err != nil {
		if p.dials.Err() == nil {
			p.dialErrors.Add(1)
			p.cfg.Logf("proxy :%d: connection from %s: the application at %s: %v", p.port, c.client.RemoteAddr(), target, err)
		}
		setLinger0(c.client)
		c.client.Close()
		return false
	}
	var cio, uio *rawIO
	if !c.spliced {
		if cio, err = newRawIO(c.client, p.cfg.WriteTimeout); err == nil {
			uio, err = newRawIO(up, p.cfg.WriteTimeout)
		}
	}
	c.mu.Lock()
	closed := c.closed
	if !closed && err == nil {
		c.up, c.cio, c.uio, c.target = up, cio, uio, target
	}
	c.mu.Unlock()
	if closed || err != nil {
		if err != nil {
			p.cfg.Logf("proxy :%d: connection from %s: %v", p.port, c.client.RemoteAddr(), err)
		}
		up.Close()
		c.closeAll()
		return false
	}
	return true
}

// splice relays a connection accepted over the cap as it is, both ways, in the kernel.
func (c *conn) splice() {
	c.raw.Store(true)
	c.p.relayed.Add(1)
	c.p.overCap.Add(1)
	done := make(chan struct{})
	go func() {
		spliceTo(c.up, c.client, c.p.cfg.WriteTimeout)
		close(done)
	}()
	spliceTo(c.client, c.up, c.p.cfg.WriteTimeout)
	<-done
	c.closeAll()
}

func spliceTo(dst, src net.Conn, wto time.Duration) {
	setUserTimeout(dst, wto)
	_, _ = io.Copy(dst, src) // splices between TCP sockets
	closeWrite(dst)
}

func setLinger0(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	c.Close()
}

// markClosed marks the connection closed (lingering: after an answer) and wakes whoever waits
// on it: its application side, and first — false when it was closed already.
func (c *conn) markClosed(linger bool) (up net.Conn, first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false
	}
	c.closed = true
	if linger {
		c.linger = true
	}
	c.cond.Broadcast()
	return c.up, true
}

// closeAll ends the connection now, both ways.
func (c *conn) closeAll() {
	up, first := c.markClosed(false)
	if !first {
		return
	}
	c.client.Close()
	if up != nil {
		up.Close()
	}
}

// lingerClose ends the connection after the answer just written to the client: the
// application's connection closed, the client's shut for writing (FIN after the answer), and a
// read deadline lingerTime away, until which serve drains the client (see lingerTime). A read
// of the request side that waits ends then too.
func (c *conn) lingerClose() {
	up, first := c.markClosed(true)
	if !first {
		return
	}
	c.cio.ending.Store(true)
	closeWrite(c.client)
	_ = c.client.SetReadDeadline(time.Now().Add(lingerTime))
	up.Close()
}

// drainClient reads and drops what the client still sends, until it closes its side, the
// lingering close's deadline or lingerBytes.
func (c *conn) drainClient() {
	if c.cr == nil {
		c.cr = getReader(c.cio)
	}
	for total := 0; total < lingerBytes; {
		n := c.cr.Buffered()
		if n == 0 {
			if _, err := c.cr.Peek(1); err != nil {
				return
			}
			n = c.cr.Buffered()
		}
		_, _ = c.cr.Discard(n)
		total += n
	}
}

// stop: the proxy is stopping; close now if nothing is in flight, else after it.
func (c *conn) stop() {
	c.mu.Lock()
	now := c.idle && len(c.q) == 0
	c.closing = true
	h2r := c.h2r
	c.mu.Unlock()
	if h2r != nil {
		// its own goroutine: it writes the client a GOAWAY, and Stop waits on no socket
		go h2r.stop()
		return
	}
	if now {
		c.closeAll()
	}
}

// reset ends the connection at once, both ways (a TCP reset), lingering or not.
func (c *conn) reset() {
	c.mu.Lock()
	c.closed, c.linger = true, false
	up := c.up
	c.cond.Broadcast()
	c.mu.Unlock()
	setLinger0(c.client)
	c.client.Close()
	if up != nil {
		setLinger0(up)
		up.Close()
	}
}

// tend is the janitor's round at this connection (now: its epoch): closed when quiet for
// IdleTimeout — nothing owed, the client sending no complete request head — and asked to put
// its buffers away when it has waited for a request for parkTicks.
func (c *conn) tend(now int64) {
	c.mu.Lock()
	quiet := !c.closed && !c.raw.Load() && c.cio != nil && (c.idle || c.inHead) && len(c.q) == 0
	ticks := now - c.lastBusy
	expired := quiet && ticks > c.p.idleTicks
	if quiet && c.idle && ticks >= c.p.parkTicks {
		for _, r := range [2]*rawIO{c.cio, c.uio} {
			if !r.parked.Load() && r.park.CompareAndSwap(false, true) {
				// interrupts the wait; rawIO.Read sees the park (under mu: a close meanwhile
				// is seen by the janitor first)
				_ = r.conn.SetReadDeadline(aLongTimeAgo)
			}
		}
	}
	c.mu.Unlock()
	if expired {
		c.closeAll()
	}
}

// becomeRaw: from here the connection is relayed as it is (set under mu, so that the janitor,
// which parks only what is not raw, never interrupts a relay).
func (c *conn) becomeRaw() {
	if c.markRaw() {
		c.p.relayed.Add(1)
	}
}

// markRaw makes the connection a relay, uncounted; false: it was one already.
func (c *conn) markRaw() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw.CompareAndSwap(false, true)
}

// flushBeforeRead: before waiting for more from r, send what w holds (a streamed body must not
// sit in a buffer).
func flushBeforeRead(w *bufio.Writer, r *bufio.Reader) error {
	if r.Buffered() == 0 && w.Buffered() > 0 {
		return w.Flush()
	}
	return nil
}

// relay copies src to dst as it is until src ends, then half-closes dst. What the proxy still
// holds goes through dw; the rest is spliced in the kernel, with the kernel's user timeout for a
// write deadline (any deadline of the proxy's cleared: the janitor no longer parks the
// connection, and a write's old deadline is not the relay's).
func (c *conn) relay(dst net.Conn, dw *bufio.Writer, src net.Conn, sr *bufio.Reader) {
	if n := sr.Buffered(); n > 0 {
		b, _ := sr.Peek(n)
		_, _ = dw.Write(b)
		_, _ = sr.Discard(n)
	}
	if err := dw.Flush(); err == nil {
		_ = src.SetReadDeadline(time.Time{})
		_ = dst.SetWriteDeadline(time.Time{})
		setUserTimeout(dst, c.p.cfg.WriteTimeout)
		_, _ = io.Copy(dst, src) // splices between TCP sockets
	}
	closeWrite(dst)
}

// toRelay turns the connection into a relay from the request side: once the responses owed so
// far are through, copy the client's bytes to the application as they are.
func (c *conn) toRelay() {
	c.mu.Lock()
	for len(c.q) > 0 && !c.closed && !c.respDone {
		c.cond.Wait()
	}
	c.mu.Unlock()
	c.becomeRaw()
	c.relay(c.up, c.uw, c.client, c.cr)
}
