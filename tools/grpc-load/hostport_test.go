package main

import "testing"

func TestHostPortBracketsABareIPv6Address(t *testing.T) {
	for in, want := range map[string]string{
		"198.18.0.5:50051":       "198.18.0.5:50051",
		"greeter.shop.svc:50051": "greeter.shop.svc:50051",
		"fd00::5:50051":          "[fd00::5]:50051",
		"[fd00::5]:50051":        "[fd00::5]:50051",
	} {
		if got := hostPort(in); got != want {
			t.Errorf("hostPort(%q) = %q, want %q", in, got, want)
		}
	}
}
