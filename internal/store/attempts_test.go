package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/attempttest"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

// attemptRow is what a test checks of an attempt.
type attemptRow struct {
	HasCommand bool
	Outcome    string
	Cause      string // space:code
	Retries    uint64
	Events     uint64
	Version    string
	Requested  int // seconds after the timeline's start
}

func readAttempts(t *testing.T, s *store.Store, from, to time.Time, start time.Time) []attemptRow {
	t.Helper()
	q := `SELECT has_command, outcome, cause_space, cause_code, retries, events, version, requested_at, duration_s
	FROM ` + store.AttemptsQuery + ` ORDER BY requested_at, first_seen`
	rows, err := s.Conn().Query(context.Background(), q, store.AttemptArgs(from, to, time.Hour)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []attemptRow
	for rows.Next() {
		var (
			r     attemptRow
			has   uint8
			cs    string
			cc    int64
			reqAt time.Time
			dur   uint64
		)
		if err := rows.Scan(&has, &r.Outcome, &cs, &cc, &r.Retries, &r.Events, &r.Version, &reqAt, &dur); err != nil {
			t.Fatal(err)
		}
		r.HasCommand = has == 1
		if cs != "" {
			r.Cause = fmt.Sprintf("%s:%d", cs, cc)
		}
		r.Requested = int(reqAt.Sub(start) / time.Second)
		_ = dur // TestAttemptDuration checks it
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The attempt rules of DESIGN.md "Install attempts", over event timelines:
// each case is stored in order, in reverse order and twice (a replay), and
// must read the same attempts each time.
func TestAttemptRules(t *testing.T) {
	msi, office := event.CSPMSI, event.CSPOffice
	tests := []struct {
		name string
		tl   *attempttest.Timeline
		want []attemptRow
	}{
		{"msi install succeeds",
			attempttest.New(msi).Install(0, "2.0.1").Status(1, "DownloadInstall", 200, "succeeded").
				Result(60, "Status", "msi_status", 20, "in_progress").Alert(120, "win32", 0, 0, "succeeded").
				Result(121, "Status", "msi_status", 70, "succeeded"),
			[]attemptRow{{true, "succeeded", "", 0, 5, "2.0.1", 0}}},
		{"one failed msi install is one attempt with its most telling cause",
			attempttest.New(msi).Install(0, "2.0.1").FailedMSI(100),
			[]attemptRow{{true, "failed", "win32:1603", 0, 4, "2.0.1", 0}}},
		{"the cause is the LastError's HRESULT folded to Win32 when no alert came",
			attempttest.New(msi).Install(0, "1").Result(100, "Status", "msi_status", 60, "failed").
				LastError(100, -2147023293, 1603),
			[]attemptRow{{true, "failed", "win32:1603", 0, 3, "1", 0}}},
		{"success after a retried download",
			attempttest.New(msi).Install(0, "3").Result(30, "Status", "msi_status", 30, "failed").
				LastError(30, -2145844844, 0).
				Result(90, "Status", "msi_status", 25, "retrying").
				Result(150, "Status", "msi_status", 20, "in_progress").
				Alert(300, "win32", 0, 0, "succeeded"),
			[]attemptRow{{true, "succeeded", "", 1, 6, "3", 0}}},
		{"still retrying after a failure",
			attempttest.New(msi).Install(0, "3").Result(30, "Status", "msi_status", 30, "failed").
				LastError(30, -2145844844, 0).
				Result(90, "Status", "msi_status", 20, "in_progress"),
			[]attemptRow{{true, "retrying", "hresult:-2145844844", 1, 4, "3", 0}}},
		{"a failure then a new command: two attempts",
			attempttest.New(msi).Install(0, "2.0.1").FailedMSI(100).Install(1000, "2.0.2").
				Result(1100, "Status", "msi_status", 20, "in_progress").Alert(1200, "win32", 0, 0, "succeeded"),
			[]attemptRow{{true, "failed", "win32:1603", 0, 4, "2.0.1", 0}, {true, "succeeded", "", 0, 3, "2.0.2", 1000}}},
		{"a Get of Status starts no attempt; its 404 without TargetRef fails the attempt",
			attempttest.New(msi).Install(0, "5").Status(1, "DownloadInstall", 200, "succeeded").Get(600).NotFound(601, 600),
			[]attemptRow{{true, "failed", "omadm:404", 0, 4, "5", 0}}},
		{"sent and not yet answered is pending",
			attempttest.New(msi).Install(0, "5").Status(1, "DownloadInstall", 200, "succeeded"),
			[]attemptRow{{true, "pending", "", 0, 2, "5", 0}}},
		{"events before any known command are attempt 0",
			attempttest.New(msi).Result(10, "Status", "msi_status", 20, "in_progress").Inventory(20, "9.9"),
			[]attemptRow{{false, "in_progress", "", 0, 2, "9.9", 10}}},
		{"inventory alone says nothing of an install",
			attempttest.New(msi).Inventory(20, "9.9"),
			[]attemptRow{{false, "unknown", "", 0, 1, "9.9", 20}}},
		{"an empty Data (code 0, no code space) is not a success",
			attempttest.New(office).Install(0, "").Status(1, "Install", 202, "in_progress").
				Result(300, "Status", "", 0, "unknown"),
			[]attemptRow{{true, "in_progress", "", 0, 3, "", 0}}},
		{"office: in progress then 17002",
			attempttest.New(office).Install(0, "16.0.18129.20158").Status(1, "Install", 202, "in_progress").
				Result(300, "Status", "office_status", 997, "in_progress").
				Result(900, "Status", "office_status", 17002, "failed").
				Result(900, "FinalStatus", "office_final", 60, "failed"),
			[]attemptRow{{true, "failed", "office_status:17002", 0, 5, "16.0.18129.20158", 0}}},
	}
	for _, tt := range tests {
		evs := tt.tl.Events
		from, to := tt.tl.At.Add(-time.Minute), tt.tl.At.Add(time.Hour)
		reversed := slices.Clone(evs)
		slices.Reverse(reversed)
		orders := []struct {
			name    string
			batches [][]event.Event
		}{
			{"in order", [][]event.Event{evs}},
			{"reversed, one by one", splitEach(reversed)},
			{"replayed", [][]event.Event{evs, evs}},
		}
		for _, o := range orders {
			t.Run(tt.name+"/"+o.name, func(t *testing.T) {
				s := open(t)
				for _, b := range o.batches {
					if err := s.InsertEvents(context.Background(), b); err != nil {
						t.Fatal(err)
					}
				}
				got := readAttempts(t, s, from, to, tt.tl.At)
				if !slices.Equal(got, tt.want) {
					t.Fatalf("attempts:\n got  %s\n want %s", fmtAttempts(got), fmtAttempts(tt.want))
				}
			})
		}
	}
}

func splitEach(evs []event.Event) [][]event.Event {
	out := make([][]event.Event, len(evs))
	for i := range evs {
		out[i] = evs[i : i+1]
	}
	return out
}

func fmtAttempts(as []attemptRow) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%+v ", a)
	}
	return b.String()
}

// A late event lands in the attempt its time says, whenever it arrives: a
// failure received between two install commands but stored after both.
func TestLateEventLandsInItsAttempt(t *testing.T) {
	tl := attempttest.New(event.CSPMSI).Install(0, "1").Install(1000, "2").
		Result(1100, "Status", "msi_status", 20, "in_progress")
	late := attempttest.New(event.CSPMSI).FailedMSI(500).Events
	for i := range late {
		late[i].EventID = fmt.Sprintf("late%d", i)
	}
	s := open(t)
	ctx := context.Background()
	if err := s.InsertEvents(ctx, tl.Events); err != nil {
		t.Fatal(err)
	}
	from, to := tl.At.Add(-time.Minute), tl.At.Add(time.Hour)
	before := readAttempts(t, s, from, to, tl.At)
	want := []attemptRow{{true, "pending", "", 0, 1, "1", 0}, {true, "in_progress", "", 0, 2, "2", 1000}}
	if !slices.Equal(before, want) {
		t.Fatalf("before: %s", fmtAttempts(before))
	}
	if err := s.InsertEvents(ctx, late); err != nil {
		t.Fatal(err)
	}
	want[0] = attemptRow{true, "failed", "win32:1603", 0, 4, "1", 0}
	if got := readAttempts(t, s, from, to, tl.At); !slices.Equal(got, want) {
		t.Fatalf("after the late failure:\n got  %s\n want %s", fmtAttempts(got), fmtAttempts(want))
	}
}

// Orders of the conversation that receipt times do not keep, from the
// review of the attempt rules: a device's answer stored before the server's
// message it answers (a late copy of the server's message, or both in one
// millisecond), a command webhook retried after NATS's duplicate window,
// and a Get that fails after the install succeeded.
func TestAttemptsFollowTheConversation(t *testing.T) {
	session := func(tl *attempttest.Timeline, sess, msg string) *attempttest.Timeline {
		e := &tl.Events[len(tl.Events)-1]
		e.SessionID, e.MsgID = sess, msg
		return tl
	}
	// The server's Exec (its message 1 of session A1) reaches ingest a
	// second after the device's answer to it (the device's message 2).
	lateCopy := attempttest.New(event.CSPMSI)
	lateCopy.Status(10, "DownloadInstall", 405, "failed")
	session(lateCopy, "A1", "2")
	lateCopy.Install(11, "4.0")
	session(lateCopy, "A1", "1")

	retried := attempttest.New(event.CSPMSI).Install(0, "4.0").Result(60, "Status", "msi_status", 20, "in_progress")
	again := retried.Events[0]
	again.ReceivedAt = again.ReceivedAt.Add(2 * time.Hour)
	retried.Events = append(retried.Events, again)

	tests := []struct {
		name string
		evs  []event.Event
		want []attemptRow
	}{
		{"an answer received before its command is in the command's attempt", lateCopy.Events,
			[]attemptRow{{true, "failed", "omadm:405", 0, 2, "4.0", 11}}},
		{"a command retried after the duplicate window starts no second attempt", retried.Events,
			[]attemptRow{{true, "in_progress", "", 0, 2, "4.0", 0}}},
		{"a failed Get after the install succeeded leaves it succeeded",
			attempttest.New(event.CSPMSI).Install(0, "4.0").Alert(120, "win32", 0, 0, "succeeded").
				Get(600).NotFound(601, 600).Events,
			[]attemptRow{{true, "succeeded", "", 0, 4, "4.0", 0}}},
		{"a failed install alert after a success still fails it",
			attempttest.New(event.CSPMSI).Install(0, "4.0").Alert(120, "win32", 0, 0, "succeeded").
				Alert(900, "win32", 1603, 0, "failed").Events,
			[]attemptRow{{true, "failed", "win32:1603", 0, 3, "4.0", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if err := s.InsertEvents(context.Background(), tt.evs); err != nil {
				t.Fatal(err)
			}
			at := lateCopy.At
			got := readAttempts(t, s, at.Add(-time.Minute), at.Add(3*time.Hour), at)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("attempts:\n got  %s\n want %s", fmtAttempts(got), fmtAttempts(tt.want))
			}
		})
	}
}

// An attempt's duration runs from its install command to its final report;
// an attempt still running has none.
func TestAttemptDuration(t *testing.T) {
	tl := attempttest.New(event.CSPMSI).Install(0, "1").FailedMSI(100).Install(1000, "2").
		Result(1100, "Status", "msi_status", 20, "in_progress")
	s := open(t)
	if err := s.InsertEvents(context.Background(), tl.Events); err != nil {
		t.Fatal(err)
	}
	rows := clickhousetest.Rows(t, s.Conn(), "SELECT outcome, duration_s FROM "+store.AttemptsQuery+" ORDER BY requested_at",
		store.AttemptArgs(tl.At.Add(-time.Minute), tl.At.Add(time.Hour), time.Hour)...)
	if want := []string{"failed|100", "in_progress|0"}; !slices.Equal(rows, want) {
		t.Fatalf("durations %q, want %q", rows, want)
	}
}
