package aggregator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Headers of a dead-lettered message; its data is the original message's.
const (
	HeaderReason          = "Cspwatch-Dead-Letter-Reason"
	HeaderOriginalSubject = "Cspwatch-Original-Subject"
	HeaderStreamSeq       = "Cspwatch-Stream-Seq"
	HeaderDeliveries      = "Cspwatch-Deliveries"
)

// DeadLetterSubject is where the aggregator dead-letters messages of stream.
func DeadLetterSubject(stream string) string { return bus.DeadLetterSubjectPrefix + stream }

// deadLetter publishes msg to the dead-letter stream (de-duplicated by stream
// sequence, so a retry after a crash stores it once) and terminates it. If
// the publish fails the message is left un-acknowledged: it comes back and is
// dead-lettered on a later delivery, or by the max-deliveries advisory.
func (a *Aggregator) deadLetter(ctx context.Context, msg jetstream.Msg, seq uint64, cause error) {
	reason := "decode"
	out := nats.NewMsg(DeadLetterSubject(a.cfg.Stream))
	out.Data = msg.Data()
	out.Header.Set(HeaderReason, cause.Error())
	out.Header.Set(HeaderOriginalSubject, msg.Subject())
	out.Header.Set(HeaderStreamSeq, strconv.FormatUint(seq, 10))
	if md, err := msg.Metadata(); err == nil {
		out.Header.Set(HeaderDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	}
	out.Header.Set(bus.MsgIDHeader, fmt.Sprintf("dlq-%s-%d", a.cfg.Stream, seq))
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := a.js.PublishMsg(pctx, out); err != nil {
		a.log.Error().Err(err).Uint64("stream_seq", seq).Msg("dead-letter publish; message left for redelivery")
		return
	}
	if err := msg.TermWithReason(reason); err != nil {
		a.log.Warn().Err(err).Uint64("stream_seq", seq).Msg("term after dead-letter")
	}
	a.m.deadLetters.WithLabelValues(reason).Inc()
	a.log.Error().Err(cause).Uint64("stream_seq", seq).Str("subject", msg.Subject()).
		Str("dead_letter_subject", out.Subject).Msg("message dead-lettered")
}

// maxDeliveriesAdvisory is the part of the server's
// io.nats.jetstream.advisory.v1.max_deliver advisory we use.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// watchMaxDeliveries dead-letters every message the server gives up on
// after MaxDeliver deliveries, unless ClickHouse holds its event already (a
// crash-looping aggregator exhausts deliveries of events it did store).
// Every aggregator process receives the advisory; the dead-letter stream
// de-duplicates their copies by Nats-Msg-Id, and the counter counts only
// stored (non-duplicate) copies. With the default unbounded MaxDeliver the
// server sends no such advisory.
func (a *Aggregator) watchMaxDeliveries() (stop func(), err error) {
	subj := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", a.cfg.Stream, a.cfg.Durable)
	sub, err := a.nc.Subscribe(subj, func(m *nats.Msg) {
		var adv maxDeliveriesAdvisory
		if err := json.Unmarshal(m.Data, &adv); err != nil {
			a.log.Error().Err(err).Msg("max deliveries advisory")
			return
		}
		a.deadLetterSeq(adv)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe max deliveries advisory: %w", err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

func (a *Aggregator) deadLetterSeq(adv maxDeliveriesAdvisory) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := a.js.Stream(ctx, a.cfg.Stream)
	if err != nil {
		a.log.Error().Err(err).Uint64("stream_seq", adv.StreamSeq).Msg("max deliveries: stream")
		return
	}
	raw, err := st.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return // removed meanwhile (dead-lettered and purged, or aged out)
		}
		a.log.Error().Err(err).Uint64("stream_seq", adv.StreamSeq).Msg("max deliveries: get message")
		return
	}
	if ev, err := eventjson.Decode(raw.Data); err == nil {
		have, err := a.store.ExistingIDs(ctx, []store.Row{{Event: ev, Seq: adv.StreamSeq}}, 0)
		if err != nil {
			// Unknown: dead-letter it. A replay of a stored event is
			// harmless, as storage is idempotent by event_id.
			a.log.Warn().Err(err).Uint64("stream_seq", adv.StreamSeq).Msg("max deliveries: existence check")
		} else if _, stored := have[ev.EventID]; stored {
			a.m.giveUpStored.Inc()
			a.log.Warn().Uint64("stream_seq", adv.StreamSeq).Uint64("deliveries", adv.Deliveries).Str("event_id", ev.EventID).
				Msg("max deliveries reached by an event ClickHouse holds: not dead-lettered")
			return
		}
	}
	out := nats.NewMsg(DeadLetterSubject(a.cfg.Stream))
	out.Data = raw.Data
	out.Header.Set(HeaderReason, "max deliveries")
	out.Header.Set(HeaderOriginalSubject, raw.Subject)
	out.Header.Set(HeaderStreamSeq, strconv.FormatUint(adv.StreamSeq, 10))
	out.Header.Set(HeaderDeliveries, strconv.FormatUint(adv.Deliveries, 10))
	out.Header.Set(bus.MsgIDHeader, fmt.Sprintf("dlq-%s-%d", a.cfg.Stream, adv.StreamSeq))
	ack, err := a.js.PublishMsg(ctx, out)
	if err != nil {
		a.log.Error().Err(err).Uint64("stream_seq", adv.StreamSeq).Msg("max deliveries: dead-letter publish")
		return
	}
	if !ack.Duplicate {
		a.m.deadLetters.WithLabelValues("max_deliveries").Inc()
	}
	a.log.Error().Uint64("stream_seq", adv.StreamSeq).Uint64("deliveries", adv.Deliveries).
		Str("subject", raw.Subject).Msg("message dead-lettered after max deliveries")
}
