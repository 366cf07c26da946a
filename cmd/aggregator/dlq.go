package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// dlqCommand is `aggregator dlq list|replay`.
func dlqCommand(stdout, stderr io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "dlq",
		ShortUsage: "aggregator dlq <list|replay> [flags]",
		ShortHelp:  "list and replay the dead-lettered messages",
		LongHelp: "The dead letters of " + bus.StreamName + " are held by " + bus.DeadLetterStreamName + `: messages the
aggregator could not store. list reads them; replay republishes those that
decode to their original subject, then removes them.`,
		Subcommands: []*ffcli.Command{dlqListCommand(stdout, stderr), dlqReplayCommand(stdout)},
	}
}

// defaultDLQNATS are the NATS settings of the dlq commands, the same flags
// and CSPWATCH_* variables as `aggregator run`.
func defaultDLQNATS() bus.ClientFlags {
	c := bus.DefaultConnConfig()
	c.Name = "cspwatch-aggregator-dlq"
	// A command, not a service: give up soon on a wrong URL.
	return bus.ClientFlags{Conn: c, ConnectTimeout: 10 * time.Second}
}

// dlqListConfig is the configuration of `aggregator dlq list`.
type dlqListConfig struct {
	NATS  bus.ClientFlags
	Limit int
	JSON  bool
}

func dlqListFlags() (*dlqListConfig, *flag.FlagSet) {
	c := &dlqListConfig{NATS: defaultDLQNATS(), Limit: 1000}
	fs := flag.NewFlagSet("aggregator dlq list", flag.ContinueOnError)
	c.NATS.Register(fs, "NATS server URL(s), comma-separated")
	fs.IntVar(&c.Limit, "limit", c.Limit, "list at most this many dead letters, oldest first (0: all)")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print one JSON object per dead letter")
	return c, fs
}

// Validate reports the first unusable setting, naming its flag.
func (c *dlqListConfig) Validate() error {
	if c.Limit < 0 {
		return fmt.Errorf("--limit: want 0 (all) or a positive integer, got %d", c.Limit)
	}
	return c.NATS.Validate()
}

func parseDLQListConfig(args []string, getenv func(string) string, stderr io.Writer) (dlqListConfig, error) {
	c, fs := dlqListFlags()
	err := cli.ParseAlone(dlqListSpec(fs), args, getenv, stderr, c.Validate)
	return *c, err
}

func dlqListCommand(stdout, stderr io.Writer) *ffcli.Command {
	c, fs := dlqListFlags()
	return cli.Leaf(dlqListSpec(fs), c.Validate, func(ctx context.Context) error { return dlqList(ctx, *c, stdout, stderr) })
}

// dlqList prints the dead letters; it only reads the dead-letter stream.
func dlqList(ctx context.Context, c dlqListConfig, stdout, stderr io.Writer) error {
	js, conn, err := c.NATS.ConnectJetStream(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	opts := aggregator.DeadLetterListOptions{Stream: bus.StreamName}
	if c.Limit > 0 {
		opts.Limit = c.Limit + 1 // one more tells whether there are more
	}
	list, err := aggregator.ListDeadLetters(ctx, js, opts)
	if err != nil {
		return err
	}
	more := c.Limit > 0 && len(list) > c.Limit
	if more {
		list = list[:c.Limit]
	}
	if c.JSON {
		err = writeDeadLettersJSON(stdout, list)
	} else {
		err = writeDeadLetters(stdout, list)
	}
	if err != nil {
		return err
	}
	if more {
		fmt.Fprintf(stderr, "aggregator dlq list: more than %d dead letters; --limit 0 lists all\n", c.Limit)
	}
	return nil
}

// writeDeadLetters prints a table, one line per dead letter; the reason,
// free text, comes last.
func writeDeadLetters(w io.Writer, list []aggregator.DeadLetter) error {
	if len(list) == 0 {
		_, err := fmt.Fprintf(w, "no dead letters of %s in %s\n", bus.StreamName, bus.DeadLetterStreamName)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DLQ_SEQ\tSTORED\tSUBJECT\tSTREAM_SEQ\tDELIVERIES\tEVENT_ID\tREASON")
	for _, d := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.UTC().Format(time.RFC3339),
			dash(oneLine(d.OriginalSubject)), uintOrDash(d.StreamSeq), uintOrDash(d.Deliveries), dash(d.EventID), dash(oneLine(d.Reason)))
	}
	return tw.Flush()
}

