package dns

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ResolvConf is what of a resolv.conf the agent uses: the nameservers (at most 3, as glibc), the
// search list and ndots. Path is the file it was read from.
type ResolvConf struct {
	Path        string
	Nameservers []netip.Addr
	Search      []string
	Ndots       int
	// Port is the nameservers' port: 53 (0); tests set another.
	Port uint16
}

func (rc ResolvConf) port() uint16 {
	if rc.Port == 0 {
		return 53
	}
	return rc.Port
}

// maxResolvConf bounds the file read (a pod's is a few lines; the target's is the pod's input).
const maxResolvConf = 64 << 10

// ReadResolvConf reads and parses path.
func ReadResolvConf(path string) (ResolvConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return ResolvConf{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResolvConf))
	if err != nil {
		return ResolvConf{}, fmt.Errorf("%s: %v", path, err)
	}
	rc := ParseResolvConf(b)
	rc.Path = path
	if len(rc.Nameservers) == 0 {
		return rc, fmt.Errorf("%s names no nameserver", path)
	}
	return rc, nil
}

// ParseResolvConf reads resolv.conf's nameserver, search (or domain) and options ndots lines, as
// glibc does: the first 3 nameservers, the last search or domain line, ndots at most 15 (default
// 1). A nameserver with a zone (fe80::1%eth0) is skipped.
func ParseResolvConf(b []byte) ResolvConf {
	rc := ResolvConf{Ndots: 1, Search: []string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil && a.Zone() == "" && len(rc.Nameservers) < 3 {
				rc.Nameservers = append(rc.Nameservers, a.Unmap())
			}
		case "search", "domain":
			rc.Search = searchList(f[1:])
		case "options":
			for _, o := range f[1:] {
				if v, ok := strings.CutPrefix(o, "ndots:"); ok {
					if n, err := strconv.Atoi(v); err == nil && n >= 0 {
						rc.Ndots = min(n, 15)
					}
				}
			}
		}
	}
	return rc
}

// searchList keeps the domains that are names (at most 32, as the schema's reply allows).
func searchList(domains []string) []string {
	out := []string{}
	for _, d := range domains {
		d = strings.TrimSuffix(d, ".")
		if d != "" && len(d) <= 253 && len(out) < 32 {
			out = append(out, d)
		}
	}
	return out
}

// Candidates are the names a resolution tries in order, as glibc's res_search: an absolute name
// (a trailing dot) alone; else with at least ndots dots the name first, then with each search
// domain; with fewer, the search domains first, the name last.
func (rc ResolvConf) Candidates(name string) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	var searched []string
	for _, d := range rc.Search {
		searched = append(searched, name+"."+d+".")
	}
	if strings.Count(name, ".") >= rc.Ndots {
		return append([]string{name + "."}, searched...)
	}
	return append(searched, name+".")
}
