package exec

import (
	"context"
	"slices"
	"sync"
)

// Call is one command a Recorder was asked to run.
type Call struct {
	Argv  []string
	Stdin string
}

// Recorder is the test double of Executor: it records every call and answers from Handler
// (exit 0 with no output when Handler is nil or returns ok=false).
type Recorder struct {
	Handler func(argv []string, stdin string) (Result, bool)
	mu      sync.Mutex
	calls   []Call
}

// Run implements Executor.
func (r *Recorder) Run(_ context.Context, argv []string, stdin string) Result {
	r.mu.Lock()
	r.calls = append(r.calls, Call{Argv: slices.Clone(argv), Stdin: stdin})
	h := r.Handler
	r.mu.Unlock()
	if h != nil {
		if res, ok := h(argv, stdin); ok {
			return res
		}
	}
	return Result{}
}

// Calls returns what was run, in order.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Argvs returns the argv of every call, in order.
func (r *Recorder) Argvs() [][]string {
	var out [][]string
	for _, c := range r.Calls() {
		out = append(out, c.Argv)
	}
	return out
}

// Reset forgets the calls so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}
