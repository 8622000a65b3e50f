package kernel

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// NftRef names an nftables table: family and name.
type NftRef struct {
	Family nftables.TableFamily
	Name   string
}

// FamilyName is nft's name of a table family.
func FamilyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family-%d", f)
}

func (r NftRef) String() string { return FamilyName(r.Family) + " " + r.Name }

// NftTable is one table as the agent makes it and reads it back: its sets, with their elements,
// and its base chains, with their rules.
type NftTable struct {
	NftRef
	Sets   []NftSet
	Chains []NftChain
}

// NftSet is a set of the table.
type NftSet struct {
	Name    string
	KeyType nftables.SetDatatype
	// Timeout: its elements may carry a timeout (`flags timeout`), after which the kernel
	// forgets them by itself.
	Timeout  bool
	Elements []NftElement
}

// NftElement is one element of a set.
type NftElement struct {
	Key []byte
	// Timeout is the element's life when added; read back, Expires is what is left of it.
	Timeout, Expires time.Duration
}

// NftChain is a base chain of the table.
type NftChain struct {
	Name     string
	Type     nftables.ChainType
	Hook     nftables.ChainHook
	Priority nftables.ChainPriority
	Rules    []NftRule
}

// NftRule is a rule: its expressions, and (for the record, not read back) nft's words for it.
type NftRule struct {
	Exprs []expr.Any
	Text  string
}

// Nftables makes, reads and removes the agent's nftables tables, each change one transaction
// (all of it or nothing).
type Nftables interface {
	// NftTables lists the tables of the namespace, every family. An error: nf_tables does not
	// answer here (ErrNoNftables: no such kernel module; or no CAP_NET_ADMIN).
	NftTables() ([]NftRef, error)
	// NftCreate makes a table that must not exist yet, with its sets, elements, chains and
	// rules; ErrNoNftables where nf_tables cannot hold it.
	NftCreate(t *NftTable) error
	// NftDelete removes a table with everything in it.
	NftDelete(ref NftRef) error
	// NftRenew replaces elements of a set — deletes them and adds them again, with their new
	// timeouts, in one transaction: the set is never without them.
	NftRenew(ref NftRef, set NftSet) error
	// NftReplaceRules replaces the rules of some of a table's chains in one transaction: each
	// chain named (by NftChain.Name) loses the rules it has and gets those given. ErrNoTable
	// when the table is gone.
	NftReplaceRules(ref NftRef, chains []NftChain) error
	// NftRead reads a table back; ErrNoTable when there is none, ErrNoNftables when
	// nf_tables does not answer.
	NftRead(ref NftRef) (*NftTable, error)
	// NftChains lists the chains of a family's tables (iptables-nft keeps its chains in tables
	// `filter`, `nat`... of the ip and ip6 families).
	NftChains(family nftables.TableFamily) ([]NftChainRef, error)
}

// NftChainRef names a chain: its table and its name.
type NftChainRef struct {
	Table, Chain string
}

// ErrNoTable: no table of that name.
var ErrNoTable = errors.New("no such nftables table")

// ErrNoNftables: nf_tables cannot hold the agent's tables here — no nfnetlink (EPROTONOSUPPORT),
// no nf_tables (EOPNOTSUPP), or nf_tables built without the inet family (EAFNOSUPPORT: Debian's
// UML kernel has only the bridge family). The agent falls back to iptables-legacy.
var ErrNoNftables = errors.New("nf_tables cannot hold inet tables in this kernel")

// IfnameKey is an interface name as an ifname set's key: 16 bytes, zero-padded.
func IfnameKey(name string) []byte {
	k := make([]byte, unix.IFNAMSIZ)
	copy(k, name)
	return k
}

func keyText(t nftables.SetDatatype, key []byte) string {
	if t.Name == nftables.TypeIFName.Name {
		return fmt.Sprintf("%q", strings.TrimRight(string(key), "\x00"))
	}
	return fmt.Sprintf("0x%x", key)
}

