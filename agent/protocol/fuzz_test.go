package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParse feeds Parse what the pod can send to an agent's socket (any bytes): it must never
// panic, refuse anything it cannot decode with a bad-request error that says why, and accept
// only what decodes into a request that is itself accepted again once re-encoded. The seed
// corpus is testdata/fuzz/FuzzParse (every op, every fault kind, and the shapes that once
// troubled parsers: deep nesting, huge numbers, duplicate keys, escapes, NULs, BOMs).
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"protocol":1,"op":"status","runId":"a","scanOrphans":false}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = GuessOp(raw)
		req, perr := Parse(raw)
		if perr != nil {
			if req != nil || perr.Code != ErrBadRequest || strings.TrimSpace(perr.Message) == "" {
				t.Fatalf("refused with %+v (request %+v)", perr, req)
			}
			return
		}
		switch req.Op {
		case OpApply:
			if req.Fault == nil || req.Fault.ID == "" || req.Fault.Spec.Kind == "" {
				t.Fatalf("an apply without its fault: %+v", req)
			}
		case OpRevert, OpRenew:
			if req.FaultID == "" {
				t.Fatalf("a %s without a fault id: %+v", req.Op, req)
			}
		case OpStatus, OpSweep:
		default:
			t.Fatalf("op %q accepted", req.Op)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, perr := Parse(again); perr != nil {
			t.Fatalf("accepted %q, but not its re-encoding %s: %v", raw, again, perr)
		}
	})
}
