package aggregator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/eventjson"
)

// DeadLetter is one message of the dead-letter stream, as deadLetter and
// deadLetterSeq stored it.
type DeadLetter struct {
	// Seq is the message's sequence in the dead-letter stream; it names the
	// message for ReplayOptions.Seqs.
	Seq uint64
	// Time is when the dead-letter stream stored the message.
	Time time.Time
	// Reason is why the aggregator gave up on it (HeaderReason).
	Reason string
	// OriginalSubject is the subject the message had on its stream
	// (HeaderOriginalSubject); empty when the header is missing.
	OriginalSubject string
	// StreamSeq is the message's sequence in its original stream
	// (HeaderStreamSeq) and Deliveries how often it was delivered there
	// (HeaderDeliveries); 0 when the header is missing, as neither is ever 0.
	StreamSeq, Deliveries uint64
	// EventID is the event_id when Data decodes as an install event, else
	// empty; DecodeErr is then eventjson.Decode's error.
	EventID   string
	DecodeErr error
	// Data is the original message's data, unchanged.
	Data []byte
}

// DeadLetterListOptions selects the dead letters ListDeadLetters returns.
type DeadLetterListOptions struct {
	// Stream is the stream whose dead letters are listed (they are on
	// DeadLetterSubject(Stream)); empty means bus.StreamName.
	Stream string
	// Limit bounds how many are returned, oldest first; 0 returns all.
	Limit int
}

// ListDeadLetters returns the dead letters of opts.Stream held by the
// dead-letter stream, oldest first. It only reads, one direct get by
// sequence at a time: it creates no consumer and acknowledges, removes or
// changes nothing, so it is safe beside running aggregators and replays.
// A missing dead-letter stream lists as empty (the aggregator creates it at
// start, so nothing was dead-lettered there); it is not created.
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, opts DeadLetterListOptions) ([]DeadLetter, error) {
	stream := cmp.Or(opts.Stream, bus.StreamName)
	if opts.Limit < 0 {
		return nil, fmt.Errorf("dlq list: negative limit %d", opts.Limit)
	}
	dlq, err := deadLetterStream(ctx, js)
	if err != nil || dlq == nil {
		return nil, err
	}
	var out []DeadLetter
	err = eachDeadLetter(ctx, dlq, stream, func(dl DeadLetter) bool {
		out = append(out, dl)
		return opts.Limit == 0 || len(out) < opts.Limit
	})
	if err != nil {
		return out, fmt.Errorf("dlq list: %w", err)
	}
	return out, nil
}

// ReplayOptions selects the dead letters ReplayDeadLetters replays and how.
type ReplayOptions struct {
	// Stream is the stream the dead letters are replayed to, the one they
	// came from; empty means bus.StreamName.
	Stream string
	// Seqs are dead-letter stream sequences to replay; All replays every
	// dead letter of Stream instead. Exactly one of them must be given.
	Seqs []uint64
	All  bool
	// DryRun reads and checks every chosen dead letter and reports what
	// would happen, publishing and removing nothing.
	DryRun bool
	// Keep leaves replayed dead letters in the dead-letter stream.
	Keep bool
	// Report, when set, receives each result as soon as it is known.
	Report func(ReplayResult)
}

// ReplayOutcome is what became of one dead letter.
type ReplayOutcome string

// Outcomes of a replay.
const (
	// ReplayStored: published and stored as a new message of the stream.
	ReplayStored ReplayOutcome = "replayed"
	// ReplayDuplicate: published, and JetStream answered that a copy stored
	// by an earlier replay of the same dead letter is on the stream within
	// its duplicate window.
	ReplayDuplicate ReplayOutcome = "duplicate"
	// ReplayKept: not published and left in the dead-letter stream, because
	// its data does not decode or it has no original subject (Detail says
	// which).
	ReplayKept ReplayOutcome = "kept"
	// ReplayNotFound: no dead letter of the stream at that sequence, for
	// example because an earlier replay removed it.
	ReplayNotFound ReplayOutcome = "not found"
	// ReplayDryRun: DryRun is set and the dead letter would be published.
	ReplayDryRun ReplayOutcome = "would replay"
)

// ReplayResult is the outcome of one dead letter.
type ReplayResult struct {
	// DeadLetter is the dead letter; only Seq is set when it was not found.
	DeadLetter DeadLetter
	Outcome    ReplayOutcome
	// Detail says why a dead letter was kept or not found.
	Detail string
	// Sequence is the stream sequence of the stored copy (PubAck.Sequence)
	// for ReplayStored and ReplayDuplicate.
	Sequence uint64
	// Removed reports that the dead letter was deleted from the dead-letter
	// stream.
	Removed bool
}

