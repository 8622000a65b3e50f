// Package dnstest is a nameserver for the agent's tests (the dns package's on loopback, the
// kernel tier's in a namespace of the test's own): it answers every query over UDP and TCP with
// an authoritative answer of fixed addresses, and keeps the queries it got.
package dnstest

import (
	"bytes"
	"net"
	"sync"

	"golang.org/x/net/dns/dnsmessage"

	"chaos-run/agent/dns"
)

// Nameserver answers an A query with A, an AAAA query with AAAA (TTL 30), any other with an
// empty NOERROR.
type Nameserver struct {
	A    [4]byte
	AAAA [16]byte
	mu   sync.Mutex
	got  [][]byte
}

// Answer is the nameserver's answer to a query (nil: not a query it parses).
func (s *Nameserver) Answer(q []byte) []byte {
	parsed, err := dns.ParseQuery(q)
	if err != nil {
		return nil
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: parsed.Header.ID, Response: true, Authoritative: true,
		RecursionDesired: parsed.Header.RecursionDesired, RecursionAvailable: true})
	_ = b.StartQuestions()
	_ = b.Question(parsed.Question)
	_ = b.StartAnswers()
	rh := dnsmessage.ResourceHeader{Name: parsed.Question.Name, Class: dnsmessage.ClassINET, TTL: 30}
	switch parsed.Question.Type {
	case dnsmessage.TypeA:
		_ = b.AResource(rh, dnsmessage.AResource{A: s.A})
	case dnsmessage.TypeAAAA:
		_ = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: s.AAAA})
	}
	out, _ := b.Finish()
	return out
}

func (s *Nameserver) keep(m []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, bytes.Clone(m))
}

// Received are the queries got so far, in order.
func (s *Nameserver) Received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.got...)
}

// AskedFor says whether a query for name (with its trailing dot) came.
func (s *Nameserver) AskedFor(name string) bool {
	for _, m := range s.Received() {
		if q, err := dns.ParseQuery(m); err == nil && q.Name() == name {
			return true
		}
	}
	return false
}

// ServeUDP answers pc's datagrams until it is closed.
func (s *Nameserver) ServeUDP(pc net.PacketConn) {
	buf := make([]byte, dns.MaxMessage)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		s.keep(buf[:n])
		_, _ = pc.WriteTo(s.Answer(buf[:n]), from)
	}
}

// ServeTCP answers ln's connections until it is closed.
func (s *Nameserver) ServeTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				m, err := dns.ReadTCPMessage(c)
				if err != nil {
					return
				}
				s.keep(m)
				_ = dns.WriteTCPMessage(c, s.Answer(m))
			}
		}()
	}
}
