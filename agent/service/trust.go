package service

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Who may drive the agent. The control socket is an abstract unix socket: it has no owner and
// no permissions, and every process of the pod's network namespace — any container, any UID —
// can connect to it. So the agent asks the kernel who connected (SO_PEERCRED, and the peer's
// pidfd where the kernel has SO_PEERPIDFD, Linux 6.5+), and only its own requester may change
// anything: a process in the agent's own mount namespace (its container: what `kubectl exec`
// into it runs, `chaos-agent request` from the runner) whose UID is root or the agent's own.
// Anyone else — a stranger: another container of the pod, another agent, a process the agent
// cannot see — may only ask `status` with `scanOrphans: false` (what the agent holds, from
// memory), which is how the agents of a pod learn each other's claims.

// Peer is who connected: as the kernel says at connect time.
type Peer struct {
	// PID in this agent's PID namespace; 0 when the peer's process is not visible from here
	// (another PID namespace: another container that does not share this one's).
	PID int
	UID int
	// MountNS names the peer's mount namespace ("mnt:[4026532001]"); "" when unknown.
	MountNS string
	// Problem says why the identity is incomplete (a read that failed, a peer that exited).
	Problem string
}

// Self is the agent's own identity, to compare peers with.
type Self struct {
	UID     int
	MountNS string
}

// Authorize says whether a peer is the agent's own requester; if not, why, in words.
func Authorize(self Self, p Peer) (own bool, why string) {
	switch {
	case p.Problem != "":
		return false, p.Problem
	case p.PID == 0:
		return false, "its process is not visible from the agent's PID namespace (another container of the pod)"
	case self.MountNS == "":
		return false, "the agent could not read its own mount namespace, so it cannot tell its own requests"
	case p.MountNS != self.MountNS:
		return false, fmt.Sprintf("PID %d is in another mount namespace (%s, the agent's is %s): another container of the pod", p.PID, p.MountNS, self.MountNS)
	case p.UID != 0 && p.UID != self.UID:
		return false, fmt.Sprintf("PID %d runs as UID %d, neither root nor the agent's UID %d", p.PID, p.UID, self.UID)
	}
	return true, ""
}

// Identify asks the kernel who is at the other end of a connection.
type Identify func(conn net.Conn) Peer

// SelfIdentity is this process's UID and mount namespace.
func SelfIdentity() Self {
	mnt, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		mnt = ""
	}
	return Self{UID: os.Geteuid(), MountNS: mnt}
}

// PeerCred is the real Identify: SO_PEERCRED for the PID and UID, /proc/PID/ns/mnt for the
// mount namespace, and — where the kernel gives the peer's pidfd — a check that the process
// read under /proc/PID is still the one that connected (a PID freed and reused meanwhile would
// otherwise lend the connection another process's identity).
func PeerCred(conn net.Conn) Peer {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return Peer{Problem: "not a unix socket connection"}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{Problem: "peer credentials: " + err.Error()}
	}
	var cred *unix.Ucred
	var credErr error
	pidfd := -1
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD); err == nil {
			pidfd = v
		}
	}); err != nil {
		credErr = err
	}
	if pidfd >= 0 {
		defer unix.Close(pidfd)
	}
	if credErr != nil {
		return Peer{Problem: "peer credentials (SO_PEERCRED): " + credErr.Error()}
	}
	p := Peer{PID: int(cred.Pid), UID: int(cred.Uid)}
	if p.PID == 0 {
		return p
	}
	mnt, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/ns/mnt")
	if err != nil {
		p.Problem = fmt.Sprintf("cannot read the mount namespace of PID %d: %v", p.PID, err)
		return p
	}
	p.MountNS = mnt
	if pidfd >= 0 {
		// alive now, so PID p.PID was its all along since the pidfd was taken: a process's PID
		// is freed only once it has exited and been reaped
		if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); errors.Is(err, unix.ESRCH) {
			p.Problem = fmt.Sprintf("PID %d exited before its identity was read", p.PID)
		}
	}
	return p
}