// ReplaySummary counts the outcomes of a replay; Results holds each in the
// order processed.
type ReplaySummary struct {
	Replayed, Duplicates, Kept, NotFound, WouldReplay int
	Results                                           []ReplayResult
}

func (s *ReplaySummary) add(r ReplayResult, report func(ReplayResult)) {
	switch r.Outcome {
	case ReplayStored:
		s.Replayed++
	case ReplayDuplicate:
		s.Duplicates++
	case ReplayKept:
		s.Kept++
	case ReplayNotFound:
		s.NotFound++
	case ReplayDryRun:
		s.WouldReplay++
	}
	s.Results = append(s.Results, r)
	if report != nil {
		report(r)
	}
}

// ReplayDeadLetters publishes the chosen dead letters' data again to their
// original subject on opts.Stream, in dead-letter sequence order.
//
// Guarantees:
//   - A dead letter is removed from the dead-letter stream only after
//     JetStream acknowledged its copy on opts.Stream (and never with Keep or
//     DryRun), so a failure or a crash at any point loses nothing.
//   - The copy must land in opts.Stream (the publish expects that stream)
//     and carries a Nats-Msg-Id of its own, "replay-<stream>-<original
//     stream seq>" (replayMsgID): it never collides with the original's
//     msg id (the event_id), so it is stored even while the dead-lettered
//     original is inside the stream's duplicate window. A copy already
//     stored by an earlier replay of the same dead letter within the window
//     is acknowledged as a duplicate and not stored twice, so running a
//     replay again, or two at once, stores it once; the dead letter is then
//     removed. Storing an event that ClickHouse already holds is harmless:
//     storage is idempotent by event_id.
//   - A dead letter whose data does not decode as an install event, or that
//     has no original subject, is not published: it is kept and reported.
//   - A sequence in opts.Seqs that holds no dead letter of opts.Stream (for
//     example, already replayed) is reported as not found, not an error.
//
// It stops at the first NATS error, or when ctx ends, and returns the
// summary so far with the error. Kept dead letters are not an error; the
// caller decides what they mean.
func ReplayDeadLetters(ctx context.Context, js jetstream.JetStream, opts ReplayOptions) (ReplaySummary, error) {
	var sum ReplaySummary
	stream := cmp.Or(opts.Stream, bus.StreamName)
	if opts.All == (len(opts.Seqs) > 0) {
		return sum, errors.New("dlq replay: give either sequences or all")
	}
	dlq, err := deadLetterStream(ctx, js)
	if err != nil {
		return sum, fmt.Errorf("dlq replay: %w", err)
	}
	if _, err := js.Stream(ctx, stream); err != nil {
		return sum, fmt.Errorf("dlq replay: stream %s: %w", stream, err)
	}
	r := replayer{js: js, dlq: dlq, stream: stream, opts: opts}

	if opts.All {
		if dlq == nil {
			return sum, nil
		}
		// Collect first: replaying deletes from the stream being walked.
		var all []DeadLetter
		if err := eachDeadLetter(ctx, dlq, stream, func(dl DeadLetter) bool {
			all = append(all, dl)
			return true
		}); err != nil {
			return sum, fmt.Errorf("dlq replay: %w", err)
		}
		for _, dl := range all {
			if err := ctx.Err(); err != nil {
				return sum, fmt.Errorf("dlq replay: %w", err)
			}
			res, err := r.replay(ctx, dl)
			if err != nil {
				return sum, fmt.Errorf("dlq replay: dlq seq %d: %w", dl.Seq, err)
			}
			sum.add(res, opts.Report)
		}
		return sum, nil
	}

	seqs := slices.Clone(opts.Seqs)
	slices.Sort(seqs)
	for _, seq := range slices.Compact(seqs) {
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("dlq replay: %w", err)
		}
		dl, found, err := r.get(ctx, seq)
		if err != nil {
			return sum, fmt.Errorf("dlq replay: dlq seq %d: %w", seq, err)
		}
		if !found {
			sum.add(ReplayResult{DeadLetter: DeadLetter{Seq: seq}, Outcome: ReplayNotFound,
				Detail: fmt.Sprintf("no dead letter of %s at this sequence (already replayed or removed)", stream)}, opts.Report)
			continue
		}
		res, err := r.replay(ctx, dl)
		if err != nil {
			return sum, fmt.Errorf("dlq replay: dlq seq %d: %w", seq, err)
		}
		sum.add(res, opts.Report)
	}
	return sum, nil
}

type replayer struct {
	js     jetstream.JetStream
	dlq    jetstream.Stream // nil when the dead-letter stream does not exist
	stream string
	opts   ReplayOptions
}