// elementsText is nft's spelling of elements: `{ "eth0" timeout 16000ms }`.
func elementsText(s NftSet, timeouts bool) string {
	var es []string
	for _, e := range s.Elements {
		w := keyText(s.KeyType, e.Key)
		if timeouts && e.Timeout > 0 {
			w += fmt.Sprintf(" timeout %dms", e.Timeout.Milliseconds())
		}
		es = append(es, w)
	}
	return "{ " + strings.Join(es, ", ") + " }"
}

// CreateScript is the nft script (`nft -f -`) that makes the same table.
func (t *NftTable) CreateScript() string {
	var b strings.Builder
	fmt.Fprintf(&b, "create table %s\n", t.NftRef)
	for _, s := range t.Sets {
		flags := ""
		if s.Timeout {
			flags = " flags timeout;"
		}
		fmt.Fprintf(&b, "add set %s %s { type %s;%s }\n", t.NftRef, s.Name, s.KeyType.Name, flags)
		if len(s.Elements) > 0 {
			fmt.Fprintf(&b, "add element %s %s %s\n", t.NftRef, s.Name, elementsText(s, true))
		}
	}
	for _, c := range t.Chains {
		fmt.Fprintf(&b, "add chain %s %s { type %s hook %s priority %d; policy accept; }\n", t.NftRef, c.Name, c.Type, hookName(c.Hook), c.Priority)
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "add rule %s %s %s\n", t.NftRef, c.Name, r.Text)
		}
	}
	return b.String()
}

// RenewScript is the nft script of NftRenew.
func RenewScript(ref NftRef, s NftSet) string {
	return fmt.Sprintf("delete element %s %s %s\nadd element %s %s %s\n", ref, s.Name, elementsText(s, false), ref, s.Name, elementsText(s, true))
}

// ReplaceScript is the nft script of NftReplaceRules.
func ReplaceScript(ref NftRef, chains []NftChain) string {
	var b strings.Builder
	for _, c := range chains {
		fmt.Fprintf(&b, "flush chain %s %s\n", ref, c.Name)
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "add rule %s %s %s\n", ref, c.Name, r.Text)
		}
	}
	return b.String()
}

// DeleteArgv is the nft command line of NftDelete.
func DeleteArgv(ref NftRef) []string {
	return []string{"nft", "delete", "table", FamilyName(ref.Family), ref.Name}
}

func hookName(h nftables.ChainHook) string {
	switch h {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookInput:
		return "input"
	case *nftables.ChainHookForward:
		return "forward"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	}
	return fmt.Sprintf("hook-%d", h)
}

func nftError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("nftables: %w (%w)", ErrNoNftables, err)
	}
	return fmt.Errorf("nftables: %w", err)
}

// NftTables implements Nftables.
func (Netlink) NftTables() ([]NftRef, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, nftError(err)
	}
	ts, err := c.ListTables()
	if err != nil {
		return nil, nftError(err)
	}
	out := make([]NftRef, 0, len(ts))
	for _, t := range ts {
		out = append(out, NftRef{Family: t.Family, Name: t.Name})
	}
	return out, nil
}

// NftCreate implements Nftables.
func (Netlink) NftCreate(t *NftTable) error {
	c, err := nftables.New()
	if err != nil {
		return nftError(err)
	}
	table := c.CreateTable(&nftables.Table{Family: t.Family, Name: t.Name})
	for _, s := range t.Sets {
		set := &nftables.Set{Table: table, Name: s.Name, KeyType: s.KeyType, HasTimeout: s.Timeout}
		if s.KeyType.Name == nftables.TypeIFName.Name {
			// said in the set's user data, as nft says it: without it nft lists an interface
			// name backwards (as "")
			set.KeyByteOrder = binaryutil.NativeEndian
		}
		if err := c.AddSet(set, setElements(s)); err != nil {
			return nftError(err)
		}
	}
	accept := nftables.ChainPolicyAccept
	for _, ch := range t.Chains {
		hook, prio := ch.Hook, ch.Priority
		chain := c.AddChain(&nftables.Chain{Table: table, Name: ch.Name, Type: ch.Type, Hooknum: &hook, Priority: &prio, Policy: &accept})
		for _, r := range ch.Rules {
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: r.Exprs})
		}
	}
	return nftError(c.Flush())
}

