// The lab's pod sandbox ("pause") program: the first process of every pod the lab's
// containerd starts. It holds the pod's namespaces open, reaps the orphans a pod's
// processes leave behind (it is PID 1 of a pod that shares its PID namespace), and exits
// on SIGINT or SIGTERM. Nothing can be pulled here, so the lab builds this instead of
// registry.k8s.io/pause; it is the same contract in a few lines of Go.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
