package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Main is the body of every binary's main function: it runs run with a
// context that ends on SIGINT or SIGTERM, prints its error to stderr,
// after the binary's name unless the error starts with it, and exits with
// ExitCode of it.
func Main(binary string, run func(context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if code := ExitCode(err); code != 0 {
		msg := err.Error()
		if !strings.HasPrefix(msg, binary+" ") && !strings.HasPrefix(msg, binary+":") {
			msg = binary + ": " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(code)
	}
}
