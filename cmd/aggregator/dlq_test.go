package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

func TestDLQConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(dlqListConfig, dlqReplayConfig) bool
		wantErr bool
	}{
		{"list defaults", []string{"list"}, nil, func(l dlqListConfig, _ dlqReplayConfig) bool {
			return l.NATS.Conn.URL == "nats://127.0.0.1:4222" && l.Limit == 1000 && !l.JSON
		}, false},
		{"list env", []string{"list"}, map[string]string{"CSPWATCH_NATS_URL": "nats://n:1", "CSPWATCH_LIMIT": "5", "CSPWATCH_JSON": "true"},
			func(l dlqListConfig, _ dlqReplayConfig) bool {
				return l.NATS.Conn.URL == "nats://n:1" && l.Limit == 5 && l.JSON
			}, false},
		{"list flag beats env", []string{"list", "--limit", "0"}, map[string]string{"CSPWATCH_LIMIT": "5"},
			func(l dlqListConfig, _ dlqReplayConfig) bool { return l.Limit == 0 }, false},
		{"replay seqs", []string{"replay", "--seq", "3", "--seq", "5,7", "--keep"}, nil, func(_ dlqListConfig, r dlqReplayConfig) bool {
			return len(r.Seqs) == 3 && r.Seqs[0] == 3 && r.Seqs[2] == 7 && r.Keep && !r.All
		}, false},
		{"dry run alone covers all", []string{"replay", "--dry-run"}, nil, func(_ dlqListConfig, r dlqReplayConfig) bool { return r.All && r.DryRun }, false},
		{"replay nats auth", []string{"replay", "--all", "--nats-user", "u", "--nats-password", "p"}, nil, func(_ dlqListConfig, r dlqReplayConfig) bool {
			return r.NATS.Conn.User == "u" && r.NATS.Conn.Password == "p"
		}, false},
		{"negative limit", []string{"list", "--limit", "-1"}, nil, nil, true},
		{"list stray argument", []string{"list", "x"}, nil, nil, true},
		{"replay without selection", []string{"replay"}, nil, nil, true},
		{"replay seq and all", []string{"replay", "--all", "--seq", "1"}, nil, nil, true},
		{"replay bad seq", []string{"replay", "--seq", "x"}, nil, nil, true},
		{"replay zero seq", []string{"replay", "--seq", "0"}, nil, nil, true},
		{"replay bad env", []string{"replay"}, map[string]string{"CSPWATCH_SEQ": "1,,2"}, nil, true},
		// Replaying deletes: --all and --seq come from the command line only.
		{"replay all from env", []string{"replay"}, map[string]string{"CSPWATCH_ALL": "1"}, nil, true},
		{"replay seq from env", []string{"replay"}, map[string]string{"CSPWATCH_SEQ": "3"}, nil, true},
		{"dry run with all from env", []string{"replay", "--dry-run", "--seq", "4"}, map[string]string{"CSPWATCH_ALL": "true"},
			func(_ dlqListConfig, r dlqReplayConfig) bool { return !r.All && len(r.Seqs) == 1 }, false},
		{"password without user", []string{"list", "--nats-password", "p"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				l   dlqListConfig
				r   dlqReplayConfig
				err error
			)
			if tt.args[0] == "list" {
				l, err = parseDLQListConfig(tt.args[1:], envFunc(tt.env), io.Discard)
			} else {
				r, err = parseDLQReplayConfig(tt.args[1:], envFunc(tt.env), io.Discard)
			}
			if tt.wantErr {
				if !errors.Is(err, errUsage) || exitCode(err) != 2 {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(l, r) {
				t.Fatalf("list %+v replay %+v", l, r)
			}
		})
	}
}

func TestDLQCommandUsage(t *testing.T) {
	for _, args := range [][]string{{"dlq"}, {"dlq", "frob"}, {"dlq", "--all"}} {
		if err := Main(context.Background(), args, envFunc(nil), io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("Main(%q) = %v, want a usage error", args, err)
		}
	}
	var help bytes.Buffer
	if err := Main(context.Background(), []string{"dlq", "replay", "-h"}, envFunc(nil), &help, io.Discard); err != nil || !strings.Contains(help.String(), "-dry-run") {
		t.Errorf("dlq replay -h = %v:\n%s", err, help.String())
	}
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"help"}, envFunc(nil), &out, io.Discard); err != nil || !strings.Contains(out.String(), "\n  dlq ") {
		t.Errorf("help lacks dlq: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := Main(context.Background(), []string{"dlq", "-h"}, envFunc(nil), &out, io.Discard); err != nil || !strings.Contains(out.String(), "\n  replay ") {
		t.Errorf("dlq -h lacks replay: %v\n%s", err, out.String())
	}
}

