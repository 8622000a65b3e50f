package dns

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/net/dns/dnsmessage"
)

// MaxMessage bounds a DNS message read off the wire (a TCP message's length prefix allows no
// more; a UDP datagram with EDNS is at most that too).
const MaxMessage = 65535

// minMessage is a header's size: anything shorter is not a message.
const minMessage = 12

// Query is what the resolver needs of a query: its header, and its one question.
type Query struct {
	Header   dnsmessage.Header
	Question dnsmessage.Question
}

// ErrNotAQuery: the bytes are not one standard query with one question.
var ErrNotAQuery = errors.New("not a standard DNS query with one question")

// ParseQuery reads a query's header and its question; the rest (EDNS, anything else) is not
// parsed. A response, another opcode, or a count of questions other than one is refused.
func ParseQuery(msg []byte) (Query, error) {
	if len(msg) < minMessage || len(msg) > MaxMessage {
		return Query{}, fmt.Errorf("%w: %d bytes", ErrNotAQuery, len(msg))
	}
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return Query{}, fmt.Errorf("%w: %v", ErrNotAQuery, err)
	}
	if h.Response || h.OpCode != 0 {
		return Query{}, fmt.Errorf("%w: a response or opcode %d", ErrNotAQuery, h.OpCode)
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return Query{}, fmt.Errorf("%w: %v", ErrNotAQuery, err)
	}
	if len(qs) != 1 {
		return Query{}, fmt.Errorf("%w: %d questions", ErrNotAQuery, len(qs))
	}
	return Query{Header: h, Question: qs[0]}, nil
}

// Name is the question's name as text (dots between labels, a trailing dot).
func (q Query) Name() string { return q.Question.Name.String() }

// answerHeader is the header of the resolver's own answer to q.
func answerHeader(q Query, rcode dnsmessage.RCode) dnsmessage.Header {
	return dnsmessage.Header{ID: q.Header.ID, Response: true, OpCode: q.Header.OpCode,
		RecursionDesired: q.Header.RecursionDesired, RecursionAvailable: true, RCode: rcode}
}

// RcodeAnswer is the answer to q with rcode and no records (NXDOMAIN, SERVFAIL, REFUSED; or
// NOERROR: an empty answer).
func RcodeAnswer(q Query, rcode dnsmessage.RCode) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), answerHeader(q, rcode))
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q.Question); err != nil {
		return nil, err
	}
	return b.Finish()
}

// AddressAnswer answers q with the addresses of its type (A: the IPv4 ones, AAAA: the IPv6 ones,
// TTL 0); a question of another type, or of a family with none, gets an empty NOERROR.
func AddressAnswer(q Query, addrs []netip.Addr) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), answerHeader(q, dnsmessage.RCodeSuccess))
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q.Question); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	rh := dnsmessage.ResourceHeader{Name: q.Question.Name, Type: q.Question.Type, Class: q.Question.Class}
	for _, a := range addrs {
		var err error
		switch {
		case q.Question.Type == dnsmessage.TypeA && a.Is4():
			err = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
		case q.Question.Type == dnsmessage.TypeAAAA && a.Is6() && !a.Is4In6():
			err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// ResponseID is a response's ID and whether it is a response at all (a forwarded query's answer
// is matched to its query by the ID, nothing more is read of it).
func ResponseID(msg []byte) (uint16, bool) {
	if len(msg) < minMessage || msg[2]&0x80 == 0 {
		return 0, false
	}
	return uint16(msg[0])<<8 | uint16(msg[1]), true
}
