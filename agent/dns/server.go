package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// What the resolver does to the queries it faults (Config.Answer).
const (
	AnswerForward   = "" // the real answer (delayed)
	AnswerNXDomain  = "nxdomain"
	AnswerServFail  = "servfail"
	AnswerRefused   = "refused"
	AnswerTimeout   = "timeout"
	AnswerAddresses = "addresses"
)

// Config is what the resolver does.
type Config struct {
	Patterns  Patterns
	Answer    string
	Addresses []netip.Addr
	Delay     time.Duration
	Jitter    time.Duration
	// Rate is the percent of matched queries faulted.
	Rate float64
	// Mark is set (SO_MARK) on the resolver's own sockets to the nameservers, which the
	// redirect leaves alone.
	Mark int
	// UpstreamTimeout bounds the wait for a nameserver's answer (default 5 s, glibc's).
	UpstreamTimeout time.Duration
	// TCPNameserver is where a TCP connection's forwarded queries go (default: its original
	// destination, port 53; tests set it).
	TCPNameserver func(net.Conn) (netip.AddrPort, error)
	// Draw is a uniform number in [0, 100) (tests fix it; default math/rand/v2).
	Draw func() float64
	Logf func(format string, a ...any)
}

// UDPListener is one UDP socket of the resolver and the nameserver its queries were sent to:
// the redirect sends each nameserver's queries to a port of their own, since a redirected UDP
// datagram carries no original destination the resolver could read.
type UDPListener struct {
	Conn       *net.UDPConn
	Nameserver netip.AddrPort
}

// Counts are what the resolver did (protocol.DNSReading's fields).
type Counts struct {
	Queries, UDP, TCP, Matched, Forwarded, UpstreamErrors, Malformed int64
	// Faulted: the matched queries the rate drew, each once; by action below (Delayed may
	// count a query that is in another one too: a delay given with an answer)
	Faulted                                                          int64
	NXDomain, ServFail, Refused, Timeout, AddressesAnswered, Delayed int64
}

// Server is a running resolver.
type Server struct {
	cfg  Config
	udp  []UDPListener
	tcp  []net.Listener
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	// inflight bounds the queries handled at once (each holds a goroutine, a socket upstream)
	inflight chan struct{}
	conns    sync.Map // net.Conn -> struct{}: the TCP connections open, closed on Stop
	upstream sync.Map // netip.AddrPort -> struct{}: the local ends of the UDP sockets forwarding now
	serving  atomic.Bool

	queries, udpN, tcpN, matched, faulted, forwarded, upstreamErrors, malformed atomic.Int64
	nxdomain, servfail, refused, timeout, addresses, delayed                    atomic.Int64
}

// maxInflight bounds the queries in hand at once; beyond it the resolver reads no more (the
// kernel's socket buffers queue, then drop, as for any busy server).
const maxInflight = 512

// tcpIdle is how long a TCP connection may sit without a query (RFC 7766 suggests seconds).
const tcpIdle = 10 * time.Second

// Start serves on the listeners until Stop.
func Start(cfg Config, udp []UDPListener, tcp []net.Listener) *Server {
	if cfg.UpstreamTimeout == 0 {
		cfg.UpstreamTimeout = 5 * time.Second
	}
	if cfg.TCPNameserver == nil {
		cfg.TCPNameserver = originalNameserver
	}
	if cfg.Draw == nil {
		cfg.Draw = func() float64 { return rand.Float64() * 100 }
	}
	s := &Server{cfg: cfg, udp: udp, tcp: tcp, inflight: make(chan struct{}, maxInflight)}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.serving.Store(true)
	for _, l := range udp {
		s.wg.Add(1)
		go s.serveUDP(l)
	}
	for _, l := range tcp {
		s.wg.Add(1)
		go s.serveTCP(l)
	}
	return s
}

// Serving: not stopped.
func (s *Server) Serving() bool { return s.serving.Load() }

