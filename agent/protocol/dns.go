package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// KindDNS is the dns fault: the pod's queries answered by a resolver in the agent.
const KindDNS = "dns"

// OpResolve resolves names from inside the pod's network namespace (the dns probe).
const OpResolve = "resolve"

// ObjResolver is a dns fault's resolver (its loopback port in the agent's process).
const ObjResolver = "resolver"

// DNS answers (DNSAnswer.Action).
const (
	AnswerNXDomain  = "nxdomain"
	AnswerServFail  = "servfail"
	AnswerRefused   = "refused"
	AnswerTimeout   = "timeout"
	AnswerAddresses = "addresses"
)

// DNSParams are a dns fault's: which names, and what is done to rate percent of their queries.
type DNSParams struct {
	Names    []string   `json:"names"`
	Answer   *DNSAnswer `json:"answer,omitempty"`
	DelayMs  *float64   `json:"delayMs,omitempty"`
	JitterMs *float64   `json:"jitterMs,omitempty"`
	Rate     *float64   `json:"rate,omitempty"`
}

// DNSAnswer is the schema's answer: one of the words (Action), or {addresses} (Action
// AnswerAddresses, Addresses set).
type DNSAnswer struct {
	Action    string
	Addresses []string
}

// UnmarshalJSON reads a word or an object with addresses.
func (a *DNSAnswer) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &a.Action)
	}
	var v struct {
		Addresses []string `json:"addresses"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("a dns answer is a word or {addresses}: %w", err)
	}
	a.Action, a.Addresses = AnswerAddresses, v.Addresses
	return nil
}

// MarshalJSON writes it as the schema has it.
func (a DNSAnswer) MarshalJSON() ([]byte, error) {
	if a.Action == AnswerAddresses {
		return json.Marshal(struct {
			Addresses []string `json:"addresses"`
		}{a.Addresses})
	}
	return json.Marshal(a.Action)
}

// DNSReading is what a dns fault's resolver did while it served.
type DNSReading struct {
	Queries        int64        `json:"queries"`
	UDP            int64        `json:"udp"`
	TCP            int64        `json:"tcp"`
	Matched        int64        `json:"matched"`
	Faulted        DNSFaultedBy `json:"faulted"`
	Forwarded      int64        `json:"forwarded"`
	UpstreamErrors int64        `json:"upstreamErrors"`
	Malformed      int64        `json:"malformed"`
}

// DNSFaultedBy counts the faulted queries by action.
type DNSFaultedBy struct {
	NXDomain  int64 `json:"nxdomain"`
	ServFail  int64 `json:"servfail"`
	Refused   int64 `json:"refused"`
	Timeout   int64 `json:"timeout"`
	Addresses int64 `json:"addresses"`
	Delayed   int64 `json:"delayed"`
}

// ResolveResult is a resolve request's answer.
type ResolveResult struct {
	ResolvConf  string              `json:"resolvConf"`
	Nameservers []string            `json:"nameservers"`
	Search      []string            `json:"search"`
	Ndots       int                 `json:"ndots"`
	Names       []ResolveNameResult `json:"names"`
}

// ResolveNameResult is one name's resolutions, counted.
type ResolveNameResult struct {
	Name        string           `json:"name"`
	Resolutions int64            `json:"resolutions"`
	Answered    int64            `json:"answered"`
	Empty       int64            `json:"empty"`
	Rcodes      map[string]int64 `json:"rcodes"`
	Timeouts    int64            `json:"timeouts"`
	Errors      int64            `json:"errors"`
	Unsent      int64            `json:"unsent"`
	LatencyMs   *LatencySummary  `json:"latencyMs,omitempty"`
	Addresses   []string         `json:"addresses,omitempty"`
	FQDN        string           `json:"fqdn,omitempty"`
}

// LatencySummary: percentiles of samples, in milliseconds.
type LatencySummary struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}
