package dns

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// answer is what the resolver sends back for one message read from the pod (nil: nothing).
// A query whose name matches is faulted at the rate's draw; everything else that is a query —
// unmatched, not drawn, or one the resolver does not parse (another opcode, several questions:
// it is the nameserver's to answer) — goes to the nameserver as it came, and its answer back as
// it came. Bytes that are not a query at all (shorter than a header, a response) are dropped.
func (s *Server) answer(msg []byte, exchange func([]byte) ([]byte, error)) []byte {
	if len(msg) < minMessage || msg[2]&0x80 != 0 {
		s.malformed.Add(1)
		return nil
	}
	q, err := ParseQuery(msg)
	if err != nil || !s.cfg.Patterns.Match(q.Name()) {
		return s.forward(msg, exchange)
	}
	s.matched.Add(1)
	if s.cfg.Draw() >= s.cfg.Rate {
		return s.forward(msg, exchange)
	}
	s.faulted.Add(1)
	if s.cfg.Delay > 0 || s.cfg.Jitter > 0 {
		if !s.sleep(s.delay()) {
			return nil
		}
		s.delayed.Add(1)
	}
	return s.act(q, msg, exchange)
}

// act applies the answer to a query the rate drew.
func (s *Server) act(q Query, msg []byte, exchange func([]byte) ([]byte, error)) []byte {
	var out []byte
	var err error
	switch s.cfg.Answer {
	case AnswerForward:
		return s.forward(msg, exchange)
	case AnswerTimeout:
		s.timeout.Add(1)
		return nil
	case AnswerNXDomain:
		s.nxdomain.Add(1)
		out, err = RcodeAnswer(q, dnsmessage.RCodeNameError)
	case AnswerServFail:
		s.servfail.Add(1)
		out, err = RcodeAnswer(q, dnsmessage.RCodeServerFailure)
	case AnswerRefused:
		s.refused.Add(1)
		out, err = RcodeAnswer(q, dnsmessage.RCodeRefused)
	case AnswerAddresses:
		s.addresses.Add(1)
		out, err = AddressAnswer(q, s.cfg.Addresses)
	}
	if err != nil {
		s.logf("dns: answering %s: %v", q.Name(), err)
		return nil
	}
	return out
}

func (s *Server) forward(msg []byte, exchange func([]byte) ([]byte, error)) []byte {
	s.forwarded.Add(1)
	out, err := exchange(msg)
	if err != nil {
		s.upstreamErrors.Add(1)
		return nil
	}
	return out
}

// delay is the delay ± jitter, uniform, never below zero.
func (s *Server) delay() time.Duration {
	d := s.cfg.Delay
	if s.cfg.Jitter > 0 {
		d += time.Duration((s.cfg.Draw()/50 - 1) * float64(s.cfg.Jitter))
	}
	return max(d, 0)
}

// sleep waits d, or until the server stops (false).
func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *Server) logf(format string, a ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, a...)
	}
}

// dialer is the resolver's own way to a nameserver: its sockets carry the mark the redirect
// leaves alone.
func (s *Server) dialer() *net.Dialer {
	return &net.Dialer{Timeout: s.cfg.UpstreamTimeout, Control: func(_, _ string, c syscall.RawConn) error {
		if s.cfg.Mark == 0 {
			return nil
		}
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, s.cfg.Mark) }); err != nil {
			return err
		}
		return serr
	}}
}

// exchangeUDP sends a query to the nameserver from a socket of its own and returns the first
// response with the query's ID (others are not its answer).
func (s *Server) exchangeUDP(ns netip.AddrPort, msg []byte) ([]byte, error) {
	c, err := s.dialer().DialContext(s.ctx, "udp", ns.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// known before the query leaves (the connect sent nothing): no conntrack entry of it exists
	// yet that a deletion of the pod's earlier flows could take for one of them
	src := c.LocalAddr().(*net.UDPAddr).AddrPort()
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	s.upstream.Store(src, struct{}{})
	defer s.upstream.Delete(src)
	stop := context.AfterFunc(s.ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	_ = c.SetDeadline(time.Now().Add(s.cfg.UpstreamTimeout))
	return exchangeDatagram(c, msg)
}

// Forwarding: src (address and port) is one of the resolver's own UDP sockets to a nameserver,
// open now (a query forwarded, its answer awaited).
func (s *Server) Forwarding(src netip.AddrPort) bool {
	_, ok := s.upstream.Load(netip.AddrPortFrom(src.Addr().Unmap(), src.Port()))
	return ok
}

// exchangeDatagram writes a query on a connected UDP socket and returns the first response
// with its ID (anything else that arrives is not its answer), until the socket's deadline.
func exchangeDatagram(c net.Conn, msg []byte) ([]byte, error) {
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	id := uint16(msg[0])<<8 | uint16(msg[1])
	buf := make([]byte, MaxMessage)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		if got, ok := ResponseID(buf[:n]); ok && got == id {
			return append([]byte(nil), buf[:n]...), nil
		}
	}
}

// exchangeTCP sends a query over the resolver's connection to the nameserver (dialed at the
// first), and reads its answer.
func (s *Server) exchangeTCP(up *net.Conn, ns netip.AddrPort, msg []byte) ([]byte, error) {
	if *up == nil {
		c, err := s.dialer().DialContext(s.ctx, "tcp", ns.String())
		if err != nil {
			return nil, err
		}
		*up = c
	}
	c := *up
	stop := context.AfterFunc(s.ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	_ = c.SetDeadline(time.Now().Add(s.cfg.UpstreamTimeout))
	out, err := func() ([]byte, error) {
		if err := WriteTCPMessage(c, msg); err != nil {
			return nil, err
		}
		return ReadTCPMessage(c)
	}()
	if err != nil {
		_ = c.Close()
		*up = nil
	}
	return out, err
}
