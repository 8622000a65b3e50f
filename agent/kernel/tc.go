package kernel

import (
	"encoding/binary"
	"strconv"
)

// QdiscOp is what a QdiscChange does.
type QdiscOp int

// Qdisc operations, as tc names them.
const (
	// QdiscAdd (tc qdisc add) fails when the handle is taken, or, at the root, when a root other
	// than the kernel's default is there.
	QdiscAdd QdiscOp = iota
	// QdiscReplace (tc qdisc replace) takes the root's place in one step.
	QdiscReplace
	// QdiscDelete (tc qdisc del) removes the qdisc at Parent, only if its handle is Handle (when
	// Handle is not 0), with its children and filters.
	QdiscDelete
)

// QdiscChange is one change of a qdisc over rtnetlink.
type QdiscChange struct {
	Op     QdiscOp
	Iface  string
	Parent uint32 // HandleRoot for the interface's root
	Handle uint32
	Kind   string // not for QdiscDelete
	// Options is the TCA_OPTIONS payload, as the kind's change takes it.
	Options []byte
	// Words are the options in tc's words, for the record; nil when the agent cannot tell them
	// (a qdisc re-created from its dump).
	Words []string
}

// OptionsAsRead stands for options the agent copies from a dump without knowing them in tc's
// words.
const OptionsAsRead = "(its options as the kernel read them back)"

// Argv is the tc command line that makes the same change.
func (c QdiscChange) Argv() []string {
	verb := map[QdiscOp]string{QdiscAdd: "add", QdiscReplace: "replace", QdiscDelete: "del"}[c.Op]
	out := []string{"tc", "qdisc", verb, "dev", c.Iface}
	if c.Parent == HandleRoot {
		out = append(out, "root")
	} else {
		out = append(out, "parent", HandleString(c.Parent))
	}
	if c.Handle != 0 {
		out = append(out, "handle", HandleString(c.Handle))
	}
	if c.Op == QdiscDelete {
		return out
	}
	out = append(out, c.Kind)
	if c.Words == nil && len(c.Options) > 0 {
		return append(out, OptionsAsRead)
	}
	return append(out, c.Words...)
}

// Ethernet protocols of tc filters.
const (
	EthPIP   uint16 = 0x0800
	EthPIPv6 uint16 = 0x86DD
)

// U32Key is one 32-bit match of a u32 selector: the packet's word at Off (from the network
// header) masked with Mask equals Val. Val and Mask are in network byte order, as read from the
// packet (0x0a000000 is 10.0.0.0).
type U32Key struct {
	Val, Mask uint32
	Off       int32
}

// FilterChange adds one u32 filter sending what it matches to ClassID.
type FilterChange struct {
	Iface    string
	Parent   uint32
	Protocol uint16
	Priority uint16
	ClassID  uint32
	Keys     []U32Key
	// Words are the selector in tc's words (`match ip dport 80 0xffff`).
	Words []string
}

// Argv is the tc command line that adds the same filter.
func (f FilterChange) Argv() []string {
	proto := "ip"
	if f.Protocol == EthPIPv6 {
		proto = "ipv6"
	}
	out := []string{"tc", "filter", "add", "dev", f.Iface, "parent", HandleString(f.Parent), "protocol", proto,
		"prio", strconv.Itoa(int(f.Priority)), "u32"}
	out = append(out, f.Words...)
	return append(out, "flowid", HandleString(f.ClassID))
}

// Writer changes qdiscs and tc filters, and destroys sockets.
type Writer interface {
	ChangeQdisc(c QdiscChange) error
	AddU32(f FilterChange) error
	DestroyConnections(conns []Conn) (destroyed int, err error)
}

// u32Selector is struct tc_u32_sel with its keys, as TCA_U32_SEL carries it: flags, offshift,
// nkeys, a pad byte, offmask (be16), off, offoff, hoff (16 bits each), hmask (be32), then
// per key mask (be32), val (be32), off, offmask (32 bits each). A selector with a class is
// terminal (TC_U32_TERMINAL), as tc makes it with flowid.
func u32Selector(keys []U32Key) []byte {
	b := make([]byte, 16+16*len(keys))
	b[0] = 1 // TC_U32_TERMINAL
	b[2] = byte(len(keys))
	for i, k := range keys {
		o := 16 + 16*i
		binary.BigEndian.PutUint32(b[o:], k.Mask)
		binary.BigEndian.PutUint32(b[o+4:], k.Val)
		binary.NativeEndian.PutUint32(b[o+8:], uint32(k.Off))
	}
	return b
}

// U32Keys reads the keys back from a selector (tests, the fake).
func U32Keys(sel []byte) []U32Key {
	if len(sel) < 16 {
		return nil
	}
	n := int(sel[2])
	var out []U32Key
	for i := 0; i < n && 16+16*(i+1) <= len(sel); i++ {
		o := 16 + 16*i
		out = append(out, U32Key{Mask: binary.BigEndian.Uint32(sel[o:]), Val: binary.BigEndian.Uint32(sel[o+4:]), Off: int32(binary.NativeEndian.Uint32(sel[o+8:]))})
	}
	return out
}