// dlqFixture dead-letters, as the aggregator does, one valid event and one
// garbage payload, and returns their dead-letter sequences and the event.
func dlqFixture(t *testing.T, js jetstream.JetStream) (valid, garbage uint64, ev event.Event) {
	t.Helper()
	ctx := context.Background()
	if _, err := bus.EnsureStream(ctx, js, bus.DeadLetterStreamConfig()); err != nil {
		t.Fatal(err)
	}
	ev = event.Event{EventID: "0123456789abcdef0123456789abcdef", SchemaVersion: 1, ReceivedAt: time.Now().UTC().Truncate(time.Millisecond),
		Tenant: "t1", DeviceID: "d001", Kind: event.KindAlert, Scope: event.ScopeDevice,
		CSP: event.CSPMSI, TargetID: "PA", Node: "DownloadInstall", Code: 1603, CodeSpace: "win32", Outcome: "failed"}
	put := func(data []byte, subject string, streamSeq uint64, reason string) uint64 {
		msg := nats.NewMsg(aggregator.DeadLetterSubject(bus.StreamName))
		msg.Data = data
		msg.Header.Set(aggregator.HeaderReason, reason)
		msg.Header.Set(aggregator.HeaderOriginalSubject, subject)
		msg.Header.Set(aggregator.HeaderStreamSeq, strconv.FormatUint(streamSeq, 10))
		msg.Header.Set(aggregator.HeaderDeliveries, "1")
		msg.Header.Set(bus.MsgIDHeader, "dlq-"+bus.StreamName+"-"+strconv.FormatUint(streamSeq, 10))
		ack, err := js.PublishMsg(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	valid = put(eventjson.AppendJSON(nil, &ev), string(ev.AppendSubject(nil)), 11, "max deliveries")
	garbage = put([]byte("\x00not json"), event.SubjectPrefix+"t1.msi.failed", 12, "invalid event: invalid character")
	return valid, garbage, ev
}

func TestDLQListAndReplayMain(t *testing.T) {
	ns := natstest.Start(t)
	install := ns.InstallStream()
	js := ns.JetStream()
	valid, garbage, ev := dlqFixture(t, js)
	env := envFunc(map[string]string{"CSPWATCH_NATS_URL": ns.URL})
	ctx := context.Background()
	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := Main(ctx, append([]string{"dlq"}, args...), env, &out, &errb)
		return out.String(), errb.String(), err
	}
	count := func(name string) uint64 {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State.Msgs
	}

	t.Run("list", func(t *testing.T) {
		out, _, err := run("list")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 {
			t.Fatalf("want a header and 2 lines:\n%s", out)
		}
		wants := [][]string{
			{"DLQ_SEQ", "STORED", "SUBJECT", "STREAM_SEQ", "DELIVERIES", "EVENT_ID", "REASON"},
			{strconv.FormatUint(valid, 10), "*", string(ev.AppendSubject(nil)), "11", "1", ev.EventID, "max", "deliveries"},
			{strconv.FormatUint(garbage, 10), "*", event.SubjectPrefix + "t1.msi.failed", "12", "1", "-", "invalid", "event:", "invalid", "character"},
		}
		for i, want := range wants {
			got := strings.Fields(lines[i])
			if len(got) != len(want) {
				t.Fatalf("line %d: %q, want %q", i, got, want)
			}
			for j := range want {
				if want[j] != "*" && got[j] != want[j] {
					t.Errorf("line %d field %d: %q, want %q", i, j, got[j], want[j])
				}
			}
		}
		if _, err := time.Parse(time.RFC3339, strings.Fields(lines[1])[1]); err != nil {
			t.Errorf("stored time: %v", err)
		}
	})

	t.Run("list json limit", func(t *testing.T) {
		out, stderr, err := run("list", "--json", "--limit", "1")
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if got["dlq_seq"] != float64(valid) || got["event_id"] != ev.EventID || got["original_subject"] != string(ev.AppendSubject(nil)) ||
			got["stream_seq"] != float64(11) || got["reason"] != "max deliveries" {
			t.Fatalf("json %v", got)
		}
		if !strings.Contains(stderr, "--limit 0 lists all") {
			t.Errorf("no note of the dead letters beyond the limit: %q", stderr)
		}
	})

	t.Run("replay dry run", func(t *testing.T) {
		out, _, err := run("replay", "--dry-run")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"dlq seq " + strconv.FormatUint(valid, 10) + ": would replay to " + string(ev.AppendSubject(nil)) + ", event_id " + ev.EventID + "\n",
			"dlq seq " + strconv.FormatUint(garbage, 10) + ": kept: still does not decode: ",
			"replayed 0, duplicates 0, kept 1; dry run: 1 would be replayed, nothing changed\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if count(bus.DeadLetterStreamName) != 2 || count(bus.StreamName) != 0 {
			t.Fatal("the dry run changed a stream")
		}
	})

	t.Run("replay", func(t *testing.T) {
		out, _, err := run("replay", "--all")
		if err == nil || exitCode(err) != 1 {
			t.Fatalf("replay with an undecodable dead letter: err %v, want exit 1", err)
		}
		if !strings.Contains(out, "replayed 1, duplicates 0, kept 1\n") || !strings.Contains(out, "still does not decode: ") {
			t.Fatalf("output:\n%s", out)
		}
		m, err := install.GetLastMsgForSubject(ctx, string(ev.AppendSubject(nil)))
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(bus.MsgIDHeader) != "replay-"+bus.StreamName+"-11" {
			t.Fatalf("replayed with Nats-Msg-Id %q", m.Header.Get(bus.MsgIDHeader))
		}
		if count(bus.DeadLetterStreamName) != 1 {
			t.Fatal("the replayed dead letter is still in the dead-letter stream")
		}
	})

	t.Run("replay again by sequence", func(t *testing.T) {
		out, _, err := run("replay", "--seq", strconv.FormatUint(valid, 10))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "not found") || !strings.HasSuffix(out, "replayed 0, duplicates 0, kept 0, not found 1\n") {
			t.Fatalf("output:\n%s", out)
		}
		if count(bus.StreamName) != 1 {
			t.Fatal("a second replay stored the event again")
		}
	})
}
