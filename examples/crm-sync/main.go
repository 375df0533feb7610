// Command crm-sync is an example downstream service for dtbridge: it
// follows closed conversations (doubletick.*.conversation.closed) with a
// durable JetStream consumer from pkg/consumer and logs the update a CRM
// integration would make for each one. With --listen it also accepts
// events re-delivered by `dtbridge replay --to http://ADDR/events` and runs
// them through the same handler. See README.md, "Example: a CRM sync
// service".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
