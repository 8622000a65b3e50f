package stress

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Sample is what the agent's own container cgroup says at one moment. The agent, an ephemeral
// container, has a cgroup of its own under the pod's, with no limit of its own: the pod's limit
// is an ancestor's. A nil field could not be read here.
type Sample struct {
	// UsageNs: CPU time of every process of the cgroup (cpuacct.usage, cpu.stat usage_usec)
	UsageNs *int64
	// ThrottledNs: time the cgroup was throttled by its own or an ancestor's CPU limit
	// (cpu.stat.local throttled_time / throttled_usec: Linux 6.7 and later)
	ThrottledNs *int64
	// OOMKills: OOM kills of processes of this cgroup (memory.oom_control, memory.events)
	OOMKills *int64
	// Version 1 or 2; ThrottleSource says where throttling was read, or why it was not.
	Version        int
	ThrottleSource string
}

// Cgroup reads samples.
type Cgroup interface{ Sample() Sample }

// FS reads the cgroup file system. Root is /sys/fs/cgroup; SelfCgroup is /proc/self/cgroup's
// text (to find the agent's own directory when the whole hierarchy is visible, as outside a
// container); PID is the agent's, to recognise its directory.
type FS struct {
	Root       string
	SelfCgroup string
	PID        int
}

// RealFS reads this process's cgroup.
func RealFS() FS {
	b, _ := os.ReadFile("/proc/self/cgroup")
	return FS{Root: "/sys/fs/cgroup", SelfCgroup: string(b), PID: os.Getpid()}
}

// dir finds the directory of the agent's cgroup for a v1 controller (or v2 when controller is
// ""): inside a container the hierarchy's root is the container's own cgroup; outside, it is
// the path /proc/self/cgroup gives.
func (f FS) dir(controller string) string {
	var mounts []string
	if controller == "" {
		mounts = []string{f.Root}
	} else {
		mounts = []string{filepath.Join(f.Root, controller)}
		// cpu and cpuacct are often co-mounted
		if controller == "cpu" || controller == "cpuacct" {
			mounts = append(mounts, filepath.Join(f.Root, "cpu,cpuacct"), filepath.Join(f.Root, "cpuacct,cpu"))
		}
	}
	var paths []string
	for _, line := range strings.Split(f.SelfCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls := strings.Split(parts[1], ",")
		if controller == "" && parts[0] == "0" && parts[1] == "" {
			paths = append(paths, parts[2])
		}
		for _, c := range ctrls {
			if controller != "" && c == controller {
				paths = append(paths, parts[2])
			}
		}
	}
	for _, m := range mounts {
		if _, err := os.Stat(m); err != nil {
			continue
		}
		for _, p := range paths {
			d := filepath.Join(m, p)
			if f.holdsSelf(d) {
				return d
			}
		}
		if f.holdsSelf(m) {
			return m
		}
	}
	return ""
}

func (f FS) holdsSelf(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return false
	}
	want := strconv.Itoa(f.PID)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

// keyed reads "key value" lines.
func keyed(path string) map[string]int64 {
	file, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer file.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

func one(path string) *int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

func ptr(n int64) *int64 { return &n }

// Sample implements Cgroup.
func (f FS) Sample() Sample {
	if _, err := os.Stat(filepath.Join(f.Root, "cgroup.controllers")); err == nil {
		return f.v2()
	}
	return f.v1()
}

func (f FS) v2() Sample {
	s := Sample{Version: 2}
	d := f.dir("")
	if d == "" {
		s.ThrottleSource = "the agent's cgroup (v2) was not found under " + f.Root
		return s
	}
	if st := keyed(filepath.Join(d, "cpu.stat")); st != nil {
		if v, ok := st["usage_usec"]; ok {
			s.UsageNs = ptr(v * 1000)
		}
	}
	if st := keyed(filepath.Join(d, "cpu.stat.local")); st != nil {
		if v, ok := st["throttled_usec"]; ok {
			s.ThrottledNs = ptr(v * 1000)
			s.ThrottleSource = "cpu.stat.local (cgroup v2): time throttled by this or an ancestor's CPU limit"
		}
	}
	if s.ThrottledNs == nil {
		s.ThrottleSource = "not readable: cgroup v2 without cpu.stat.local (Linux before 6.7) does not say when an ancestor's CPU limit throttles this cgroup"
	}
	if ev := keyed(filepath.Join(d, "memory.events")); ev != nil {
		if v, ok := ev["oom_kill"]; ok {
			s.OOMKills = ptr(v)
		}
	}
	return s
}

func (f FS) v1() Sample {
	s := Sample{Version: 1}
	if d := f.dir("cpuacct"); d != "" {
		s.UsageNs = one(filepath.Join(d, "cpuacct.usage"))
	}
	if d := f.dir("cpu"); d != "" {
		if st := keyed(filepath.Join(d, "cpu.stat.local")); st != nil {
			if v, ok := st["throttled_time"]; ok {
				s.ThrottledNs = ptr(v)
				s.ThrottleSource = "cpu.stat.local (cgroup v1): time throttled by this or an ancestor's CPU limit"
			}
		}
	}
	if s.ThrottledNs == nil {
		s.ThrottleSource = "not readable: no cpu.stat.local in the agent's cgroup (Linux before 6.7) to say when an ancestor's CPU limit throttles it"
	}
	if d := f.dir("memory"); d != "" {
		if st := keyed(filepath.Join(d, "memory.oom_control")); st != nil {
			if v, ok := st["oom_kill"]; ok {
				s.OOMKills = ptr(v)
			}
		}
	}
	return s
}
