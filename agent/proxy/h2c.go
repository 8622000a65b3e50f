package proxy

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The proxy's HTTP/2 side: a client connection that opens with the HTTP/2 connection preface
// (h2c, HTTP/2 with prior knowledge, as gRPC runs inside a cluster) is served by one
// net/http server of the proxy's, and its requests are forwarded to the application through one
// net/http transport that speaks h2c to it — the standard library's (Go 1.24+: Protocols with
// UnencryptedHTTP2), so the proxy owns no HTTP/2 parser. Each request is a stream, faulted at its
// start: a gRPC call (content-type application/grpc…) by the grpc kind, any other request by the
// http kind; the other kind's requests pass untouched. Streams are forwarded as they come, both
// ways, headers and trailers as they are (httputil.ReverseProxy flushing every write).
//
// Bounds: the server's frame and header sizes, streams per connection and flow-control windows
// (h2Config) bound what one connection holds; MaxH2Conns bounds the connections served so (those
// beyond are relayed as they are, like those over MaxConns). The application is dialled at the
// client connection's own target (Config.Target: its original destination), as for HTTP/1.x.

// The HTTP/2 connection preface a client with prior knowledge opens with (RFC 9113 3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Bounds of one h2c connection (the standard library's defaults are for a server of its own,
// with memory to spare: a 1 MiB window a stream and 4 MiB a connection; this one lives in a pod
// it was not sized for).
const (
	h2MaxStreams     = 100       // concurrent streams a client may open (gRPC's servers allow 100 too)
	h2ConnWindow     = 256 << 10 // what a client may send on a connection before the proxy reads it
	h2StreamWindow   = 64 << 10  // ... on one stream (the protocol's initial window)
	h2MaxFrame       = 16 << 10  // the protocol's minimum maximum frame size
	h2MaxHeaderBytes = 64 << 10  // a request's header list (gRPC's default limit is 16 KiB of metadata... x4)
	h2HeaderTable    = 4 << 10   // HPACK's dynamic table (the protocol's default)
)

// h2 is the proxy's HTTP/2 server and transport.
type h2 struct {
	srv  *http.Server
	ln   *connListener
	rp   *httputil.ReverseProxy
	tr   *http.Transport
	done chan struct{} // Serve returned
}

type connKey struct{}

func newH2(p *Proxy) *h2 {
	h := &h2{ln: &connListener{conns: make(chan net.Conn), closed: make(chan struct{})}, done: make(chan struct{})}
	cfg := &http.HTTP2Config{
		MaxConcurrentStreams: h2MaxStreams, MaxDecoderHeaderTableSize: h2HeaderTable, MaxEncoderHeaderTableSize: h2HeaderTable,
		MaxReadFrameSize: h2MaxFrame, MaxReceiveBufferPerConnection: h2ConnWindow, MaxReceiveBufferPerStream: h2StreamWindow,
		WriteByteTimeout: p.cfg.WriteTimeout, SendPingTimeout: p.cfg.IdleTimeout / 2, PingTimeout: 15 * time.Second,
	}
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	errLog := log.New(proxyLog{p}, "", 0)
	h.srv = &http.Server{
		Handler: p, Protocols: &protos, HTTP2: cfg, MaxHeaderBytes: h2MaxHeaderBytes, IdleTimeout: p.cfg.IdleTimeout,
		ReadHeaderTimeout: p.cfg.IdleTimeout, ErrorLog: errLog,
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, nc.(*h2Conn).c)
		},
	}
	d := &net.Dialer{Timeout: p.cfg.DialTimeout}
	h.tr = &http.Transport{
		Protocols: &protos, HTTP2: cfg, DialContext: d.DialContext, MaxResponseHeaderBytes: h2MaxHeaderBytes,
		DisableCompression: true, IdleConnTimeout: p.cfg.IdleTimeout, ForceAttemptHTTP2: true,
	}
	h.rp = &httputil.ReverseProxy{
		Director: func(out *http.Request) {
			out.URL.Scheme, out.URL.Host = "http", out.Context().Value(connKey{}).(*conn).target
			// what the client sent, and nothing more: no X-Forwarded-For of the proxy's
			out.Header["X-Forwarded-For"] = nil
		},
		Transport: h.tr, FlushInterval: -1, ErrorLog: errLog, BufferPool: copyBuffers{},
		ErrorHandler: p.forwardFailed,
	}
	go func() {
		_ = h.srv.Serve(h.ln)
		close(h.done)
	}()
	return h
}