// deadLetterJSON is one line of `dlq list --json`.
type deadLetterJSON struct {
	DLQSeq          uint64    `json:"dlq_seq"`
	Time            time.Time `json:"time"`
	Reason          string    `json:"reason"`
	OriginalSubject string    `json:"original_subject"`
	StreamSeq       uint64    `json:"stream_seq,omitempty"`
	Deliveries      uint64    `json:"deliveries,omitempty"`
	// EventID is null when the data does not decode; DecodeError says why.
	EventID     *string `json:"event_id"`
	DecodeError string  `json:"decode_error,omitempty"`
	Bytes       int     `json:"bytes"`
}

func writeDeadLettersJSON(w io.Writer, list []aggregator.DeadLetter) error {
	enc := json.NewEncoder(w)
	for _, d := range list {
		j := deadLetterJSON{DLQSeq: d.Seq, Time: d.Time.UTC(), Reason: d.Reason, OriginalSubject: d.OriginalSubject,
			StreamSeq: d.StreamSeq, Deliveries: d.Deliveries, Bytes: len(d.Data)}
		if d.DecodeErr != nil {
			j.DecodeError = d.DecodeErr.Error()
		} else {
			j.EventID = &d.EventID
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return nil
}

// seqList is a repeatable flag of dead-letter sequences, each value one
// sequence or a comma-separated list.
type seqList []uint64

func (s *seqList) String() string {
	parts := make([]string, len(*s))
	for i, n := range *s {
		parts[i] = strconv.FormatUint(n, 10)
	}
	return strings.Join(parts, ",")
}

func (s *seqList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("want a positive integer sequence, got %q", p)
		}
		*s = append(*s, n)
	}
	return nil
}

// dlqReplayConfig is the configuration of `aggregator dlq replay`.
type dlqReplayConfig struct {
	NATS              bus.ClientFlags
	Seqs              seqList
	All, DryRun, Keep bool
}

func dlqReplayFlags() (*dlqReplayConfig, *flag.FlagSet) {
	c := &dlqReplayConfig{NATS: defaultDLQNATS()}
	fs := flag.NewFlagSet("aggregator dlq replay", flag.ContinueOnError)
	c.NATS.Register(fs, "NATS server URL(s), comma-separated")
	fs.Var(&c.Seqs, "seq", "dead-letter sequence to replay (repeatable, or comma-separated)")
	fs.BoolVar(&c.All, "all", c.All, "replay every dead letter")
	fs.BoolVar(&c.DryRun, "dry-run", c.DryRun, "report what would be replayed and kept; change nothing (every dead letter unless --seq)")
	fs.BoolVar(&c.Keep, "keep", c.Keep, "leave replayed dead letters in "+bus.DeadLetterStreamName)
	// Replaying deletes the dead letters it replays: a forgotten
	// CSPWATCH_ALL must not select them all.
	cli.CommandLineOnly(fs, "seq", "all")
	return c, fs
}

// Validate reports the first unusable setting; a dry run without a
// selection covers every dead letter.
func (c *dlqReplayConfig) Validate() error {
	switch {
	case c.All && len(c.Seqs) > 0:
		return errors.New("give --seq or --all, not both")
	case !c.All && len(c.Seqs) == 0 && c.DryRun:
		// A preview cannot hurt: without a selection it covers everything.
		c.All = true
	case !c.All && len(c.Seqs) == 0:
		return errors.New("give --seq N or --all")
	}
	return c.NATS.Validate()
}

