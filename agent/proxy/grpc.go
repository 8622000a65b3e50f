package proxy

import (
	"strconv"
	"strings"

	"golang.org/x/net/http2/hpack"
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

// isGRPC: a request of this content-type is a gRPC call (application/grpc, or
// application/grpc+FORMAT or with parameters).
func isGRPC(ct string) bool {
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// grpcAnswerOf is the injected error's response: trailers-only, one HEADERS frame that ends the
// stream, as a server that fails a call before its first message sends.
func grpcAnswerOf(g *GRPCConfig) hpackFields {
	f := hpackFields{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "application/grpc"}, {Name: "grpc-status", Value: grpcStatusOf(g)}}
	if m := percentEncode(g.Message); m != "" {
		f = append(f, hpack.HeaderField{Name: "grpc-message", Value: m})
	}
	return f
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
