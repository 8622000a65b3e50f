package kernel

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Netem's attributes inside its TCA_OPTIONS, after struct tc_netem_qopt (linux/pkt_sched.h).
const (
	NetemCorr      = 1
	NetemDelayDist = 2
	NetemReorder   = 3
	NetemCorrupt   = 4
	NetemRate      = 6
	NetemRate64    = 8
	NetemLatency64 = 10
	NetemJitter64  = 11
)

// NetemQoptSize is the size of struct tc_netem_qopt: latency, limit, loss, gap, duplicate and
// jitter, 32 bits each (latency and jitter in scheduler ticks of 64 ns).
const NetemQoptSize = 24

// PschedShift: a scheduler tick is 2^6 ns (PSCHED_SHIFT).
const PschedShift = 6

// Attr is one netlink attribute: type and payload.
type Attr struct {
	Type uint16
	Data []byte
}

// Attrs encodes attributes (each padded to 4 bytes).
func Attrs(as ...Attr) []byte {
	var out []byte
	for _, a := range as {
		n := 4 + len(a.Data)
		h := make([]byte, 4, (n+3)&^3)
		binary.NativeEndian.PutUint16(h, uint16(n))
		binary.NativeEndian.PutUint16(h[2:], a.Type)
		h = append(h, a.Data...)
		for len(h)%4 != 0 {
			h = append(h, 0)
		}
		out = append(out, h...)
	}
	return out
}

// ParseAttrs decodes attributes; it stops at the first malformed one.
func ParseAttrs(b []byte) []Attr {
	var out []Attr
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b))
		if n < 4 || n > len(b) {
			break
		}
		out = append(out, Attr{Type: binary.NativeEndian.Uint16(b[2:]) &^ 0xC000, Data: b[4:n]})
		n = (n + 3) &^ 3
		if n > len(b) {
			break
		}
		b = b[n:]
	}
	return out
}

// DecodeNetem reads a netem's TCA_OPTIONS.
func DecodeNetem(opts []byte) *NetemOptions {
	if len(opts) < NetemQoptSize {
		return nil
	}
	u32 := func(i int) uint32 { return binary.NativeEndian.Uint32(opts[4*i:]) }
	n := &NetemOptions{
		LatencyUs: float64(uint64(u32(0))<<PschedShift) / 1000,
		Limit:     u32(1),
		LossPct:   float64(u32(2)) / math.MaxUint32 * 100,
		JitterUs:  float64(uint64(u32(5))<<PschedShift) / 1000,
	}
	for _, a := range ParseAttrs(opts[NetemQoptSize:]) {
		switch {
		case a.Type == NetemLatency64 && len(a.Data) == 8:
			n.LatencyUs = float64(int64(binary.NativeEndian.Uint64(a.Data))) / 1000
		case a.Type == NetemJitter64 && len(a.Data) == 8:
			n.JitterUs = float64(int64(binary.NativeEndian.Uint64(a.Data))) / 1000
		}
	}
	return n
}

// DecodePrio reads a prio's TCA_OPTIONS (struct tc_prio_qopt: bands, then the priomap).
func DecodePrio(opts []byte) *PrioOptions {
	if len(opts) < 20 {
		return nil
	}
	p := &PrioOptions{Bands: int(int32(binary.NativeEndian.Uint32(opts)))}
	copy(p.Priomap[:], opts[4:20])
	return p
}

// optionWords says a qdisc's options in tc's words, for the kinds the agent knows; nil for the
// others.
func optionWords(kind string, opts []byte) []string {
	switch kind {
	case "netem":
		if n := DecodeNetem(opts); n != nil {
			return n.words()
		}
	case "prio":
		if p := DecodePrio(opts); p != nil {
			w := []string{"bands", strconv.Itoa(p.Bands), "priomap"}
			for _, b := range p.Priomap {
				w = append(w, strconv.Itoa(int(b)))
			}
			return w
		}
	case "pfifo", "pfifo_head_drop", "bfifo":
		if len(opts) >= 4 {
			unit := "p"
			if kind == "bfifo" {
				unit = "b"
			}
			return []string{"limit", strconv.FormatUint(uint64(binary.NativeEndian.Uint32(opts)), 10) + unit}
		}
	case "tbf":
		return tbfWords(opts)
	}
	return nil
}

func (n *NetemOptions) words() []string {
	w := []string{"limit", strconv.FormatUint(uint64(n.Limit), 10)}
	if n.LatencyUs > 0 {
		w = append(w, "delay", usWords(n.LatencyUs))
		if n.JitterUs > 0 {
			w = append(w, usWords(n.JitterUs))
		}
	}
	if n.LossPct > 0 {
		w = append(w, "loss", strconv.FormatFloat(math.Round(n.LossPct*1e4)/1e4, 'f', -1, 64)+"%")
	}
	return w
}

func usWords(us float64) string {
	if us >= 1000 && math.Mod(us, 1000) == 0 {
		return strconv.FormatFloat(us/1000, 'f', -1, 64) + "ms"
	}
	return strconv.FormatFloat(math.Round(us), 'f', -1, 64) + "us"
}

// tbfWords: TCA_TBF_PARMS is struct tc_tbf_qopt — rate (tc_ratespec: cell_log, linklayer,
// overhead, cell_align, mpu, rate), peakrate, limit, buffer (ticks), mtu.
func tbfWords(opts []byte) []string {
	for _, a := range ParseAttrs(opts) {
		if a.Type != 1 || len(a.Data) < 36 {
			continue
		}
		rate := uint64(binary.NativeEndian.Uint32(a.Data[8:])) // bytes per second
		limit := binary.NativeEndian.Uint32(a.Data[24:])
		bufferNs := uint64(binary.NativeEndian.Uint32(a.Data[28:])) << PschedShift
		burst := rate * bufferNs / 1e9
		return []string{"rate", fmt.Sprintf("%dbit", rate*8), "burst", fmt.Sprintf("%db", burst), "limit", fmt.Sprintf("%db", limit)}
	}
	return nil
}