func setElements(s NftSet) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, len(s.Elements))
	for _, e := range s.Elements {
		out = append(out, nftables.SetElement{Key: e.Key, Timeout: e.Timeout})
	}
	return out
}

// NftDelete implements Nftables.
func (Netlink) NftDelete(ref NftRef) error {
	c, err := nftables.New()
	if err != nil {
		return nftError(err)
	}
	c.DelTable(&nftables.Table{Family: ref.Family, Name: ref.Name})
	err = c.Flush()
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%s: %w", ref, ErrNoTable)
	}
	return nftError(err)
}

// NftRenew implements Nftables.
func (Netlink) NftRenew(ref NftRef, s NftSet) error {
	c, err := nftables.New()
	if err != nil {
		return nftError(err)
	}
	set := &nftables.Set{Table: &nftables.Table{Family: ref.Family, Name: ref.Name}, Name: s.Name, KeyType: s.KeyType, HasTimeout: s.Timeout}
	elems := setElements(s)
	if err := c.SetDeleteElements(set, elems); err != nil {
		return nftError(err)
	}
	if err := c.SetAddElements(set, elems); err != nil {
		return nftError(err)
	}
	return nftError(c.Flush())
}

// NftReplaceRules implements Nftables.
func (Netlink) NftReplaceRules(ref NftRef, chains []NftChain) error {
	c, err := nftables.New()
	if err != nil {
		return nftError(err)
	}
	table := &nftables.Table{Family: ref.Family, Name: ref.Name}
	for _, ch := range chains {
		chain := &nftables.Chain{Table: table, Name: ch.Name}
		c.FlushChain(chain)
		for _, r := range ch.Rules {
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: r.Exprs})
		}
	}
	err = c.Flush()
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%s: %w", ref, ErrNoTable)
	}
	return nftError(err)
}

// NftChains implements Nftables.
func (Netlink) NftChains(family nftables.TableFamily) ([]NftChainRef, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, nftError(err)
	}
	chains, err := c.ListChainsOfTableFamily(family)
	if err != nil {
		return nil, nftError(err)
	}
	out := make([]NftChainRef, 0, len(chains))
	for _, ch := range chains {
		out = append(out, NftChainRef{Table: ch.Table.Name, Chain: ch.Name})
	}
	return out, nil
}

// NftRead implements Nftables.
func (n Netlink) NftRead(ref NftRef) (*NftTable, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, nftError(err)
	}
	ts, err := c.ListTablesOfFamily(ref.Family)
	if err != nil {
		return nil, nftError(err)
	}
	var table *nftables.Table
	for _, t := range ts {
		if t.Name == ref.Name {
			table = t
		}
	}
	if table == nil {
		return nil, fmt.Errorf("%s: %w", ref, ErrNoTable)
	}
	out := &NftTable{NftRef: ref}
	chains, err := c.ListChainsOfTableFamily(ref.Family)
	if err != nil {
		return nil, nftError(err)
	}
	for _, ch := range chains {
		if ch.Table.Name != ref.Name {
			continue
		}
		rc := NftChain{Name: ch.Name, Type: ch.Type}
		if ch.Hooknum != nil && ch.Priority != nil {
			rc.Hook, rc.Priority = *ch.Hooknum, *ch.Priority
		}
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return nil, nftError(err)
		}
		for _, r := range rules {
			rc.Rules = append(rc.Rules, NftRule{Exprs: r.Exprs})
		}
		out.Chains = append(out.Chains, rc)
	}
	sets, err := c.GetSets(table)
	if err != nil {
		return nil, nftError(err)
	}
	for _, s := range sets {
		rs := NftSet{Name: s.Name, KeyType: s.KeyType, Timeout: s.HasTimeout}
		elems, err := c.GetSetElements(s)
		if err != nil {
			return nil, nftError(err)
		}
		for _, e := range elems {
			rs.Elements = append(rs.Elements, NftElement{Key: e.Key, Timeout: e.Timeout, Expires: e.Expires})
		}
		out.Sets = append(out.Sets, rs)
	}
	return out, nil
}
