package firewall

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"chaos-run/agent/exec"
)

// Rule is one rule as iptables-save prints it.
type Rule struct {
	Chain string
	Line  string   // `-A CHAIN ...`, as printed (restore reads it back verbatim)
	Args  []string // the tokens after `-A CHAIN`, unquoted
}

// Target is the rule's `-j` target, if any.
func (r Rule) Target() string {
	for i := 0; i+1 < len(r.Args); i++ {
		if r.Args[i] == "-j" || r.Args[i] == "--jump" {
			return r.Args[i+1]
		}
	}
	return ""
}

// Table is one table of an iptables-save dump.
type Table struct {
	Name   string
	Chains []string // declared chains, in order
	Rules  []Rule
}

// HasChain: the table declares chain.
func (t *Table) HasChain(chain string) bool {
	for _, c := range t.Chains {
		if c == chain {
			return true
		}
	}
	return false
}

// Ruleset is an iptables-save dump of one family.
type Ruleset struct {
	Family int
	Tables map[string]*Table
}

// Table returns the named table (an empty one when the dump has none).
func (rs *Ruleset) Table(name string) *Table {
	if t, ok := rs.Tables[name]; ok {
		return t
	}
	return &Table{Name: name}
}

// TableNames are the dump's tables, sorted.
func (rs *Ruleset) TableNames() []string {
	out := make([]string, 0, len(rs.Tables))
	for n := range rs.Tables {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ParseSave reads iptables-save output.
func ParseSave(family int, out string) (*Ruleset, error) {
	rs := &Ruleset{Family: family, Tables: map[string]*Table{}}
	var cur *Table
	for n, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			cur = &Table{Name: line[1:]}
			rs.Tables[cur.Name] = cur
		case line == "COMMIT":
			cur = nil
		case cur == nil:
			return nil, fmt.Errorf("iptables-save line %d outside a table: %q", n+1, line)
		case strings.HasPrefix(line, ":"):
			name, _, _ := strings.Cut(line[1:], " ")
			cur.Chains = append(cur.Chains, name)
		case strings.HasPrefix(line, "-A "):
			toks, err := Tokenize(line)
			if err != nil {
				return nil, fmt.Errorf("iptables-save line %d: %v", n+1, err)
			}
			if len(toks) < 2 {
				return nil, fmt.Errorf("iptables-save line %d: %q", n+1, line)
			}
			cur.Rules = append(cur.Rules, Rule{Chain: toks[1], Line: line, Args: toks[2:]})
		}
	}
	return rs, nil
}

// Tokenize splits a rule the way iptables-restore does: blanks separate, double quotes group,
// a backslash escapes the next character.
func Tokenize(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			have = true
		case c == '"':
			inQuote = !inQuote
			have = true
		case (c == ' ' || c == '\t') && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}

// Read dumps one family's tables with iptables-<backend>-save (every table the namespace has;
// reading creates none).
func Read(ctx context.Context, ex exec.Executor, b Backend, family int) (*Ruleset, error) {
	r := ex.Run(ctx, []string{b.Save(family)}, "")
	if !r.OK() {
		return nil, fmt.Errorf("%s: %s", b.Save(family), r.Why())
	}
	return ParseSave(family, r.Stdout)
}

// Chains lists the CHAOS- chains of a dump, per table.
func (rs *Ruleset) ChaosChains(prefix string) map[string][]string {
	out := map[string][]string{}
	for _, name := range rs.TableNames() {
		for _, c := range rs.Tables[name].Chains {
			if strings.HasPrefix(c, prefix) {
				out[name] = append(out[name], c)
			}
		}
	}
	return out
}