// Stop closes every socket and waits for the queries in hand (those waiting for a delay or a
// nameserver end at once, unanswered).
func (s *Server) Stop() {
	if !s.serving.Swap(false) {
		return
	}
	s.stop()
	for _, l := range s.udp {
		_ = l.Conn.Close()
	}
	for _, l := range s.tcp {
		_ = l.Close()
	}
	s.conns.Range(func(k, _ any) bool { _ = k.(net.Conn).Close(); return true })
	s.wg.Wait()
}

// Counts is what the resolver did so far.
func (s *Server) Counts() Counts {
	return Counts{Queries: s.queries.Load(), UDP: s.udpN.Load(), TCP: s.tcpN.Load(), Matched: s.matched.Load(), Faulted: s.faulted.Load(),
		Forwarded: s.forwarded.Load(), UpstreamErrors: s.upstreamErrors.Load(), Malformed: s.malformed.Load(),
		NXDomain: s.nxdomain.Load(), ServFail: s.servfail.Load(), Refused: s.refused.Load(), Timeout: s.timeout.Load(),
		AddressesAnswered: s.addresses.Load(), Delayed: s.delayed.Load()}
}

func (c Counts) String() string {
	return fmt.Sprintf("%d queries (%d udp, %d tcp), %d matched, %d faulted, %d forwarded, %d upstream errors, %d malformed",
		c.Queries, c.UDP, c.TCP, c.Matched, c.Faulted, c.Forwarded, c.UpstreamErrors, c.Malformed)
}

func (s *Server) acquire() bool {
	select {
	case s.inflight <- struct{}{}:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *Server) release() { <-s.inflight }

func (s *Server) serveUDP(l UDPListener) {
	defer s.wg.Done()
	buf := make([]byte, MaxMessage)
	for {
		n, from, err := l.Conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg := append([]byte(nil), buf[:n]...)
		s.queries.Add(1)
		s.udpN.Add(1)
		if !s.acquire() {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.release()
			if out := s.answer(msg, func(m []byte) ([]byte, error) { return s.exchangeUDP(l.Nameserver, m) }); out != nil {
				_, _ = l.Conn.WriteToUDPAddrPort(out, from)
			}
		}()
	}
}

func (s *Server) serveTCP(l net.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !s.acquire() {
			_ = c.Close()
			return
		}
		s.conns.Store(c, struct{}{})
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.release()
			defer s.conns.Delete(c)
			defer c.Close()
			s.serveTCPConn(c)
		}()
	}
}

// serveTCPConn answers a connection's queries one after another; the forwarded ones go to the
// connection's original destination (SO_ORIGINAL_DST), over one connection of the resolver's.
func (s *Server) serveTCPConn(c net.Conn) {
	dst, dstErr := s.cfg.TCPNameserver(c)
	var up net.Conn
	defer func() {
		if up != nil {
			_ = up.Close()
		}
	}()
	for {
		_ = c.SetReadDeadline(time.Now().Add(tcpIdle))
		msg, err := ReadTCPMessage(c)
		if err != nil {
			return
		}
		s.queries.Add(1)
		s.tcpN.Add(1)
		out := s.answer(msg, func(m []byte) ([]byte, error) {
			if dstErr != nil {
				return nil, dstErr
			}
			return s.exchangeTCP(&up, dst, m)
		})
		if out == nil {
			continue
		}
		_ = c.SetWriteDeadline(time.Now().Add(tcpIdle))
		if err := WriteTCPMessage(c, out); err != nil {
			return
		}
	}
}

// ReadTCPMessage reads one length-prefixed message (RFC 1035 4.2.2): at most MaxMessage bytes,
// at least a header's.
func ReadTCPMessage(r io.Reader) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint16(n[:]))
	if size < minMessage {
		return nil, fmt.Errorf("a TCP DNS message of %d bytes", size)
	}
	msg := make([]byte, size)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// WriteTCPMessage writes one length-prefixed message.
func WriteTCPMessage(w io.Writer, msg []byte) error {
	if len(msg) > MaxMessage {
		return fmt.Errorf("a DNS message of %d bytes", len(msg))
	}
	_, err := w.Write(append(binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(msg)), uint16(len(msg))), msg...))
	return err
}
