// The lab's CoreDNS: the upstream program with only the plugins the lab's Corefile uses
// (test/lab/images/coredns/coredns.yaml), built by test/lab/build-coredns.sh at the version
// pinned in test/lab/versions.env. There is no forward (nor grpc, etcd, cloud) plugin: the lab
// has no upstream resolver and nothing in it may send traffic off the machine, so CoreDNS
// answers cluster.local and the reverse zones itself and refuses every other name.
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() {
	coremain.Run()
}
