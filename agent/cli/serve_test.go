package cli

import "testing"

// A first request the agent cannot take ends serve before it listens: exit 2 (bad request), no
// socket, nothing held — as `chaos-agent request` refuses an exec's.
func TestServeRefusesABadFirstRequestBeforeServing(t *testing.T) {
	t.Setenv("CHAOS_AGENT_NAME", "chaos-agent-clitest")
	t.Setenv("CHAOS_RUN_ID", "clitest")
	for name, raw := range map[string]string{
		"not JSON":    `apply please`,
		"another run": `{"protocol":1,"op":"apply","runId":"other","fault":{"id":"other-s1","leaseMs":2000,"spec":{"kind":"netem","netem":{"delayMs":100}}}}`,
		"a sweep":     `{"protocol":1,"op":"sweep","runId":"clitest","own":true}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(FirstRequestEnv, raw)
			if got := Run([]string{"serve", "--ttl", "1s"}); got != 2 {
				t.Fatalf("exit %d, want 2", got)
			}
		})
	}
}
