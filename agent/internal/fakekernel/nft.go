package fakekernel

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/nftables"

	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
)

// nftTable is a table the fake holds: as it was made, its elements' deadlines on the fake's clock.
type nftTable struct {
	t        kernel.NftTable
	deadline map[string]map[string]time.Time // set → key → when it expires (zero: never)
}

var errNoNftables = fmt.Errorf("nftables: %w (operation not supported)", kernel.ErrNoNftables)

func (k *Kernel) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// NftTables implements kernel.Nftables.
func (k *Kernel) NftTables() ([]kernel.NftRef, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.Nftables {
		return nil, errNoNftables
	}
	var out []kernel.NftRef
	for ref := range k.nft {
		out = append(out, ref)
	}
	slices.SortFunc(out, func(a, b kernel.NftRef) int { return cmpString(a.String(), b.String()) })
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// NftCreate implements kernel.Nftables.
func (k *Kernel) NftCreate(t *kernel.NftTable) error {
	if r := k.record([]string{"nft", "-f", "-"}, t.CreateScript()); r != nil {
		return failure(r)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.Nftables {
		return errNoNftables
	}
	if k.NoInet && t.Family == nftables.TableFamilyINet {
		return fmt.Errorf("nftables: %w (address family not supported by protocol)", kernel.ErrNoNftables)
	}
	if _, ok := k.nft[t.NftRef]; ok {
		return fmt.Errorf("nftables: conn.Receive: file exists (table %s)", t.NftRef)
	}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for _, e := range r.Exprs {
				if e == nil {
					return errors.New("nftables: a rule with a nil expression")
				}
			}
		}
	}
	nt := &nftTable{t: kernel.NftTable{NftRef: t.NftRef}, deadline: map[string]map[string]time.Time{}}
	now := k.now()
	for _, s := range t.Sets {
		nt.t.Sets = append(nt.t.Sets, kernel.NftSet{Name: s.Name, KeyType: s.KeyType, Timeout: s.Timeout})
		nt.deadline[s.Name] = map[string]time.Time{}
		nt.add(s, now)
	}
	for _, c := range t.Chains {
		nc := c
		nc.Rules = nil
		for _, r := range c.Rules {
			nc.Rules = append(nc.Rules, kernel.NftRule{Exprs: slices.Clone(r.Exprs)})
		}
		nt.t.Chains = append(nt.t.Chains, nc)
	}
	if k.nft == nil {
		k.nft = map[kernel.NftRef]*nftTable{}
	}
	k.nft[t.NftRef] = nt
	return nil
}

// add puts elements into a set of the table (replacing those with the same key).
func (nt *nftTable) add(s kernel.NftSet, now time.Time) {
	for i := range nt.t.Sets {
		set := &nt.t.Sets[i]
		if set.Name != s.Name {
			continue
		}
		for _, e := range s.Elements {
			set.Elements = slices.DeleteFunc(set.Elements, func(x kernel.NftElement) bool { return bytes.Equal(x.Key, e.Key) })
			set.Elements = append(set.Elements, kernel.NftElement{Key: bytes.Clone(e.Key), Timeout: e.Timeout})
			var at time.Time
			if e.Timeout > 0 {
				at = now.Add(e.Timeout)
			}
			nt.deadline[s.Name][string(e.Key)] = at
		}
	}
}

