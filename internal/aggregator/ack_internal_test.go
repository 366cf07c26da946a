package aggregator

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

func TestAckSequenceForms(t *testing.T) {
	tests := []struct {
		reply          string
		seq, delivered uint64
		ok             bool
	}{
		{"$JS.ACK.S.C.3.1234.99.1700000000000000000.5", 1234, 3, true},
		{"$JS.ACK._.HASH.S.C.1.7.7.1700000000000000000.0.RANDOM", 7, 1, true},
		{"$JS.ACK.dom.HASH.S.C.2.18446744073709551615.7.1.0", 18446744073709551615, 2, true},
		{"$JS.ACK.dom.HASH.S.C.2.8.7.1.0.x.y", 8, 2, true},
		{"$JS.ACK.S.C.3.1234.99.1", 0, 0, false},     // 6 tokens
		{"$JS.ACK.S.C.3.1234.99.1.5.6", 0, 0, false}, // 8 tokens
		{"$JS.ACK.S.C.x.1234.99.1.5", 0, 0, false},   // not a number
		{"$JS.ACK.S.C.3..99.1.5", 0, 0, false},       // empty
		{"$JS.ACK.S.C.+3.1.99.1.5", 0, 0, false},     // sign
		{"$JS.ACK.S.C.3.99999999999999999999.9.1.5", 0, 0, false},
		{"_INBOX.abc", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.reply, func(t *testing.T) {
			seq, delivered, ok := ackSequence(tc.reply)
			if ok != tc.ok || ok && (seq != tc.seq || delivered != tc.delivered) {
				t.Fatalf("ackSequence = %d, %d, %v; want %d, %d, %v", seq, delivered, ok, tc.seq, tc.delivered, tc.ok)
			}
		})
	}
}

// TestAckSequenceMatchesMetadata compares with jetstream.Msg.Metadata on
// what a real server sends, first deliveries and redeliveries.
func TestAckSequenceMatchesMetadata(t *testing.T) {
	ns := natstest.Start(t)
	ns.InstallStream()
	js := ns.JetStream()
	ctx := context.Background()
	for i := range 5 {
		if _, err := js.Publish(ctx, event.SubjectPrefix+"t.msi."+string(rune('a'+i)), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamName, jetstream.ConsumerConfig{
		Durable: "acktest", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, FilterSubject: bus.Subjects,
	})
	if err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		batch, err := cons.Fetch(5, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			seq, delivered, ok := ackSequence(m.Reply())
			if !ok || seq != md.Sequence.Stream || delivered != md.NumDelivered || delivered != uint64(round) {
				t.Fatalf("round %d: ackSequence(%q) = %d, %d, %v; Metadata says %d, %d", round, m.Reply(), seq, delivered, ok, md.Sequence.Stream, md.NumDelivered)
			}
			if round == 1 {
				if err := m.Nak(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n != 5 {
			t.Fatalf("round %d: %d messages, want 5", round, n)
		}
	}
}
