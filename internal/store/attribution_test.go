package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

// serverCommand is a command event: the server asked device dev, in session
// s, message msg, command cmd, for node of target.
func serverCommand(id, dev, s, msg, cmd, target, node string, at time.Time) event.Event {
	return event.Event{EventID: id, SchemaVersion: 1, ReceivedAt: at, Tenant: "t1", DeviceID: dev,
		SessionID: s, MsgID: msg, Kind: event.KindCommand, CmdIDRaw: cmd, Command: "Get",
		Scope: event.ScopeDevice, CSP: event.CSPMSI, TargetID: target, Node: node,
		LocURI:  "./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/" + target + "/" + node,
		Outcome: event.OutcomeRequested}
}

// notFound is the device's answer: 404 to the server's (msg, cmd), with no
// TargetRef, so no CSP node of its own.
func notFound(id, dev, s, msgRef, cmdRef string, at time.Time) event.Event {
	return event.Event{EventID: id, SchemaVersion: 1, ReceivedAt: at, Tenant: "t1", DeviceID: dev,
		SessionID: s, MsgID: "3", Kind: event.KindStatus, MsgRef: msgRef, CmdRefRaw: cmdRef,
		Code: 404, CodeSpace: "omadm", Outcome: "failed", OriginalError: "0x86000002"}
}

type attributed struct{ id, csp, target, node string }

func readAttributed(t *testing.T, s *store.Store, from, to time.Time) map[string]attributed {
	t.Helper()
	q := "SELECT event_id, csp, target_id, node FROM " + store.AttributedEvents + " WHERE kind = 'status'"
	rows, err := s.Conn().Query(context.Background(), q, store.AttributedArgs(from, to)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]attributed{}
	for rows.Next() {
		var a attributed
		if err := rows.Scan(&a.id, &a.csp, &a.target, &a.node); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[a.id]; dup {
			t.Fatalf("event %s read twice", a.id)
		}
		out[a.id] = a
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A device's 404 with no TargetRef is attributed to the product of the
// command it answers, whichever of the two is stored first, whether the
// command is stored once or twice, and only when the command names one
// product.
func TestAnswersAreAttributedToTheirCommand(t *testing.T) {
	at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	from, to := at.Add(-time.Hour), at.Add(time.Hour)
	const uuid = "5d0e1f7a-3c2b-4a19-8e6d-2f4b7c9a0e13"
	tests := []struct {
		name  string
		first []event.Event // stored, then checked for no attribution
		then  []event.Event
		want  attributed
	}{
		{"answer before its command",
			[]event.Event{notFound("a1", "d1", "7", "2", uuid, at)},
			[]event.Event{serverCommand("c1", "d1", "7", "2", uuid, "PRODUCT-A", "Status", at.Add(-time.Second))},
			attributed{"a1", event.CSPMSI, "PRODUCT-A", "Status"}},
		{"command before its answer, stored twice",
			[]event.Event{serverCommand("c1", "d1", "7", "2", "12", "PRODUCT-A", "Status", at.Add(-time.Second)),
				serverCommand("c1", "d1", "7", "2", "12", "PRODUCT-A", "Status", at.Add(-time.Second))},
			[]event.Event{notFound("a1", "d1", "7", "2", "12", at)},
			attributed{"a1", event.CSPMSI, "PRODUCT-A", "Status"}},
		{"a command of two products attributes nothing",
			[]event.Event{serverCommand("c1", "d1", "7", "2", "12", "PRODUCT-A", "Status", at),
				serverCommand("c2", "d1", "7", "2", "12", "PRODUCT-B", "Status", at)},
			[]event.Event{notFound("a1", "d1", "7", "2", "12", at)},
			attributed{"a1", "", "", ""}},
		{"another session's command attributes nothing",
			[]event.Event{serverCommand("c1", "d1", "6", "2", "12", "PRODUCT-A", "Status", at)},
			[]event.Event{notFound("a1", "d1", "7", "2", "12", at)},
			attributed{"a1", "", "", ""}},
		{"another device's command attributes nothing",
			[]event.Event{serverCommand("c1", "d2", "7", "2", "12", "PRODUCT-A", "Status", at)},
			[]event.Event{notFound("a1", "d1", "7", "2", "12", at)},
			attributed{"a1", "", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			if err := s.InsertEvents(ctx, tt.first); err != nil {
				t.Fatal(err)
			}
			for _, a := range readAttributed(t, s, from, to) {
				if a.target != "" {
					t.Fatalf("attributed before the second half was stored: %+v", a)
				}
			}
			if err := s.InsertEvents(ctx, tt.then); err != nil {
				t.Fatal(err)
			}
			got := readAttributed(t, s, from, to)
			if len(got) != 1 || got[tt.want.id] != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// The attributed view reads every event of the window once, attributed or
// not, however many answers and commands a session holds.
func TestAttributedEventsReadEachEventOnce(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	var evs []event.Event
	for i := range 50 {
		dev, cmd := fmt.Sprintf("d%d", i%5), fmt.Sprint(i)
		evs = append(evs, serverCommand(fmt.Sprintf("c%02d", i), dev, "1", "2", cmd, fmt.Sprintf("P%d", i%3), "Status", at),
			notFound(fmt.Sprintf("a%02d", i), dev, "1", "2", cmd, at))
	}
	evs = append(evs, tallyFleet(0, 100, at)...)
	for range 2 {
		if err := s.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	var n, attributedN uint64
	q := "SELECT count(), sum(attributed) FROM " + store.AttributedEvents
	if err := s.Conn().QueryRow(ctx, q, store.AttributedArgs(at.Add(-time.Hour), at.Add(time.Hour))...).Scan(&n, &attributedN); err != nil {
		t.Fatal(err)
	}
	if n != 200 || attributedN != 50 {
		t.Fatalf("%d events, %d attributed; want 200 and 50", n, attributedN)
	}
}