// get reads the dead letter at seq, reporting whether seq holds a dead
// letter of r.stream.
func (r *replayer) get(ctx context.Context, seq uint64) (DeadLetter, bool, error) {
	if r.dlq == nil {
		return DeadLetter{}, false, nil
	}
	raw, err := r.dlq.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, false, nil
	}
	if err != nil {
		return DeadLetter{}, false, err
	}
	if raw.Subject != DeadLetterSubject(r.stream) {
		return DeadLetter{}, false, nil
	}
	return parseDeadLetter(raw), true, nil
}

// replay handles one dead letter; an error is a NATS error, after which
// the dead letter is still in the dead-letter stream.
func (r *replayer) replay(ctx context.Context, dl DeadLetter) (ReplayResult, error) {
	res := ReplayResult{DeadLetter: dl}
	kept := func(detail string) (ReplayResult, error) {
		res.Outcome, res.Detail = ReplayKept, detail
		return res, nil
	}
	switch {
	case dl.DecodeErr != nil:
		return kept("still does not decode: " + dl.DecodeErr.Error())
	case dl.OriginalSubject == "":
		return kept("no " + HeaderOriginalSubject + " header")
	}
	if r.opts.DryRun {
		res.Outcome = ReplayDryRun
		return res, nil
	}

	msg := nats.NewMsg(dl.OriginalSubject)
	msg.Data = dl.Data
	ack, err := r.js.PublishMsg(ctx, msg, jetstream.WithMsgID(r.replayMsgID(dl)), jetstream.WithExpectStream(r.stream))
	if err != nil {
		return res, fmt.Errorf("publish to %s: %w", dl.OriginalSubject, err)
	}
	res.Sequence = ack.Sequence
	res.Outcome = ReplayStored
	if ack.Duplicate {
		// An earlier replay of this dead letter stored it (replay msg ids
		// never match an original's); the consumer delivers that copy.
		res.Outcome = ReplayDuplicate
	}
	if r.opts.Keep {
		return res, nil
	}
	// A concurrent replay may have removed it first: that is the same end.
	// The server then answers with a generic deletion failure (not
	// ErrMsgNotFound), so look whether the dead letter is gone.
	if err := r.dlq.DeleteMsg(ctx, dl.Seq); err != nil {
		if _, gerr := r.dlq.GetMsg(ctx, dl.Seq); !errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return res, fmt.Errorf("published as stream seq %d but not removed from %s (a new replay is safe): %w",
				ack.Sequence, bus.DeadLetterStreamName, err)
		}
	}
	res.Removed = true
	return res, nil
}

// replayMsgID is the Nats-Msg-Id of a dead letter's replay:
// "replay-<stream>-<original stream seq>", or "replay-<dead-letter
// stream>-<dead-letter seq>" without the HeaderStreamSeq header. It is the
// same for every replay of one dead letter and never the original's msg id
// (the event_id).
func (r *replayer) replayMsgID(dl DeadLetter) string {
	if dl.StreamSeq == 0 {
		return fmt.Sprintf("replay-%s-%d", bus.DeadLetterStreamName, dl.Seq)
	}
	return fmt.Sprintf("replay-%s-%d", r.stream, dl.StreamSeq)
}

// deadLetterStream returns the dead-letter stream, or nil when it does not
// exist.
func deadLetterStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, bus.DeadLetterStreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", bus.DeadLetterStreamName, err)
	}
	return st, nil
}

// eachDeadLetter calls fn with every dead letter of stream in sequence
// order until fn returns false. Each is one get of the next message on the
// stream's dead-letter subject, which skips deleted sequences and the dead
// letters of other streams on the server side.
func eachDeadLetter(ctx context.Context, dlq jetstream.Stream, stream string, fn func(DeadLetter) bool) error {
	subject := DeadLetterSubject(stream)
	for seq := uint64(1); ; {
		raw, err := dlq.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get dlq seq %d or later: %w", seq, err)
		}
		if !fn(parseDeadLetter(raw)) {
			return nil
		}
		seq = raw.Sequence + 1
	}
}

func parseDeadLetter(raw *jetstream.RawStreamMsg) DeadLetter {
	dl := DeadLetter{
		Seq:             raw.Sequence,
		Time:            raw.Time,
		Reason:          raw.Header.Get(HeaderReason),
		OriginalSubject: raw.Header.Get(HeaderOriginalSubject),
		StreamSeq:       headerUint(raw.Header, HeaderStreamSeq),
		Deliveries:      headerUint(raw.Header, HeaderDeliveries),
		Data:            raw.Data,
	}
	if ev, err := eventjson.Decode(raw.Data); err != nil {
		dl.DecodeErr = err
	} else {
		dl.EventID = ev.EventID
	}
	return dl
}

func headerUint(h nats.Header, key string) uint64 {
	n, err := strconv.ParseUint(h.Get(key), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
