package protocol

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestSchemaCopyMatchesTheContract(t *testing.T) {
	contract, err := os.ReadFile("../../schemas/agent-protocol.schema.json")
	if err != nil {
		t.Fatalf("reading the contract: %v", err)
	}
	if !bytes.Equal(contract, SchemaJSON) {
		t.Fatal("agent/protocol/agent-protocol.schema.json differs from schemas/agent-protocol.schema.json: copy it (cp schemas/agent-protocol.schema.json agent/protocol/)")
	}
}

func TestParseValidRequests(t *testing.T) {
	for _, raw := range []string{
		`{"protocol":1,"op":"apply","runId":"ab12cd34","fault":{"id":"ab12cd34-s2","leaseMs":30000,"spec":{"kind":"netem","netem":{"delayMs":100,"jitterMs":10,"correlation":25,"distribution":"normal","loss":1,"rate":"1mbit"}}}}`,
		`{"protocol":1,"op":"apply","runId":"ab12cd34","fault":{"id":"p","leaseMs":1000,"spec":{"kind":"partition","interface":"eth0","scope":{"cidr":"2001:db8::/32","port":443,"protocol":"tcp"}}}}`,
		`{"protocol":1,"op":"revert","runId":"a","faultId":"x"}`,
		`{"protocol":1,"op":"renew","runId":"a","faultId":"x","leaseMs":5000}`,
		`{"protocol":1,"op":"status","runId":"a"}`,
		`{"protocol":1,"op":"status","runId":"a","scanOrphans":false}`,
		`{"protocol":1,"op":"sweep","runId":"a","own":true}`,
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"h","leaseMs":1000,"spec":{"kind":"http","http":{"port":80}}}}`,
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"h","leaseMs":1000,"spec":{"kind":"http","interface":"eth0","http":{"port":8080,"delayMs":100,"jitterMs":5,"errorRate":30,"errorCode":503,"errorBody":"busy","exclude":["/healthz","/static/"],"methods":["GET","POST"]}}}}`,
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"g","leaseMs":1000,"spec":{"kind":"grpc","grpc":{"port":50051}}}}`,
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"g","leaseMs":1000,"spec":{"kind":"grpc","interface":"eth0","grpc":{"port":50051,"delayMs":100,"jitterMs":5,"errorRate":30,"status":8,"message":"busy now","exclude":["helloworld.Greeter/SayHello","Plain","a.b.C"],"faultHealth":true}}}}`,
	} {
		req, err := Parse([]byte(raw))
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if req.Protocol != 1 || req.RunID == "" {
			t.Errorf("%s: decoded %+v", raw, req)
		}
	}
	req, _ := Parse([]byte(`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"f","leaseMs":1000,"spec":{"kind":"netem","scope":{"port":80},"netem":{"delayMs":1.5}}}}`))
	if req.Fault.Spec.Scope.Port != 80 || *req.Fault.Spec.Netem.DelayMs != 1.5 {
		t.Fatalf("decoded %+v", req.Fault)
	}
	req, _ = Parse([]byte(`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"f","leaseMs":1000,"spec":{"kind":"http","http":{"port":80,"errorRate":20,"errorCode":503,"exclude":["/healthz"],"methods":["GET"]}}}}`))
	if h := req.Fault.Spec.HTTP; h.Port != 80 || *h.ErrorRate != 20 || h.ErrorCode != 503 || h.Exclude[0] != "/healthz" || h.Methods[0] != "GET" || h.DelayMs != nil {
		t.Fatalf("decoded %+v", req.Fault.Spec.HTTP)
	}
	req, _ = Parse([]byte(`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"f","leaseMs":1000,"spec":{"kind":"grpc","grpc":{"port":81,"errorRate":20,"status":14,"message":"m","exclude":["p.S"],"faultHealth":true}}}}`))
	if g := req.Fault.Spec.GRPC; g.Port != 81 || *g.ErrorRate != 20 || g.Status != 14 || g.Message != "m" || g.Exclude[0] != "p.S" || !g.FaultHealth || g.DelayMs != nil {
		t.Fatalf("decoded %+v", req.Fault.Spec.GRPC)
	}
}

