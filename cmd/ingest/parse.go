package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// parse prints, one JSON object per line, the contract-v1 events of captured
// SyncML messages: each FILE (gzip accepted), or stdin when there is none.
// The messages are a device's (its answers and alerts, as POST /v1/syncml
// reads them) or, with --commands, the MDM server's to a device (its
// commands, as POST /v1/syncml/commands reads them). A file that fails is
// reported on stderr with its reason; the others still print, and the
// command then returns an error. With --commands, an install document that
// is rejected is reported on stderr too, and its command printed with
// payload_error.
func parse(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.String("tenant", envOr(getenv, "CSPWATCH_TENANT", "default"), "tenant written in the events (env CSPWATCH_TENANT)")
	at := fs.String("received-at", "", "received_at of the events, RFC 3339 (default: now), for reproducible output")
	commands := fs.Bool("commands", false, "the messages are the MDM server's to a device: print their command events")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ingest parse [--commands] [flags] [FILE...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *tenant == "" {
		return fmt.Errorf("%w: --tenant must not be empty", errUsage)
	}
	received := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339Nano, *at)
		if err != nil {
			return fmt.Errorf("%w: --received-at: %v", errUsage, err)
		}
		received = t
	}

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	p := parser{
		scanner:  syncml.NewScanner(syncml.DefaultLimits),
		meta:     normalize.Meta{Tenant: *tenant, ReceivedAt: received},
		out:      out,
		commands: *commands,
		stderr:   stderr,
	}
	if fs.NArg() == 0 {
		p.name = "stdin"
		if err := p.one(stdin); err != nil {
			fmt.Fprintf(stderr, "ingest parse: stdin: %v\n", err)
			return errReported
		}
		return nil
	}
	failed := 0
	for _, name := range fs.Args() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.name = name
		if err := p.file(name); err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "ingest parse: %s: %v\n", name, err)
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d files failed", errReported, failed, fs.NArg())
	}
	return nil
}

// errReported is returned after the failures were already printed.
var errReported = errors.New("parse errors")

type parser struct {
	scanner  *syncml.Scanner
	builder  normalize.Builder
	enc      eventjson.Encoder
	meta     normalize.Meta
	events   []event.Event
	line     []byte
	out      *bufio.Writer
	commands bool      // server's messages: BuildCommands
	stderr   io.Writer // rejected install documents
	name     string    // of the message being parsed
}

func (p *parser) file(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return p.one(f)
}

func (p *parser) one(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
	}
	msg, err := p.scanner.Parse(body)
	if err != nil {
		return err
	}
	if p.commands {
		if len(msg.Header.Target) == 0 {
			return fmt.Errorf("%s: a server's message names the device in SyncHdr/Target/LocURI, which is missing or empty", syncml.ReasonNoDevice)
		}
		p.events, _ = p.builder.BuildCommands(msg, p.meta, p.events[:0])
		for i := range p.events {
			if e := &p.events[i]; e.PayloadError != "" {
				fmt.Fprintf(p.stderr, "ingest parse: %s: %s CmdID %s %s: install document rejected: %s\n",
					p.name, e.Command, e.CmdIDRaw, e.LocURI, e.PayloadError)
			}
		}
	} else {
		// Each event is written out before the next message is built.
		p.events, _ = p.builder.BuildTransient(msg, p.meta, p.events[:0])
	}
	for i := range p.events {
		p.line = p.enc.AppendJSON(p.line[:0], &p.events[i])
		p.line = append(p.line, '\n')
		if _, err := p.out.Write(p.line); err != nil {
			return err
		}
	}
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
