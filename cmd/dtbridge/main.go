// Command dtbridge receives DoubleTick webhooks and stores them in NATS
// JetStream as CloudEvents. See README.md.
package main

import (
	"os"

	"github.com/dtbridge/dtbridge/pkg/cli"
)

func main() { os.Exit(cli.Main()) }
