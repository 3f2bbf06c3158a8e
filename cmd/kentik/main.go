// Command kentik manages Kentik interfaces, tenants and bulk classification jobs from a
// terminal, and runs a local fake of Kentik for tests and demos. Run `kentik --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gokentik/kentik/cmd/kentik/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal asks the command to stop cleanly (a classify job finishes its
		// journal entry, the fake closes its listeners); restoring the default handling
		// then lets a second Ctrl-C end the process at once.
		<-ctx.Done()
		stop()
	}()
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
