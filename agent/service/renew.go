package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"chaos-run/agent/fault"
	"chaos-run/agent/lease"
	"chaos-run/agent/protocol"
)

// renew gives a held fault a new lease from now. It takes neither the request lock nor the
// pod's: a renewal must never wait behind another run's apply, or that run would make this
// one's lease lapse. A fault the kernel ends by itself (a partition or an http fault held
// through nftables) has its lease renewed in the kernel too, once the books are updated.
func (a *Agent) renew(req *protocol.Request) *protocol.Reply {
	r := a.reply(protocol.OpRenew, nil)
	now := a.cfg.Clock.Now()
	leaseFor := time.Duration(req.LeaseMs) * time.Millisecond
	rec, st, err := a.books.renew(req.FaultID, now, leaseFor)
	if err == nil {
		r.Fault = &st
		if first := a.tellFirst(req.FaultID); first != nil {
			// the runner's confirmation of the fault the agent started with: what its apply did
			r.Commands, r.Orphans = first.Commands, first.Orphans
		}
		if err := fault.RenewInKernel(a.env(context.Background(), a.cfg.Exec, nil), rec.held, leaseFor); err != nil {
			a.logf("renewed %s, but not its lease in the kernel: %v", req.FaultID, err)
		}
		return r
	}
	var ended *lease.EndedError
	var pending *pendingError
	switch {
	case errors.As(err, &pending):
		code := protocol.ErrUnknownFault
		if pending.reason == protocol.ReasonLeaseLapsed {
			code = protocol.ErrLeaseLapsed
		}
		return failed(r, &protocol.ReplyError{Code: code, Message: fmt.Sprintf("fault %s is being reverted (%s); its revert is not complete yet and is retried", req.FaultID, pending.reason)})
	case errors.As(err, &ended) && ended.Reason == protocol.ReasonLeaseLapsed:
		return failed(r, &protocol.ReplyError{Code: protocol.ErrLeaseLapsed,
			Message: fmt.Sprintf("the lease of fault %s lapsed %s ago and the agent reverted it", req.FaultID, now.Sub(ended.At).Round(time.Millisecond))})
	case errors.As(err, &ended):
		return failed(r, &protocol.ReplyError{Code: protocol.ErrUnknownFault, Message: ended.Error()})
	}
	return failed(r, &protocol.ReplyError{Code: protocol.ErrUnknownFault, Message: fmt.Sprintf("chaos-agent %s never held fault %s", a.cfg.Name, req.FaultID)})
}
