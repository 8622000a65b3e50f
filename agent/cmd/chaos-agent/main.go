// chaos-agent: the ephemeral container chaos-run adds to a target pod (see package cli for the
// verbs). Wiring only.
package main

import (
	"os"

	"chaos-run/agent/cli"
)

// version is set at build time: -ldflags '-X main.version=...'.
var version = "dev"

func main() {
	cli.Version = version
	os.Exit(cli.Run(os.Args[1:]))
}
