package aggregator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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

// dlqEnv is an embedded NATS with the install and dead-letter streams.
type dlqEnv struct {
	js          jetstream.JetStream
	main, dlq   jetstream.Stream
	validData   []byte
	validID     string
	validSubj   string
	garbageData []byte
}

func newDLQEnv(t *testing.T) *dlqEnv {
	t.Helper()
	srv := natstest.Start(t)
	e := &dlqEnv{main: srv.InstallStream(), js: srv.JetStream()}
	var err error
	if e.dlq, err = bus.EnsureStream(context.Background(), e.js, bus.DeadLetterStreamConfig()); err != nil {
		t.Fatal(err)
	}
	ev := fleetEvent(2, time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC))
	e.validData, e.validID, e.validSubj = eventjson.AppendJSON(nil, &ev), ev.EventID, string(ev.AppendSubject(nil))
	e.garbageData = []byte(`{"event_id": `)
	return e
}

// deadLetter stores data in the dead-letter stream with the headers the
// aggregator's deadLetter sets, and returns its dead-letter sequence. A
// streamSeq of 0 leaves out the HeaderStreamSeq header.
func (e *dlqEnv) deadLetter(t *testing.T, stream string, data []byte, subject string, streamSeq, deliveries uint64, reason string) uint64 {
	t.Helper()
	msg := nats.NewMsg(aggregator.DeadLetterSubject(stream))
	msg.Data = data
	msg.Header.Set(aggregator.HeaderReason, reason)
	msg.Header.Set(aggregator.HeaderOriginalSubject, subject)
	if streamSeq != 0 {
		msg.Header.Set(aggregator.HeaderStreamSeq, strconv.FormatUint(streamSeq, 10))
	}
	msg.Header.Set(aggregator.HeaderDeliveries, strconv.FormatUint(deliveries, 10))
	msg.Header.Set(bus.MsgIDHeader, fmt.Sprintf("dlq-%s-%d", stream, streamSeq))
	ack, err := e.js.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// standard dead-letters one valid event and one garbage payload of the
// install stream, and one message of another stream, which the commands
// must leave alone.
func (e *dlqEnv) standard(t *testing.T) (valid, garbage, other uint64) {
	t.Helper()
	valid = e.deadLetter(t, bus.StreamName, e.validData, e.validSubj, 41, 20, "max deliveries")
	garbage = e.deadLetter(t, bus.StreamName, e.garbageData, event.SubjectPrefix+"t1.msi.failed", 42, 1, "invalid event: unexpected end of JSON input")
	other = e.deadLetter(t, "OTHER", e.validData, "other.subject", 7, 3, "decode")
	return valid, garbage, other
}

func (e *dlqEnv) msgs(t *testing.T, st jetstream.Stream) uint64 {
	t.Helper()
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func (e *dlqEnv) has(t *testing.T, seq uint64) bool {
	t.Helper()
	_, err := e.dlq.GetMsg(context.Background(), seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func TestListDeadLetters(t *testing.T) {
	e := newDLQEnv(t)
	valid, garbage, _ := e.standard(t)
	ctx := context.Background()
	before := e.msgs(t, e.dlq)

	all, err := aggregator.ListDeadLetters(ctx, e.js, aggregator.DeadLetterListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("listed %d dead letters, want the install stream's 2: %+v", len(all), all)
	}
	tests := []struct {
		name       string
		got        aggregator.DeadLetter
		seq        uint64
		reason     string
		subject    string
		streamSeq  uint64
		deliveries uint64
		eventID    string
		data       []byte
	}{
		{"valid event", all[0], valid, "max deliveries", e.validSubj, 41, 20, e.validID, e.validData},
		{"garbage", all[1], garbage, "invalid event: unexpected end of JSON input", event.SubjectPrefix + "t1.msi.failed", 42, 1, "", e.garbageData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.got
			if g.Seq != tt.seq || g.Reason != tt.reason || g.OriginalSubject != tt.subject || g.StreamSeq != tt.streamSeq ||
				g.Deliveries != tt.deliveries || g.EventID != tt.eventID || !bytes.Equal(g.Data, tt.data) {
				t.Fatalf("got %+v", g)
			}
			if (g.DecodeErr == nil) != (tt.eventID != "") {
				t.Fatalf("decode error %v with event id %q", g.DecodeErr, g.EventID)
			}
			if time.Since(g.Time) > time.Minute || time.Since(g.Time) < 0 {
				t.Fatalf("stored at %v", g.Time)
			}
		})
	}

	t.Run("limit", func(t *testing.T) {
		got, err := aggregator.ListDeadLetters(ctx, e.js, aggregator.DeadLetterListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Seq != valid {
			t.Fatalf("limit 1 listed %+v", got)
		}
	})
	t.Run("negative limit", func(t *testing.T) {
		if _, err := aggregator.ListDeadLetters(ctx, e.js, aggregator.DeadLetterListOptions{Limit: -1}); err == nil {
			t.Fatal("accepted a negative limit")
		}
	})
	t.Run("other stream", func(t *testing.T) {
		got, err := aggregator.ListDeadLetters(ctx, e.js, aggregator.DeadLetterListOptions{Stream: "OTHER"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].OriginalSubject != "other.subject" {
			t.Fatalf("OTHER listed %+v", got)
		}
	})
	if after := e.msgs(t, e.dlq); after != before {
		t.Fatalf("listing changed the dead-letter stream: %d messages, had %d", after, before)
	}
	// Listing is read-only: no consumer was left behind.
	info, err := e.dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("%d consumers on the dead-letter stream after listing", info.State.Consumers)
	}
}

func TestListDeadLettersWithoutStream(t *testing.T) {
	srv := natstest.Start(t)
	srv.InstallStream()
	js := srv.JetStream()
	ctx := context.Background()
	got, err := aggregator.ListDeadLetters(ctx, js, aggregator.DeadLetterListOptions{})
	if err != nil || len(got) != 0 {
		t.Fatalf("ListDeadLetters = %v, %v; want nothing", got, err)
	}
	sum, err := aggregator.ReplayDeadLetters(ctx, js, aggregator.ReplayOptions{All: true})
	if err != nil || len(sum.Results) != 0 {
		t.Fatalf("ReplayDeadLetters = %+v, %v; want nothing", sum, err)
	}
	if _, err := js.Stream(ctx, bus.DeadLetterStreamName); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the dead-letter stream was created: %v", err)
	}
}

func TestReplayDeadLetters(t *testing.T) {
	e := newDLQEnv(t)
	valid, garbage, other := e.standard(t)
	ctx := context.Background()

	type counts struct{ replayed, duplicates, kept, notFound, would int }
	steps := []struct {
		name string
		opts aggregator.ReplayOptions
		want counts
		// after checks the streams once the step ran.
		mainMsgs    uint64
		dlqHas      []uint64
		dlqHasNot   []uint64
		wantOutcome map[uint64]aggregator.ReplayOutcome
	}{
		{
			name: "dry run changes nothing", opts: aggregator.ReplayOptions{All: true, DryRun: true},
			want: counts{kept: 1, would: 1}, mainMsgs: 0, dlqHas: []uint64{valid, garbage, other},
			wantOutcome: map[uint64]aggregator.ReplayOutcome{valid: aggregator.ReplayDryRun, garbage: aggregator.ReplayKept},
		},
		{
			name: "replay moves the valid one and keeps the garbage", opts: aggregator.ReplayOptions{All: true},
			want: counts{replayed: 1, kept: 1}, mainMsgs: 1, dlqHas: []uint64{garbage, other}, dlqHasNot: []uint64{valid},
			wantOutcome: map[uint64]aggregator.ReplayOutcome{valid: aggregator.ReplayStored, garbage: aggregator.ReplayKept},
		},
		{
			name: "second replay is a no-op", opts: aggregator.ReplayOptions{All: true},
			want: counts{kept: 1}, mainMsgs: 1, dlqHas: []uint64{garbage, other},
			wantOutcome: map[uint64]aggregator.ReplayOutcome{garbage: aggregator.ReplayKept},
		},
		{
			name: "by sequence, replayed and other stream not found", opts: aggregator.ReplayOptions{Seqs: []uint64{other, valid, valid}},
			want: counts{notFound: 2}, mainMsgs: 1, dlqHas: []uint64{garbage, other},
			wantOutcome: map[uint64]aggregator.ReplayOutcome{valid: aggregator.ReplayNotFound, other: aggregator.ReplayNotFound},
		},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			var reported []aggregator.ReplayResult
			opts := tt.opts
			opts.Report = func(r aggregator.ReplayResult) { reported = append(reported, r) }
			sum, err := aggregator.ReplayDeadLetters(ctx, e.js, opts)
			if err != nil {
				t.Fatal(err)
			}
			got := counts{sum.Replayed, sum.Duplicates, sum.Kept, sum.NotFound, sum.WouldReplay}
			if got != tt.want {
				t.Fatalf("counts %+v, want %+v; results %+v", got, tt.want, sum.Results)
			}
			if len(reported) != len(sum.Results) {
				t.Fatalf("reported %d results, summary holds %d", len(reported), len(sum.Results))
			}
			for _, r := range sum.Results {
				if want := tt.wantOutcome[r.DeadLetter.Seq]; r.Outcome != want {
					t.Errorf("dlq seq %d: %s (%s), want %s", r.DeadLetter.Seq, r.Outcome, r.Detail, want)
				}
				if r.Outcome == aggregator.ReplayKept && !strings.HasPrefix(r.Detail, "still does not decode: ") {
					t.Errorf("kept garbage with detail %q", r.Detail)
				}
			}
			if n := e.msgs(t, e.main); n != tt.mainMsgs {
				t.Fatalf("install stream holds %d messages, want %d", n, tt.mainMsgs)
			}
			for _, seq := range tt.dlqHas {
				if !e.has(t, seq) {
					t.Errorf("dlq seq %d removed", seq)
				}
			}
			for _, seq := range tt.dlqHasNot {
				if e.has(t, seq) {
					t.Errorf("dlq seq %d still in the dead-letter stream", seq)
				}
			}
		})
	}

	// The replayed copy: original subject and data, and a Nats-Msg-Id of its
	// own, named after the original stream sequence.
	replayID := "replay-" + bus.StreamName + "-41"
	m, err := e.main.GetLastMsgForSubject(ctx, e.validSubj)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(bus.MsgIDHeader) != replayID || !bytes.Equal(m.Data, e.validData) {
		t.Fatalf("replayed message: Nats-Msg-Id %q, data %s", m.Header.Get(bus.MsgIDHeader), m.Data)
	}
	// JetStream drops another replay of the same dead letter.
	ack, err := e.js.Publish(ctx, e.validSubj, e.validData, jetstream.WithMsgID(replayID))
	if err != nil || !ack.Duplicate {
		t.Fatalf("second replay of the dead letter: %+v, %v; want a duplicate", ack, err)
	}
}

// Keep leaves the dead letter; the next replay finds the copy on the
// stream, counts a duplicate and removes the dead letter.
func TestReplayKeepThenDuplicate(t *testing.T) {
	e := newDLQEnv(t)
	valid := e.deadLetter(t, bus.StreamName, e.validData, e.validSubj, 41, 20, "max deliveries")
	ctx := context.Background()

	sum, err := aggregator.ReplayDeadLetters(ctx, e.js, aggregator.ReplayOptions{Seqs: []uint64{valid}, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Replayed != 1 || sum.Results[0].Removed || !e.has(t, valid) {
		t.Fatalf("keep: %+v", sum)
	}
	stored := sum.Results[0].Sequence

	sum, err = aggregator.ReplayDeadLetters(ctx, e.js, aggregator.ReplayOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	r := sum.Results[0]
	if sum.Duplicates != 1 || sum.Replayed != 0 || r.Outcome != aggregator.ReplayDuplicate || r.Sequence != stored || !r.Removed {
		t.Fatalf("second replay: %+v", sum)
	}
	if e.has(t, valid) || e.msgs(t, e.main) != 1 {
		t.Fatalf("after the duplicate: dead letter still there or %d messages on the stream", e.msgs(t, e.main))
	}
}

// The replay has its own Nats-Msg-Id, so it is stored even while the
// dead-lettered original (same event_id) is still on the stream inside the
// duplicate window; storage is idempotent by event_id, so the second copy
// is harmless. Without HeaderStreamSeq the msg id names the dead letter.
func TestReplayWhileOriginalInsideDuplicateWindow(t *testing.T) {
	tests := []struct {
		name         string
		noStreamSeq  bool
		dryRun       bool
		wantOutcome  aggregator.ReplayOutcome
		wantNewMsgID func(origSeq, dlqSeq uint64) string
	}{
		{"original on the stream", false, false, aggregator.ReplayStored,
			func(origSeq, _ uint64) string { return fmt.Sprintf("replay-%s-%d", bus.StreamName, origSeq) }},
		{"original on the stream, dry run", false, true, aggregator.ReplayDryRun, nil},
		{"no stream seq header", true, false, aggregator.ReplayStored,
			func(_, dlqSeq uint64) string { return fmt.Sprintf("replay-%s-%d", bus.DeadLetterStreamName, dlqSeq) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDLQEnv(t)
			ctx := context.Background()
			orig, err := e.js.Publish(ctx, e.validSubj, e.validData, jetstream.WithMsgID(e.validID))
			if err != nil {
				t.Fatal(err)
			}
			streamSeq := orig.Sequence
			if tt.noStreamSeq {
				streamSeq = 0
			}
			seq := e.deadLetter(t, bus.StreamName, e.validData, e.validSubj, streamSeq, 20, "max deliveries")
			sum, err := aggregator.ReplayDeadLetters(ctx, e.js, aggregator.ReplayOptions{All: true, DryRun: tt.dryRun})
			if err != nil {
				t.Fatal(err)
			}
			if len(sum.Results) != 1 || sum.Results[0].Outcome != tt.wantOutcome || sum.Kept != 0 {
				t.Fatalf("summary %+v, want one %s", sum, tt.wantOutcome)
			}
			r := sum.Results[0]
			if tt.dryRun {
				if !e.has(t, seq) || e.msgs(t, e.main) != 1 {
					t.Fatal("a dry run changed the streams")
				}
				return
			}
			if r.Sequence == orig.Sequence || !r.Removed || e.has(t, seq) {
				t.Fatalf("result %+v: want a new stream message and the dead letter removed", r)
			}
			if n := e.msgs(t, e.main); n != 2 {
				t.Fatalf("install stream holds %d messages, want the original and the replay", n)
			}
			m, err := e.main.GetMsg(ctx, r.Sequence)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.wantNewMsgID(orig.Sequence, seq); m.Header.Get(bus.MsgIDHeader) != want || m.Subject != e.validSubj || !bytes.Equal(m.Data, e.validData) {
				t.Fatalf("replayed message %s, Nats-Msg-Id %q (want %q), data %s", m.Subject, m.Header.Get(bus.MsgIDHeader), want, m.Data)
			}
		})
	}
}

// Two replays of the same dead letter at once store it once: whichever
// publishes second gets a duplicate, or finds the dead letter already gone.
func TestReplayConcurrentStoresOnce(t *testing.T) {
	e := newDLQEnv(t)
	valid := e.deadLetter(t, bus.StreamName, e.validData, e.validSubj, 41, 20, "max deliveries")
	ctx := context.Background()
	sums := make([]aggregator.ReplaySummary, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = aggregator.ReplayDeadLetters(ctx, e.js, aggregator.ReplayOptions{Seqs: []uint64{valid}})
		}()
	}
	wg.Wait()
	replayed := 0
	for i := range sums {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		replayed += sums[i].Replayed
		if sums[i].Kept != 0 || len(sums[i].Results) != 1 {
			t.Fatalf("replay %d: %+v", i, sums[i])
		}
	}
	if replayed != 1 || e.msgs(t, e.main) != 1 || e.has(t, valid) {
		t.Fatalf("replayed %d, %d messages on the stream, dead letter still there: %v; summaries %+v",
			replayed, e.msgs(t, e.main), e.has(t, valid), sums)
	}
}

func TestReplayOptionsRequireOneSelection(t *testing.T) {
	e := newDLQEnv(t)
	for _, opts := range []aggregator.ReplayOptions{{}, {All: true, Seqs: []uint64{1}}} {
		if _, err := aggregator.ReplayDeadLetters(context.Background(), e.js, opts); err == nil {
			t.Errorf("ReplayDeadLetters(%+v) accepted", opts)
		}
	}
}
