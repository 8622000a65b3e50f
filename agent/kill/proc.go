package kill

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Proc reads the processes this agent can see (its PID namespace's /proc).
type Proc interface {
	// PIDs lists the processes.
	PIDs() ([]int, error)
	// Status is /proc/PID/status.
	Status(pid int) (string, error)
	// Cmdline is /proc/PID/cmdline (NUL-separated).
	Cmdline(pid int) (string, error)
	// Cgroup is /proc/PID/cgroup.
	Cgroup(pid int) (string, error)
}

// RealProc reads /proc.
type RealProc struct{ Root string }

func (p RealProc) root() string {
	if p.Root == "" {
		return "/proc"
	}
	return p.Root
}

// PIDs implements Proc.
func (p RealProc) PIDs() ([]int, error) {
	entries, err := os.ReadDir(p.root())
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out, nil
}

func (p RealProc) read(pid int, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(p.root(), strconv.Itoa(pid), name))
	return string(b), err
}

// Status implements Proc.
func (p RealProc) Status(pid int) (string, error) { return p.read(pid, "status") }

// Cmdline implements Proc.
func (p RealProc) Cmdline(pid int) (string, error) { return p.read(pid, "cmdline") }

// Cgroup implements Proc.
func (p RealProc) Cgroup(pid int) (string, error) { return p.read(pid, "cgroup") }

// Status is what /proc/PID/status says that matters here.
type Status struct {
	Name string
	PPid int
	// signal masks: bit n-1 is signal n
	SigBlk, SigIgn, SigCgt uint64
}

// ParseStatus reads /proc/PID/status.
func ParseStatus(text string) (Status, error) {
	var s Status
	seen := 0
	for _, line := range strings.Split(text, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		var err error
		switch key {
		case "Name":
			s.Name = value
		case "PPid":
			s.PPid, err = strconv.Atoi(value)
			seen++
		case "SigBlk":
			s.SigBlk, err = strconv.ParseUint(value, 16, 64)
			seen++
		case "SigIgn":
			s.SigIgn, err = strconv.ParseUint(value, 16, 64)
			seen++
		case "SigCgt":
			s.SigCgt, err = strconv.ParseUint(value, 16, 64)
			seen++
		}
		if err != nil {
			return s, fmt.Errorf("/proc status line %q: %v", line, err)
		}
	}
	if seen < 4 {
		return s, fmt.Errorf("/proc status lacks PPid, SigBlk, SigIgn or SigCgt")
	}
	return s, nil
}

func bit(mask uint64, sig int) bool { return sig >= 1 && sig <= 64 && mask&(1<<uint(sig-1)) != 0 }

// shortCmdline: the command line with spaces, at most 80 characters.
func shortCmdline(raw, name string) string {
	s := strings.TrimSpace(strings.ReplaceAll(strings.TrimRight(raw, "\x00"), "\x00", " "))
	if s == "" {
		s = name
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