// stop sends every h2c client a GOAWAY (no new streams; those open finish) and stops accepting;
// the connections themselves are ended by Proxy.Stop (closed when done, reset after the drain).
func (h *h2) stop() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Shutdown's GOAWAY is sent at once; its wait for idle connections is Stop's, not this
	_ = h.srv.Shutdown(ctx)
}

// end closes what is left of the transport's connections to the application.
func (h *h2) end() {
	_ = h.srv.Close()
	h.tr.CloseIdleConnections()
}

// serveH2 serves the connection as h2c until it ends; its first bytes (the preface at least)
// are in c.cr.
func (c *conn) serveH2() {
	p := c.p
	p.h2conns.Add(1)
	defer func() {
		p.mu.Lock()
		p.h2Serving--
		p.mu.Unlock()
	}()
	pre := make([]byte, c.cr.Buffered())
	_, _ = io.ReadFull(c.cr, pre)
	hc := &h2Conn{Conn: c.client, c: c, pre: pre, done: make(chan struct{})}
	select {
	case p.h2.ln.conns <- hc:
		<-hc.done
	case <-p.h2.ln.closed:
		c.closeAll()
	}
}

// h2Conn is a client connection handed to the HTTP/2 server, with the bytes the proxy read from
// it to tell what it speaks.
type h2Conn struct {
	net.Conn
	c    *conn
	pre  []byte
	once sync.Once
	done chan struct{}
}

func (h *h2Conn) Read(b []byte) (int, error) {
	if len(h.pre) > 0 {
		n := copy(b, h.pre)
		h.pre = h.pre[n:]
		return n, nil
	}
	return h.Conn.Read(b)
}

func (h *h2Conn) Close() error {
	err := h.Conn.Close()
	h.once.Do(func() { close(h.done) })
	return err
}

// connListener hands the HTTP/2 server the connections the proxy accepted and found to be h2c.
type connListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{} }

// ServeHTTP serves one request of an h2c connection: faulted at its start or forwarded.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := r.Context().Value(connKey{}).(*conn)
	if isGRPC(r) {
		p.serveCall(w, r, c)
		return
	}
	if p.cfg.GRPC != nil {
		p.h2.rp.ServeHTTP(w, r)
		return
	}
	p.requests.Add(1)
	q := request{method: []byte(r.Method), path: []byte(r.URL.Path)}
	if p.covers(&q) {
		p.faulted.Add(1)
		if p.cfg.Delay > 0 || p.cfg.Jitter > 0 {
			if !p.delayCall(r.Context()) {
				return
			}
		}
		if p.cfg.ErrorRate > 0 && p.cfg.Float64() < p.cfg.ErrorRate {
			p.errors.Add(1)
			p.answerHTTP(w, r)
			return
		}
	}
	p.h2.rp.ServeHTTP(w, r)
}

// answerHTTP is the http kind's injected error on an h2c stream.
func (p *Proxy) answerHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(p.cfg.ErrorBody))}
	w.WriteHeader(p.cfg.ErrorCode)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, p.cfg.ErrorBody)
	}
}

// delayCall waits one request's delay, or less if the proxy stops meanwhile (as delay); false:
// the client ended the stream meanwhile.
func (p *Proxy) delayCall(ctx context.Context) bool {
	d := p.pickDelay()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.stopCh:
	case <-ctx.Done():
		return false
	}
	return true
}

// forwardFailed answers a request the application could not be asked (it refused, or ended the
// connection): 502, as a gateway does, which a gRPC client reads as UNAVAILABLE.
func (p *Proxy) forwardFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() == nil && !errors.Is(err, context.Canceled) {
		p.cfg.Logf("proxy :%d: %s %s: the application: %v", p.port, r.Method, r.URL.Path, err)
	}
	w.WriteHeader(http.StatusBadGateway)
}

// copyBuffers are ReverseProxy's copy buffers, pooled (its default allocates 32 KiB a stream).
type copyBuffers struct{}

var copyPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyPool.Put(&b) }

// proxyLog passes the HTTP/2 server's and ReverseProxy's complaints to the proxy's log.
type proxyLog struct{ p *Proxy }

func (l proxyLog) Write(b []byte) (int, error) {
	l.p.cfg.Logf("proxy :%d: %s", l.p.port, strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// callsOf: the gRPC calls open on these connections now.
func callsOf(conns []*conn) (n int64) {
	for _, c := range conns {
		n += c.callsOpen.Load()
	}
	return n
}