func parseDLQReplayConfig(args []string, getenv func(string) string, stderr io.Writer) (dlqReplayConfig, error) {
	c, fs := dlqReplayFlags()
	err := cli.ParseAlone(dlqReplaySpec(fs), args, getenv, stderr, c.Validate)
	return *c, err
}

func dlqReplayCommand(stdout io.Writer) *ffcli.Command {
	c, fs := dlqReplayFlags()
	return cli.Leaf(dlqReplaySpec(fs), c.Validate, func(ctx context.Context) error { return dlqReplay(ctx, *c, stdout) })
}

// dlqReplay replays dead letters, one line per dead letter as it goes and a
// summary line at the end. It fails when a dead letter could not be
// replayed (kept), except in a dry run, so that a script notices.
func dlqReplay(ctx context.Context, c dlqReplayConfig, stdout io.Writer) error {
	js, conn, err := c.NATS.ConnectJetStream(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	sum, err := aggregator.ReplayDeadLetters(ctx, js, aggregator.ReplayOptions{
		Stream: bus.StreamName, Seqs: c.Seqs, All: c.All, DryRun: c.DryRun, Keep: c.Keep,
		Report: func(r aggregator.ReplayResult) { fmt.Fprintln(stdout, replayLine(r)) },
	})
	line := fmt.Sprintf("replayed %d, duplicates %d, kept %d", sum.Replayed, sum.Duplicates, sum.Kept)
	if sum.NotFound > 0 {
		line += fmt.Sprintf(", not found %d", sum.NotFound)
	}
	if c.DryRun {
		line += fmt.Sprintf("; dry run: %d would be replayed, nothing changed", sum.WouldReplay)
	}
	fmt.Fprintln(stdout, line)
	if err != nil {
		return err
	}
	if sum.Kept > 0 && !c.DryRun {
		return fmt.Errorf("dlq replay: not every dead letter was replayed (kept %d)", sum.Kept)
	}
	return nil
}

func replayLine(r aggregator.ReplayResult) string {
	d := r.DeadLetter
	var b strings.Builder
	fmt.Fprintf(&b, "dlq seq %d: ", d.Seq)
	switch r.Outcome {
	case aggregator.ReplayStored:
		fmt.Fprintf(&b, "replayed to %s as stream seq %d, event_id %s", d.OriginalSubject, r.Sequence, d.EventID)
	case aggregator.ReplayDuplicate:
		fmt.Fprintf(&b, "duplicate of stream seq %d, event_id %s", r.Sequence, d.EventID)
	case aggregator.ReplayDryRun:
		fmt.Fprintf(&b, "would replay to %s, event_id %s", d.OriginalSubject, d.EventID)
		return b.String()
	default:
		fmt.Fprintf(&b, "%s: %s", r.Outcome, oneLine(r.Detail))
		return b.String()
	}
	if !r.Removed {
		b.WriteString(" (left in " + bus.DeadLetterStreamName + ")")
	}
	return b.String()
}

// oneLine keeps a free-text field on its line of output.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func uintOrDash(n uint64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatUint(n, 10)
}

// dlqListSpec describes the command whose flags fs holds.
func dlqListSpec(fs *flag.FlagSet) *ffcli.Command {
	return &ffcli.Command{
		Name:       "list",
		ShortUsage: "aggregator dlq list [--limit N] [--json] [flags]",
		ShortHelp:  "list the dead letters, oldest first (read-only)",
		FlagSet:    fs,
	}
}

// dlqReplaySpec describes the command whose flags fs holds.
func dlqReplaySpec(fs *flag.FlagSet) *ffcli.Command {
	return &ffcli.Command{
		Name:       "replay",
		ShortUsage: "aggregator dlq replay (--seq N[,N...]... | --all) [--dry-run] [--keep] [flags]",
		ShortHelp:  "republish dead letters to their original subject, then remove them (--keep: leave them)",
		LongHelp: `Republishes the dead letters that decode to their original subject, then
removes them from ` + bus.DeadLetterStreamName + ` (--keep: leaves them). --dry-run alone previews
every dead letter and changes nothing.`,
		FlagSet: fs,
	}
}
