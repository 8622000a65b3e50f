package netem

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The tables iproute2 6.1 ships (Debian bookworm's /usr/lib/x86_64-linux-gnu/tc/*.dist), as the
// sha256 of their values in order, each as decimal text and a newline.
var distSums = map[string]string{
	"normal":       "4f71ba4302d5279893e80337f30e6035e905a335e9be0d2883cb6c39447b2681",
	"pareto":       "289b5943eaa2dd20cbb6eb5fad587c3d4f3d0635c858316a1304027c8f227799",
	"paretonormal": "c607cf39ce25225b2f1df3314698426b566611911e6697ae1920244c1e008a4f",
}

func tableText(t []int16) string {
	var b strings.Builder
	for _, v := range t {
		b.WriteString(strconv.Itoa(int(v)) + "\n")
	}
	return b.String()
}

func readDist(t *testing.T, path string) []int16 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []int16
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, f := range strings.Fields(line) {
			v, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s: %q", path, f)
			}
			out = append(out, int16(v))
		}
	}
	return out
}

func TestDistTablesAreIproute2s(t *testing.T) {
	for name, sum := range distSums {
		table := DistTable(name)
		if len(table) != 4096 {
			t.Fatalf("%s: %d values", name, len(table))
		}
		h := sha256.Sum256([]byte(tableText(table)))
		if got := hex.EncodeToString(h[:]); got != sum {
			t.Errorf("%s: sha256 %s, iproute2's is %s", name, got, sum)
		}
		// where this machine has iproute2's files, the same values one by one
		for _, dir := range []string{"/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/tc"} {
			if want := readDist(t, dir+"/"+name+".dist"); want != nil {
				if tableText(want) != tableText(table) {
					t.Errorf("%s differs from %s/%s.dist", name, dir, name)
				}
			}
		}
	}
	if DistTable("uniform") != nil {
		t.Error("uniform has a table")
	}
}
