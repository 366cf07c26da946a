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
	"slices"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// parseConfig is the configuration of `ingest parse`.
type parseConfig struct {
	Tenant     string
	ReceivedAt string
	Commands   bool
	Files      []string
}

func parseFlags() (*parseConfig, *flag.FlagSet) {
	c := &parseConfig{Tenant: "default"}
	fs := flag.NewFlagSet("ingest parse", flag.ContinueOnError)
	fs.StringVar(&c.Tenant, "tenant", c.Tenant, "tenant written in the events")
	fs.StringVar(&c.ReceivedAt, "received-at", c.ReceivedAt, "received_at of the events, RFC 3339 (default: now), for reproducible output")
	fs.BoolVar(&c.Commands, "commands", c.Commands, "the messages are the MDM server's to a device: print their command events")
	return c, fs
}

// Validate reports the first unusable setting, naming its flag.
func (c *parseConfig) Validate() error {
	if c.Tenant == "" {
		return errors.New("--tenant: want a tenant name, got none")
	}
	if c.ReceivedAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, c.ReceivedAt); err != nil {
			return fmt.Errorf("--received-at: want an RFC 3339 time such as 2026-11-23T05:00:00Z, got %q", c.ReceivedAt)
		}
	}
	return nil
}

func parseCommand(stdin io.Reader, stdout, stderr io.Writer) *ffcli.Command {
	c, fs := parseFlags()
	return &ffcli.Command{
		Name:       "parse",
		ShortUsage: "ingest parse [--commands] [flags] [FILE...]",
		ShortHelp:  "print the install events of captured SyncML messages (stdin when no FILE), without any server",
		LongHelp: `Prints, one JSON object per line, the contract-v1 events of captured
SyncML messages: each FILE (gzip accepted), or stdin when there is none.
The messages are a device's (its answers and alerts, as POST /v1/syncml
reads them) or, with --commands, the MDM server's to a device (its
commands, as POST /v1/syncml/commands reads them).`,
		FlagSet: fs,
		Exec: func(ctx context.Context, args []string) error {
			files, err := cli.Positional(fs, args)
			if err != nil {
				return err
			}
			if err := cli.Check(fs, c.Validate); err != nil {
				return err
			}
			c.Files = files
			return parse(ctx, *c, stdin, stdout, stderr)
		},
	}
}

// parse prints the events of the messages of c. A file that fails is
// reported on stderr with its reason; the others still print, and the
// command then returns an error. With --commands, an install document that
// is rejected is reported on stderr too, and its command printed with
// payload_error. A message that yields no event is reported on stderr with
// what it holds; a server's message read without --commands is named as
// such, with the flag to use.
func parse(ctx context.Context, c parseConfig, stdin io.Reader, stdout, stderr io.Writer) error {
	received := time.Now()
	if c.ReceivedAt != "" {
		received, _ = time.Parse(time.RFC3339Nano, c.ReceivedAt) // checked by Validate
	}

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	p := parser{
		scanner:  syncml.NewScanner(syncml.DefaultLimits),
		meta:     normalize.Meta{Tenant: c.Tenant, ReceivedAt: received},
		out:      out,
		commands: c.Commands,
		stderr:   stderr,
	}
	if len(c.Files) == 0 {
		p.name = "stdin"
		if err := p.one(stdin); err != nil {
			fmt.Fprintf(stderr, "ingest parse: stdin: %v\n", err)
			return errReported
		}
		return nil
	}
	failed := 0
	for _, name := range c.Files {
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
		return fmt.Errorf("%w: %d of %d files failed", errReported, failed, len(c.Files))
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
	if len(p.events) == 0 {
		p.out.Flush()
		fmt.Fprintf(p.stderr, "ingest parse: %s: %s\n", p.name, p.nothing(msg))
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

// serverKinds are the commands an MDM server sends to a device; a device
// answers them with Status and Results.
var serverKinds = map[syncml.Kind]bool{
	syncml.KindAdd: true, syncml.KindReplace: true, syncml.KindExec: true, syncml.KindGet: true,
	syncml.KindDelete: true, syncml.KindAtomic: true, syncml.KindSequence: true,
}

// nothing says what a message that yielded no event holds, and, for a
// server's message read as a device's, that --commands reads it.
func (p *parser) nothing(msg *syncml.Message) string {
	var kinds []string
	server := 0
	for _, c := range msg.Commands {
		if k := c.Kind.String(); !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
		if serverKinds[c.Kind] {
			server++
		}
	}
	held := "no commands"
	if len(msg.Commands) > 0 {
		held = fmt.Sprintf("%d commands (%s)", len(msg.Commands), strings.Join(kinds, ", "))
	}
	switch {
	case p.commands:
		return "no install command events: the message holds " + held
	case server > 0 && server*2 >= len(msg.Commands):
		return fmt.Sprintf("no device events: this looks like the MDM server's message to device %q (%s); parse it with --commands", msg.Header.Target, held)
	}
	return "no install events: the message holds " + held
}
