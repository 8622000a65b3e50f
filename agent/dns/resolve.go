package dns

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"chaos-run/agent/protocol"
)

// ResolveSpec is a resolve request's: names, each resolved Count times, one after another.
type ResolveSpec struct {
	Names   []string
	Type    dnsmessage.Type
	Count   int
	Timeout time.Duration // per query
	TCP     bool
}

// ResolveBudget bounds a whole resolve request; what it leaves undone is counted unsent.
const ResolveBudget = 60 * time.Second

// Resolve resolves each name Count times from this network namespace with rc, as the pod's
// application would (its sockets carry no mark: a dns fault applies to them).
func Resolve(ctx context.Context, rc ResolvConf, spec ResolveSpec) []protocol.ResolveNameResult {
	ctx, cancel := context.WithTimeout(ctx, ResolveBudget)
	defer cancel()
	out := make([]protocol.ResolveNameResult, 0, len(spec.Names))
	for _, name := range spec.Names {
		res := protocol.ResolveNameResult{Name: name, Rcodes: map[string]int64{}}
		var samples []float64
		seen := map[netip.Addr]bool{}
		for i := 0; i < spec.Count; i++ {
			if ctx.Err() != nil {
				res.Unsent = int64(spec.Count - i)
				break
			}
			o := resolveOnce(ctx, rc, spec, name)
			res.Resolutions++
			res.FQDN = o.fqdn
			tally(&res, o)
			if o.outcome != outTimeout && o.outcome != outError {
				samples = append(samples, float64(o.elapsed)/float64(time.Millisecond))
			}
			for _, a := range o.addrs {
				if !seen[a] && len(res.Addresses) < 16 {
					seen[a] = true
					res.Addresses = append(res.Addresses, a.String())
				}
			}
		}
		res.LatencyMs = Summarize(samples)
		out = append(out, res)
	}
	return out
}

// The outcomes of a resolution (besides an error rcode).
const (
	outAnswered = "answered"
	outEmpty    = "empty"
	outRcode    = "rcode"
	outTimeout  = "timeout"
	outError    = "error"
)

type outcome struct {
	outcome string
	rcode   dnsmessage.RCode
	fqdn    string
	addrs   []netip.Addr
	elapsed time.Duration
}

func tally(res *protocol.ResolveNameResult, o outcome) {
	switch o.outcome {
	case outAnswered:
		res.Answered++
	case outEmpty:
		res.Empty++
	case outTimeout:
		res.Timeouts++
	case outError:
		res.Errors++
	default:
		res.Rcodes[RcodeName(o.rcode)]++
	}
}

// RcodeName is an rcode as dig names it (NXDOMAIN, SERVFAIL, ...), or RCODEn.
func RcodeName(r dnsmessage.RCode) string {
	names := map[dnsmessage.RCode]string{dnsmessage.RCodeSuccess: "NOERROR", dnsmessage.RCodeFormatError: "FORMERR",
		dnsmessage.RCodeServerFailure: "SERVFAIL", dnsmessage.RCodeNameError: "NXDOMAIN", dnsmessage.RCodeNotImplemented: "NOTIMP",
		dnsmessage.RCodeRefused: "REFUSED"}
	if n, ok := names[r]; ok {
		return n
	}
	return "RCODE" + strconv.Itoa(int(r))
}

// resolveOnce is one resolution as glibc's res_search makes it: the search candidates in order
// until one is answered; a timeout (no nameserver answered) ends it, an NXDOMAIN, an empty
// answer or a SERVFAIL moves on to the next candidate.
func resolveOnce(ctx context.Context, rc ResolvConf, spec ResolveSpec, name string) outcome {
	began := time.Now()
	o := outcome{outcome: outError}
	empty := false
	for _, fqdn := range rc.Candidates(name) {
		o.fqdn = fqdn
		rcode, addrs, err := query(ctx, rc, spec, fqdn)
		o.elapsed = time.Since(began)
		switch {
		case errors.Is(err, errTimeout):
			o.outcome = outTimeout
			return o
		case err != nil:
			o.outcome = outError
			return o
		case rcode == dnsmessage.RCodeSuccess && len(addrs) > 0:
			o.outcome, o.addrs = outAnswered, addrs
			return o
		case rcode == dnsmessage.RCodeSuccess:
			empty = true
		default:
			o.outcome, o.rcode = outRcode, rcode
		}
	}
	if empty {
		o.outcome = outEmpty
	}
	return o
}

var errTimeout = errors.New("no nameserver answered in time")

// query asks the nameservers in order, each for at most the spec's timeout, until one answers;
// a truncated UDP answer is asked again over TCP, as glibc does.
func query(ctx context.Context, rc ResolvConf, spec ResolveSpec, fqdn string) (dnsmessage.RCode, []netip.Addr, error) {
	name, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return 0, nil, err
	}
	var last error = errTimeout
	for _, ns := range rc.Nameservers {
		id := uint16(rand.Uint32())
		msg, err := NewQuery(id, name.String(), spec.Type)
		if err != nil {
			return 0, nil, err
		}
		resp, err := Exchange(ctx, netip.AddrPortFrom(ns, rc.port()), msg, spec.TCP, spec.Timeout)
		if err == nil && !spec.TCP && len(resp) > 2 && resp[2]&0x02 != 0 {
			resp, err = Exchange(ctx, netip.AddrPortFrom(ns, rc.port()), msg, true, spec.Timeout)
		}
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				last = err
			}
			continue
		}
		return ParseAnswer(resp, id, spec.Type)
	}
	return 0, nil, last
}

// Exchange sends one query and reads the answer with its ID, within timeout.
func Exchange(ctx context.Context, ns netip.AddrPort, msg []byte, tcp bool, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	network := "udp"
	if tcp {
		network = "tcp"
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, ns.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	_ = c.SetDeadline(dl)
	if tcp {
		if err := WriteTCPMessage(c, msg); err != nil {
			return nil, err
		}
		return ReadTCPMessage(c)
	}
	return exchangeDatagram(c, msg)
}

// ParseAnswer reads an answer's rcode and the addresses of the type in it.
func ParseAnswer(resp []byte, id uint16, qtype dnsmessage.Type) (dnsmessage.RCode, []netip.Addr, error) {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil {
		return 0, nil, err
	}
	if h.ID != id {
		return 0, nil, errors.New("an answer to another query")
	}
	if err := p.SkipAllQuestions(); err != nil {
		return 0, nil, err
	}
	var addrs []netip.Addr
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return 0, nil, err
		}
		switch {
		case rh.Type == dnsmessage.TypeA && qtype == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return 0, nil, err
			}
			addrs = append(addrs, netip.AddrFrom4(r.A))
		case rh.Type == dnsmessage.TypeAAAA && qtype == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return 0, nil, err
			}
			addrs = append(addrs, netip.AddrFrom16(r.AAAA))
		default:
			if err := p.SkipAnswer(); err != nil {
				return 0, nil, err
			}
		}
	}
	return h.RCode, addrs, nil
}

// NewQuery is a standard query with recursion desired.
func NewQuery(id uint16, fqdn string, qtype dnsmessage.Type) ([]byte, error) {
	name, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: name, Type: qtype, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// Summarize is the percentiles (nearest rank) of samples in milliseconds; nil without any.
func Summarize(samples []float64) *protocol.LatencySummary {
	if len(samples) == 0 {
		return nil
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return &protocol.LatencySummary{Min: s[0], P50: rank(0.5), P90: rank(0.9), P95: rank(0.95), P99: rank(0.99), Max: s[len(s)-1], Mean: sum / float64(len(s))}
}