func TestParseRefusesWithAClearMessage(t *testing.T) {
	for raw, want := range map[string]string{
		`[]`:                                     "want object",
		`{"protocol":1,"op":"status"`:            "one JSON object",
		`{}`:                                     "missing properties protocol, op, runId",
		`{"protocol":1,"op":"nope","runId":"a"}`: `/op: must be one of "apply", "revert", "renew", "status", "sweep"`,
		`{"protocol":1,"op":"apply","runId":"a"}`: "missing property 'fault'",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"netem","netem":{"delayMs":-1}}}}`:                  "/fault/spec/netem/delayMs: minimum: got -1, want 0",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"bogus"}}}`:                                         `/fault/spec/kind: must be one of "netem", "partition", "http"`,
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"netem","netem":{"jitterMs":3}}}}`:                  "'delayMs' required, if 'jitterMs' exists",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"a-very-long-fault-id-that-is-too-long","leaseMs":5000,"spec":{"kind":"partition"}}}`: "/fault/id",
		`{"protocol":2,"op":"status","runId":"A"}`:                                                                                                          "/protocol: value must be 1",
		`{"protocol":1,"op":"status","runId":"a","extra":1}`:                                                                                                "additional properties 'extra' not allowed",
		`{"protocol":1,"op":"renew","runId":"a","faultId":"x"}`:                                                                                             "missing property 'leaseMs'",
		`{"protocol":1,"op":"renew","runId":"a","faultId":"x","leaseMs":10}`:                                                                                "/leaseMs: minimum",
		`{"protocol":1,"op":"sweep","runId":"a"}`:                                                                                                           "missing property 'own'",
		`{"protocol":1,"op":"revert","runId":"a","faultId":"x; reboot"}`:                                                                                    "/faultId",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"http","http":{}}}}`:                                        "missing property 'port'",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"http","http":{"port":80,"errorCode":503}}}}`:               "'errorRate' required, if 'errorCode' exists",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"http","http":{"port":80,"errorRate":5,"errorCode":200}}}}`: "/fault/spec/http/errorCode: minimum",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"http","http":{"port":80,"exclude":["healthz"]}}}}`:         "/fault/spec/http/exclude/0",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"http","http":{"port":80,"methods":["get"]}}}}`:             "/fault/spec/http/methods/0",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"http","scope":{"port":80},"http":{"port":80}}}}`:           "additional properties 'scope' not allowed",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{}}}}`:                                        "missing property 'port'",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{"port":70000}}}}`:                            "/fault/spec/grpc/port: maximum",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{"port":80,"status":14}}}}`:                   "'errorRate' required, if 'status' exists",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{"port":80,"message":"m"}}}}`:                 "'errorRate' required, if 'message' exists",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{"port":80,"jitterMs":3}}}}`:                  "'delayMs' required, if 'jitterMs' exists",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{"port":80,"errorRate":5,"status":0}}}}`:      "/fault/spec/grpc/status: minimum",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{"port":80,"errorRate":5,"status":17}}}}`:     "/fault/spec/grpc/status: maximum",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{"port":80,"exclude":["/p.S/M"]}}}}`:          "/fault/spec/grpc/exclude/0",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{"port":80,"exclude":["p.S/M/x"]}}}}`:         "/fault/spec/grpc/exclude/0",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","grpc":{"port":80,"faultHealth":"yes"}}}}`:           "/fault/spec/grpc/faultHealth",
		`{"protocol":1,"op":"apply","runId":"a","fault":{"id":"x","leaseMs":5000,"spec":{"kind":"grpc","http":{"port":80}}}}`:                               "missing property 'grpc'",
	} {
		_, err := Parse([]byte(raw))
		if err == nil {
			t.Errorf("%s: accepted", raw)
			continue
		}
		if err.Code != ErrBadRequest || !strings.Contains(err.Message, want) {
			t.Errorf("%s: %s: %q does not contain %q", raw, err.Code, err.Message, want)
		}
		if ExitCode(&Reply{Error: err}) != 2 {
			t.Errorf("%s: exit code not 2", raw)
		}
	}
}