// NftDelete implements kernel.Nftables.
func (k *Kernel) NftDelete(ref kernel.NftRef) error {
	if r := k.record(kernel.DeleteArgv(ref), ""); r != nil {
		return failure(r)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.Nftables {
		return errNoNftables
	}
	if _, ok := k.nft[ref]; !ok {
		return fmt.Errorf("%s: %w", ref, kernel.ErrNoTable)
	}
	delete(k.nft, ref)
	return nil
}

// changeTable records an `nft -f -` transaction on a table and, unless Fail refuses it, runs it with
// the table under the fake's lock (missing: ErrNoTable).
func (k *Kernel) changeTable(ref kernel.NftRef, script string, do func(nt *nftTable) error) error {
	if r := k.record([]string{"nft", "-f", "-"}, script); r != nil {
		return failure(r)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.Nftables {
		return errNoNftables
	}
	nt, ok := k.nft[ref]
	if !ok {
		return fmt.Errorf("%s: %w", ref, kernel.ErrNoTable)
	}
	return do(nt)
}

// NftRenew implements kernel.Nftables.
func (k *Kernel) NftRenew(ref kernel.NftRef, s kernel.NftSet) error {
	return k.changeTable(ref, kernel.RenewScript(ref, s), func(nt *nftTable) error {
		if _, ok := nt.deadline[s.Name]; !ok {
			return fmt.Errorf("nftables: conn.Receive: no such file or directory (set %s)", s.Name)
		}
		nt.add(s, k.now())
		return nil
	})
}

// NftReplaceRules implements kernel.Nftables.
func (k *Kernel) NftReplaceRules(ref kernel.NftRef, chains []kernel.NftChain) error {
	return k.changeTable(ref, kernel.ReplaceScript(ref, chains), func(nt *nftTable) error {
		return replaceRules(nt, chains)
	})
}

func replaceRules(nt *nftTable, chains []kernel.NftChain) error {
	replaced := slices.Clone(nt.t.Chains)
	for _, c := range chains {
		i := slices.IndexFunc(replaced, func(x kernel.NftChain) bool { return x.Name == c.Name })
		if i < 0 {
			// a transaction is all or nothing
			return fmt.Errorf("nftables: conn.Receive: no such file or directory (chain %s)", c.Name)
		}
		replaced[i].Rules = nil
		for _, r := range c.Rules {
			replaced[i].Rules = append(replaced[i].Rules, kernel.NftRule{Exprs: slices.Clone(r.Exprs)})
		}
	}
	nt.t.Chains = replaced
	return nil
}

// NftRead implements kernel.Nftables: elements whose timeout passed are gone, as in the kernel.
func (k *Kernel) NftRead(ref kernel.NftRef) (*kernel.NftTable, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.Nftables {
		return nil, errNoNftables
	}
	nt, ok := k.nft[ref]
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref, kernel.ErrNoTable)
	}
	now := k.now()
	out := &kernel.NftTable{NftRef: ref, Chains: slices.Clone(nt.t.Chains)}
	for _, s := range nt.t.Sets {
		rs := kernel.NftSet{Name: s.Name, KeyType: s.KeyType, Timeout: s.Timeout}
		for _, e := range s.Elements {
			at := nt.deadline[s.Name][string(e.Key)]
			if !at.IsZero() && !now.Before(at) {
				continue
			}
			re := kernel.NftElement{Key: bytes.Clone(e.Key), Timeout: e.Timeout}
			if !at.IsZero() {
				re.Expires = at.Sub(now)
			}
			rs.Elements = append(rs.Elements, re)
		}
		out.Sets = append(out.Sets, rs)
	}
	return out, nil
}

// NftChains implements kernel.Nftables: the fake's own tables' chains (inet), and, for the ip
// and ip6 families, the chains of its iptables-nft tables (iptables-nft keeps them in nf_tables).
func (k *Kernel) NftChains(family nftables.TableFamily) ([]kernel.NftChainRef, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.Nftables {
		return nil, errNoNftables
	}
	var out []kernel.NftChainRef
	for ref, t := range k.nft {
		if ref.Family == family {
			for _, c := range t.t.Chains {
				out = append(out, kernel.NftChainRef{Table: ref.Name, Chain: c.Name})
			}
		}
	}
	fam := map[nftables.TableFamily]int{nftables.TableFamilyIPv4: 4, nftables.TableFamilyIPv6: 6}[family]
	for key, tables := range k.tables {
		if key.backend != firewall.NFT || key.family != fam {
			continue
		}
		for name, t := range tables {
			for _, c := range t.chains {
				out = append(out, kernel.NftChainRef{Table: name, Chain: c})
			}
		}
	}
	slices.SortFunc(out, func(a, b kernel.NftChainRef) int { return cmpString(a.Table+" "+a.Chain, b.Table+" "+b.Chain) })
	return out, nil
}
