package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

func dnsApply(params string) string {
	return `{"protocol":1,"op":"apply","runId":"a","fault":{"id":"d","leaseMs":5000,"spec":{"kind":"dns","dns":` + params + `}}}`
}

func TestParseDNSFaultsAndResolve(t *testing.T) {
	req, perr := Parse([]byte(dnsApply(`{"names":["*.svc.cluster.local","API-*.example.com."],"answer":"nxdomain","rate":50}`)))
	if perr != nil {
		t.Fatal(perr)
	}
	d := req.Fault.Spec.DNS
	if d.Answer.Action != AnswerNXDomain || *d.Rate != 50 || len(d.Names) != 2 || d.DelayMs != nil {
		t.Fatalf("decoded %+v", d)
	}
	req, perr = Parse([]byte(dnsApply(`{"names":["a.b"],"answer":{"addresses":["10.0.0.1","2001:db8::1"]},"delayMs":5,"jitterMs":2}`)))
	if perr != nil {
		t.Fatal(perr)
	}
	if a := req.Fault.Spec.DNS.Answer; a.Action != AnswerAddresses || len(a.Addresses) != 2 || a.Addresses[1] != "2001:db8::1" {
		t.Fatalf("decoded %+v", a)
	}
	if out, _ := json.Marshal(req.Fault.Spec.DNS.Answer); string(out) != `{"addresses":["10.0.0.1","2001:db8::1"]}` {
		t.Fatalf("encoded %s", out)
	}
	req, perr = Parse([]byte(dnsApply(`{"names":["*"],"delayMs":100}`)))
	if perr != nil || req.Fault.Spec.DNS.Answer != nil {
		t.Fatalf("%v %+v", perr, req)
	}
	req, perr = Parse([]byte(`{"protocol":1,"op":"resolve","runId":"a","names":["kubernetes.default","example.com."],"type":"AAAA","count":10,"timeoutMs":500,"tcp":true,"containerId":"0123456789abcdef"}`))
	if perr != nil {
		t.Fatal(perr)
	}
	if req.Op != OpResolve || req.QType != "AAAA" || req.Count != 10 || req.TimeoutMs != 500 || !req.TCP || len(req.Names) != 2 || req.ContainerID == "" {
		t.Fatalf("decoded %+v", req)
	}
	if GuessOp([]byte(`{"op":"resolve"}`)) != OpResolve {
		t.Fatal("GuessOp resolve")
	}
}

func TestParseRefusesBadDNSRequests(t *testing.T) {
	for raw, want := range map[string]string{
		dnsApply(`{"names":[],"answer":"refused"}`):                        "/fault/spec/dns/names: minItems",
		dnsApply(`{"names":["a b"],"answer":"refused"}`):                   "/fault/spec/dns/names/0",
		dnsApply(`{"names":["a..b"],"answer":"refused"}`):                  "/fault/spec/dns/names/0",
		dnsApply(`{"names":["a"]}`):                                        "/fault/spec/dns",
		dnsApply(`{"names":["a"],"answer":"nodata"}`):                      "/fault/spec/dns/answer",
		dnsApply(`{"names":["a"],"answer":"refused","jitterMs":3}`):        "'delayMs' required, if 'jitterMs' exists",
		dnsApply(`{"names":["a"],"answer":{"addresses":[]}}`):              "/fault/spec/dns/answer",
		dnsApply(`{"names":["a"],"answer":{"addresses":["example.com"]}}`): "/fault/spec/dns/answer",
		dnsApply(`{"names":["a"],"answer":"refused","rate":101}`):          "/fault/spec/dns/rate",
		dnsApply(`{"names":["a"],"answer":{"addresses":["1.1.1.1","1.1.1.2","1.1.1.3","1.1.1.4","1.1.1.5","1.1.1.6","1.1.1.7","1.1.1.8","1.1.1.9","1.1.1.10","1.1.1.11","1.1.1.12","1.1.1.13","1.1.1.14","1.1.1.15","1.1.1.16","1.1.1.17"]}}`): "maxItems",
		`{"protocol":1,"op":"resolve","runId":"a","names":["x"],"type":"MX","count":1,"timeoutMs":100}`:                                                                                                                                        "/type",
		`{"protocol":1,"op":"resolve","runId":"a","names":["x"],"type":"A","count":1001,"timeoutMs":100}`:                                                                                                                                      "/count",
		`{"protocol":1,"op":"resolve","runId":"a","names":["*.x"],"type":"A","count":1,"timeoutMs":100}`:                                                                                                                                       "/names/0",
		`{"protocol":1,"op":"resolve","runId":"a","names":["x"],"type":"A","count":1}`:                                                                                                                                                         "missing property 'timeoutMs'",
		`{"protocol":1,"op":"resolve","runId":"a","names":["x"],"type":"A","count":1,"timeoutMs":100,"containerId":"../x"}`:                                                                                                                    "/containerId",
	} {
		_, err := Parse([]byte(raw))
		if err == nil {
			t.Errorf("%s: accepted", raw)
			continue
		}
		if err.Code != ErrBadRequest || !strings.Contains(err.Message, want) {
			t.Errorf("%s: %s: %q does not contain %q", raw, err.Code, err.Message, want)
		}
	}
}

func TestDNSRepliesValidate(t *testing.T) {
	agent := AgentInfo{Name: "a", RunID: "r", Version: "v"}
	reading := &DNSReading{Queries: 3, UDP: 2, TCP: 1, Matched: 2, Faulted: DNSFaultedBy{NXDomain: 1}, Forwarded: 2}
	for _, r := range []*Reply{
		{Protocol: 1, Op: OpApply, OK: true, Agent: agent, Fault: &FaultState{ID: "f", RunID: "r", Kind: KindDNS, Detail: "d", DNS: reading,
			Objects: []KernelObject{{Type: ObjResolver, Name: "udp+tcp 127.0.0.1:5353"}}}},
		{Protocol: 1, Op: OpRevert, OK: true, Agent: agent, Reverted: []RevertOutcome{{FaultID: "f", Confirmed: true, Detail: "d", DNS: reading}}},
		{Protocol: 1, Op: OpResolve, OK: true, Agent: agent, Resolved: &ResolveResult{ResolvConf: "/etc/resolv.conf", Nameservers: []string{"10.96.0.10"}, Search: []string{}, Ndots: 5,
			Names: []ResolveNameResult{{Name: "x", Resolutions: 2, Answered: 1, Rcodes: map[string]int64{"NXDOMAIN": 1}, LatencyMs: &LatencySummary{P50: 0.2}}}}},
	} {
		if err := ValidateReply(r); err != nil {
			t.Errorf("%s: %v", r.Op, err)
		}
	}
	if err := ValidateReply(&Reply{Protocol: 1, Op: OpResolve, OK: true, Agent: agent}); err == nil {
		t.Error("a resolve reply without its result validated")
	}
}
