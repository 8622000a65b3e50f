package netem

import (
	"encoding/binary"
	"math"
	"sync"
)

// Delay distribution tables, as iproute2 makes them at build time (netem/normal.c, pareto.c,
// paretonormal.c) and tc reads them from /usr/lib/tc/NAME.dist: 4096 values of the inverse
// distribution function, scaled by NETEM_DIST_SCALE (8192). The agent computes them itself — it
// carries no iproute2 — with iproute2's arithmetic; the tests compare them with Debian's files.
// "uniform" has no table: it is netem's own jitter when none is given.
const (
	distTableSize = 16384
	distScale     = 8192
)

var (
	distOnce   sync.Once
	distTables map[string][]int16
)

// DistTable is the table of a distribution (nil for uniform or an unknown name).
func DistTable(name string) []int16 {
	distOnce.Do(func() {
		normal := normalInverse()
		distTables = map[string][]int16{"normal": normalTable(normal), "pareto": paretoTable(), "paretonormal": paretoNormalTable(normal)}
	})
	return distTables[name]
}

// distBytes is a table as TCA_NETEM_DELAY_DIST carries it (s16 each, host order).
func distBytes(t []int16) []byte {
	b := make([]byte, 2*len(t))
	for i, v := range t {
		binary.NativeEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

// normalInverse samples x over [-10, 10.05) and files each under its CDF's place in the table,
// as normal.c does (the same float steps, so the same table).
func normalInverse() []float64 {
	table := make([]float64, distTableSize+1)
	for x := -10.0; x < 10.05; x += .00005 {
		cdf := .5 + .5*math.Erf(x/math.Sqrt(2.0))
		table[int(math.RoundToEven(distTableSize*cdf))] = x
	}
	return table
}

func clamp16(v int) int16 {
	return int16(max(math.MinInt16, min(math.MaxInt16, v)))
}

func normalTable(inv []float64) []int16 {
	out := make([]int16, 0, distTableSize/4)
	for i := 0; i < distTableSize; i += 4 {
		out = append(out, clamp16(int(math.RoundToEven(inv[i]*distScale))))
	}
	return out
}

// paretoValue is pareto.c's value for its index i (65536 down to 16): a = 3.
func paretoValue(i int) int {
	d := 1.0 / math.Pow(float64(i)/65536, 1.0/3.0)
	d = (d - 1.5) * (4.0 / 3.0) * distScale
	return int(math.RoundToEven(math.Min(d, 32767)))
}

func paretoTable() []int16 {
	out := make([]int16, 0, distTableSize/4)
	for i := 65536; i > 0; i -= 16 {
		out = append(out, int16(paretoValue(i)))
	}
	return out
}

func paretoNormalTable(inv []float64) []int16 {
	out := make([]int16, 0, distTableSize/4)
	for i := 0; i < distTableSize; i += 4 {
		normal := int(math.RoundToEven(inv[i] * distScale))
		out = append(out, clamp16((normal+3*paretoValue(65536-4*i))/4))
	}
	return out
}
