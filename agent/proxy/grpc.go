package proxy

import (
	"net/http"
	"strconv"
	"strings"
)

// GRPCConfig makes the proxy fault gRPC calls (the grpc kind) instead of HTTP requests: each call
// on an h2c connection that the fault covers waits Config.Delay (± Jitter) and is then forwarded
// or, to ErrorRate of them, answered with Status and Message without the application being asked.
// Everything else on the port passes untouched: HTTP/1.x connections relayed as they are, the
// h2c requests that are not gRPC calls forwarded.
type GRPCConfig struct {
	// Status is the gRPC code of an injected error (1..16; 0: 14, UNAVAILABLE).
	Status  int
	Message string
	// Exclude: calls that pass untouched, a whole service ("pkg.Service") or one method
	// ("pkg.Service/Method").
	Exclude []string
	// FaultHealth: the health service is faulted too. By default its calls pass untouched: the
	// kubelet's gRPC probes ask it, and a probe that fails restarts the pod — a harm no fault asked for.
	FaultHealth bool
}

// HealthService is the gRPC health checking protocol's service (grpc.health.v1), which the
// kubelet's gRPC probes call.
const HealthService = "grpc.health.v1.Health"

// statusUnavailable is the default status of an injected error.
const statusUnavailable = 14

// isGRPC: the request is a gRPC call (content-type application/grpc, or application/grpc+FORMAT
// or with parameters).
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// serveCall serves one gRPC call: faulted at its start (the grpc kind), or forwarded.
func (p *Proxy) serveCall(w http.ResponseWriter, r *http.Request, c *conn) {
	g := p.cfg.GRPC
	if g == nil {
		// the http kind leaves gRPC calls alone: an HTTP status would reach the client as a
		// gRPC status of the client library's choosing
		p.h2.rp.ServeHTTP(w, r)
		return
	}
	p.calls.Add(1)
	c.callsOpen.Add(1)
	defer c.callsOpen.Add(-1)
	if p.callExcluded(r.URL.Path) {
		p.excluded.Add(1)
		p.forwardCall(w, r)
		return
	}
	p.faulted.Add(1)
	if p.cfg.Delay > 0 || p.cfg.Jitter > 0 {
		p.delayed.Add(1)
		if !p.delayCall(r.Context()) {
			return
		}
	}
	if p.cfg.ErrorRate > 0 && p.cfg.Float64() < p.cfg.ErrorRate {
		p.errors.Add(1)
		p.answerCall(w)
		return
	}
	p.forwardCall(w, r)
}

func (p *Proxy) forwardCall(w http.ResponseWriter, r *http.Request) {
	p.callsRelayed.Add(1)
	p.h2.rp.ServeHTTP(w, r)
}

// answerCall answers a call with the injected status in a trailers-only response: one HEADERS
// frame that ends the stream, as a server that fails a call before its first message does.
func (p *Proxy) answerCall(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = []string{"application/grpc"}
	h["Grpc-Status"] = []string{p.grpcStatus}
	if p.grpcMessage != "" {
		h["Grpc-Message"] = []string{p.grpcMessage}
	}
	w.WriteHeader(http.StatusOK)
}

// callExcluded: the call (its path, /pkg.Service/Method) passes untouched.
func (p *Proxy) callExcluded(path string) bool {
	full := strings.TrimPrefix(path, "/")
	service, _, _ := strings.Cut(full, "/")
	if service == HealthService && !p.cfg.GRPC.FaultHealth {
		return true
	}
	for _, e := range p.cfg.GRPC.Exclude {
		if e == service || e == full {
			return true
		}
	}
	return false
}

// grpcStatusOf is the status of an injected error, as its header says it.
func grpcStatusOf(g *GRPCConfig) string {
	if g.Status == 0 {
		return strconv.Itoa(statusUnavailable)
	}
	return strconv.Itoa(g.Status)
}

// percentEncode is grpc-message's encoding (the gRPC over HTTP/2 protocol): the bytes outside
// printable ASCII, and '%', as %XX.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
