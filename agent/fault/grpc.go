package fault

import (
	"time"

	"chaos-run/agent/protocol"
	"chaos-run/agent/proxy"
)

// GRPC is the grpc kind: the http kind's proxy, redirect and revert (http.go), its proxy
// faulting the gRPC calls of the port's h2c connections instead of HTTP requests (proxy.GRPCConfig).
type GRPC struct {
	HTTP
}

// Apply implements Kind.
func (k GRPC) Apply(env *Env, f protocol.FaultRequest) Outcome {
	if f.Spec.GRPC == nil {
		return failed(protocol.ErrBadRequest, "a grpc fault needs its grpc parameters")
	}
	return k.applyProxy(env, f, protocol.KindGRPC, k.proxyConfig(env, *f.Spec.GRPC))
}

func (k GRPC) proxyConfig(env *Env, params protocol.GRPCParams) proxy.Config {
	cfg := proxy.Config{AppPort: params.Port, Target: k.Target, Logf: env.logf, GRPC: &proxy.GRPCConfig{
		Status: params.Status, Message: params.Message, Exclude: params.Exclude, FaultHealth: params.FaultHealth}}
	cfg.Delay, cfg.Jitter, cfg.ErrorRate = proxyTiming(params.DelayMs, params.JitterMs, params.ErrorRate)
	return cfg
}

// proxyTiming is a proxy fault's delay, jitter and error share (0..1) from its parameters.
func proxyTiming(delayMs, jitterMs, errorRate *float64) (delay, jitter time.Duration, rate float64) {
	if delayMs != nil {
		delay = time.Duration(*delayMs * float64(time.Millisecond))
	}
	if jitterMs != nil {
		jitter = time.Duration(*jitterMs * float64(time.Millisecond))
	}
	if errorRate != nil {
		rate = *errorRate / 100
	}
	return delay, jitter, rate
}

// proxyWord names a proxy fault's proxy by its kind.
var proxyWord = map[string]string{protocol.KindHTTP: "HTTP", protocol.KindGRPC: "gRPC"}

// grpcReading is what a grpc fault's proxy did so far (all of it, once stopped); nil for http.
func (h *httpHeld) grpcReading() *protocol.GRPCReading {
	if h.kind != protocol.KindGRPC {
		return nil
	}
	s := h.proxy.Stats()
	return &protocol.GRPCReading{
		Connections: protocol.GRPCConnections{H2C: s.H2C, HTTP1: s.HTTP1, PassedThrough: s.Relayed},
		Calls:       s.Calls, Faulted: s.Faulted, Errors: s.Errors, Delayed: s.Delayed, Relayed: s.CallsRelayed,
		StreamsReset: s.StreamsReset, Excluded: s.Excluded,
	}
}

// State implements Stated: a grpc fault's counts so far.
func (h *httpHeld) State(st *protocol.FaultState) { st.GRPC = h.grpcReading() }

// Outcome implements Outcomed: a grpc fault's counts, all of them once its proxy stopped.
func (h *httpHeld) Outcome(out *protocol.RevertOutcome) { out.GRPC = h.grpcReading() }
