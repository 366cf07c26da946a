package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Main is the body of every binary's main function: it runs run with a
// context that ends on the first SIGINT or SIGTERM, prints its error to
// stderr, after the binary's name unless the error starts with it, and
// exits with ExitCode of it. A shutdown asked for by a signal exits 0
// even when run returns the context's error. A second signal exits at
// once, with status 128 + the signal's number, without waiting for run;
// one within doubleSignal of the first is taken for the same request
// delivered twice (timeout(1) and some supervisors signal both the process
// and its group) and ignored.
func Main(binary string, run func(context.Context) error) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	code := mainCode(binary, run, sigs, doubleSignal, os.Stderr, os.Exit)
	signal.Stop(sigs)
	if code != 0 {
		os.Exit(code)
	}
}

// doubleSignal is how soon after the first a signal is taken for a copy of
// it rather than a second request.
const doubleSignal = 500 * time.Millisecond

// errSignal is the cause of the context Main gives run once a signal
// arrived.
var errSignal = errors.New("signal received")

// mainCode runs run as Main describes, with the signals of sigs, and
// returns its exit status; exit ends the process on a second signal.
func mainCode(binary string, run func(context.Context) error, sigs <-chan os.Signal, same time.Duration, stderr io.Writer, exit func(int)) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go func() {
		var first time.Time
		select {
		case sig := <-sigs:
			first = time.Now()
			cancel(fmt.Errorf("%w: %v", errSignal, sig))
		case <-done:
			return
		}
		for {
			select {
			case sig := <-sigs:
				if time.Since(first) < same {
					continue // the first one again
				}
				fmt.Fprintf(stderr, "%s: second %v signal, exiting at once\n", binary, sig)
				exit(128 + signalNumber(sig))
				return
			case <-done:
				return
			}
		}
	}()
	err := run(ctx)
	if err != nil && errors.Is(context.Cause(ctx), errSignal) && shutdownError(ctx, err) {
		err = nil
	}
	code := ExitCode(err)
	if code != 0 {
		msg := err.Error()
		if !strings.HasPrefix(msg, binary+" ") && !strings.HasPrefix(msg, binary+":") {
			msg = binary + ": " + msg
		}
		fmt.Fprintln(stderr, msg)
	}
	return code
}

// shutdownError reports whether err, returned after a signal ended ctx, is
// only the news of that end: the context's error or its cause.
func shutdownError(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, errSignal) || strings.Contains(err.Error(), context.Cause(ctx).Error())
}

func signalNumber(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return int(s)
	}
	return 1
}