func TestExitCodes(t *testing.T) {
	for code, want := range map[string]int{
		ErrBadRequest: 2, ErrRevertIncomplete: 3, ErrConflict: 4, ErrUnrestorable: 4,
		ErrApplyFailed: 1, ErrVerifyFailed: 1, ErrLeaseLapsed: 1, ErrUnknownFault: 1, ErrNoInterface: 1,
		ErrNoBackend: 1, ErrUnreachable: 1, ErrExiting: 1, ErrInternal: 1, ErrReverted: 1, ErrForbidden: 4,
	} {
		if got := ExitCode(&Reply{Error: &ReplyError{Code: code}}); got != want {
			t.Errorf("%s: %d, want %d", code, got, want)
		}
	}
	if ExitCode(&Reply{OK: true}) != 0 {
		t.Error("ok is not 0")
	}
}

func TestEncodedRepliesValidate(t *testing.T) {
	r := &Reply{Protocol: 1, Op: OpApply, OK: true, Agent: AgentInfo{Name: "a", RunID: "r", Version: "v"},
		Fault: &FaultState{ID: "f", RunID: "r", Kind: KindNetem, Interface: "eth0", Detail: "d"}}
	if err := ValidateReply(r); err != nil {
		t.Fatal(err)
	}
	g := &GRPCReading{Connections: GRPCConnections{H2C: 2, HTTP1: 1}, Calls: 10, Faulted: 8, Errors: 3, Delayed: 5, Relayed: 7, StreamsReset: 1, Excluded: 2}
	rv := &Reply{Protocol: 1, Op: OpRevert, OK: true, Agent: r.Agent, Reverted: []RevertOutcome{{FaultID: "g", Confirmed: true, Detail: "d", GRPC: g, HTTP: &HTTPReading{H2C: 1}}}}
	if err := ValidateReply(rv); err != nil {
		t.Fatal(err)
	}
	st := &Reply{Protocol: 1, Op: OpStatus, OK: true, Agent: r.Agent, Faults: []FaultState{{ID: "g", RunID: "r", Kind: KindGRPC, Detail: "d", GRPC: g}}}
	if err := ValidateReply(st); err != nil {
		t.Fatal(err)
	}
	out, _ := Encode(r)
	if !strings.Contains(string(out), `"commands":[]`) || !strings.Contains(string(out), `"families":[]`) {
		t.Fatalf("arrays missing: %s", out)
	}
	if GuessOp([]byte(`{"op":"renew"`)) != OpStatus || GuessOp([]byte(`{"op":"renew"}`)) != OpRenew {
		t.Fatal("GuessOp")
	}
}

func TestAgentNames(t *testing.T) {
	for _, ok := range []string{"chaos-agent-ab12cd34", "a", "x1"} {
		if CheckAgentName(ok) != nil {
			t.Errorf("%s refused", ok)
		}
	}
	for _, bad := range []string{"", "lock", "Agent", "a/b", "-a", strings.Repeat("a", 64)} {
		if CheckAgentName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if SocketAddress("chaos-agent-x") != "@chaos-agent/v1/chaos-agent-x" || LockAddress() != "@chaos-agent/v1/lock" {
		t.Fatal("socket names")
	}
}

func TestABadRequestsMessageIsBounded(t *testing.T) {
	raw := `{"protocol":1,"op":"apply","runId":"a","fault":{"id":"h","leaseMs":1000,"spec":{"kind":"http","http":{"port":80,"methods":[` +
		strings.Repeat(`"x",`, 10000) + `"y"]}}}}`
	_, perr := Parse([]byte(raw))
	if perr == nil || perr.Code != ErrBadRequest || !regexp.MustCompile(`; and 99[0-9]{2} more$`).MatchString(perr.Message) || len(perr.Message) > 4000 {
		t.Fatalf("%d bytes: %.300s", len(perr.Message), perr.Message)
	}
}
