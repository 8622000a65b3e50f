// Package dns is the agent's DNS: the resolver a dns fault redirects the pod's queries to
// (Server), the glob patterns it matches names with (Patterns), the pod's resolv.conf
// (ResolvConf), and the resolve op's client (Resolve). Everything it reads off the wire comes
// from the pod, which is hostile input: sizes are bounded before anything is parsed, and parsing
// is golang.org/x/net/dns/dnsmessage's (the parser Go's own resolver uses), which copies nothing
// it was not asked for and fails on anything malformed.
package dns

import (
	"fmt"
	"strings"
)

// Patterns are a dns fault's name globs, compiled. A label that is `*` matches one or more whole
// labels; a `*` inside a label matches any characters of that one label. Matching is ASCII
// case-insensitive and ignores a trailing dot, on both sides.
type Patterns [][]string

// MaxNameLabels bounds what a name may have (a wire name has at most 127 labels).
const MaxNameLabels = 128

// CompilePatterns checks and splits the patterns (the schema has checked their characters).
func CompilePatterns(globs []string) (Patterns, error) {
	var out Patterns
	for _, g := range globs {
		labels := labelsOf(g)
		if len(labels) == 0 || len(labels) > MaxNameLabels {
			return nil, fmt.Errorf("name pattern %q: 1 to %d labels", g, MaxNameLabels)
		}
		for _, l := range labels {
			if l == "" {
				return nil, fmt.Errorf("name pattern %q has an empty label", g)
			}
		}
		out = append(out, labels)
	}
	return out, nil
}

// labelsOf lowercases name, drops one trailing dot and splits it into labels ("" and "." have
// none).
func labelsOf(name string) []string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" {
		return nil
	}
	return strings.Split(name, ".")
}

// Match says whether name matches one of the patterns.
func (ps Patterns) Match(name string) bool {
	labels := labelsOf(name)
	if len(labels) == 0 || len(labels) > MaxNameLabels {
		return false
	}
	for _, p := range ps {
		if matchLabels(p, labels) {
			return true
		}
	}
	return false
}

// matchLabels matches a pattern's labels against a name's, by dynamic programming over
// (pattern label, name label) — linear in their product, whatever the stars (a backtracking
// match of many `*` labels would be exponential in a hostile name's labels).
func matchLabels(p, n []string) bool {
	// ok[j]: p[i:] matches n[j:], for the current i (from the end)
	ok := make([]bool, len(n)+1)
	ok[len(n)] = true
	for i := len(p) - 1; i >= 0; i-- {
		next := make([]bool, len(n)+1)
		for j := len(n) - 1; j >= 0; j-- {
			if p[i] == "*" {
				// one label, then either the rest of the pattern or more labels for this star
				next[j] = ok[j+1] || next[j+1]
			} else {
				next[j] = matchLabel(p[i], n[j]) && ok[j+1]
			}
		}
		ok = next
	}
	return ok[0]
}

// matchLabel matches one label against a label glob whose only special character is `*` (any
// run of characters, none included): the classic greedy match with one backtrack point, linear
// in practice and at worst the product of the two lengths (each at most 63 bytes).
func matchLabel(glob, label string) bool {
	g, l := 0, 0
	star, mark := -1, 0
	for l < len(label) {
		switch {
		case g < len(glob) && glob[g] == '*':
			star, mark = g, l
			g++
		case g < len(glob) && glob[g] == label[l]:
			g++
			l++
		case star >= 0:
			g = star + 1
			mark++
			l = mark
		default:
			return false
		}
	}
	for g < len(glob) && glob[g] == '*' {
		g++
	}
	return g == len(glob)
}
