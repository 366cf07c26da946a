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
)

// timeline writes the events of one device and one MSI or Office target,
// each at a number of seconds after its start.
type timeline struct {
	at     time.Time
	csp    string
	target string
	events []event.Event
}

func newTimeline(csp string) *timeline {
	target := "PRODUCT-A"
	if csp == event.CSPOffice {
		target = "90160000-008C-0000-1000-0000000FF1CE"
	}
	return &timeline{at: time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC), csp: csp, target: target}
}

func (tl *timeline) add(sec int, e event.Event) *timeline {
	n := len(tl.events)
	e.EventID = fmt.Sprintf("e%03d", n)
	e.SchemaVersion, e.Tenant, e.DeviceID, e.Scope = 1, "t1", "d1", event.ScopeDevice
	e.ReceivedAt = tl.at.Add(time.Duration(sec) * time.Second)
	e.CmdID = int64(n%1000 + 1)
	if e.MsgID == "" {
		e.MsgID = "3"
	}
	if e.SessionID == "" {
		e.SessionID = fmt.Sprint(sec)
	}
	if e.CSP == "" && e.CmdRefRaw == "" {
		e.CSP, e.TargetID = tl.csp, tl.target
	}
	tl.events = append(tl.events, e)
	return tl
}

// install is the server's install command: the MSI node's DownloadInstall
// Exec with an MsiInstallJob of version, or the Office install Exec.
func (tl *timeline) install(sec int, version string) *timeline {
	e := event.Event{Kind: event.KindCommand, Command: event.CommandExec, Outcome: event.OutcomeRequested,
		CmdIDRaw: fmt.Sprint(sec)}
	if tl.csp == event.CSPOffice {
		e.Node = "Install"
		e.OfficeConfig = &event.OfficeConfig{Version: version}
	} else {
		e.Node = "DownloadInstall"
		e.MSIJob = &event.MSIJob{ProductVersion: version}
	}
	return tl.add(sec, e)
}

// get is the server's Get of the target's Status: not an attempt.
func (tl *timeline) get(sec int) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindCommand, Command: event.CommandGet, Node: "Status",
		Outcome: event.OutcomeRequested, CmdIDRaw: fmt.Sprint(sec)})
}

func (tl *timeline) status(sec int, node string, code int64, outcome string) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindStatus, Node: node, Code: code, CodeSpace: "omadm", Outcome: outcome})
}

// notFound is a 404 with no TargetRef answering the Get sent at sec.
func (tl *timeline) notFound(sec, getSec int) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindStatus, Code: 404, CodeSpace: "omadm", Outcome: "failed",
		SessionID: fmt.Sprint(getSec), MsgID: "4", MsgRef: "3", CmdRefRaw: fmt.Sprint(getSec)})
}

func (tl *timeline) result(sec int, node, space string, code int64, outcome string) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindResult, Node: node, Code: code, CodeSpace: space, Outcome: outcome})
}

// lastError is the MSI node's LastError: an HRESULT, with its Win32 code
// when it is a FACILITY_WIN32 one (as normalize sets win32_code).
func (tl *timeline) lastError(sec int, hresult, win32 int64) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindResult, Node: "LastError", Code: hresult, CodeSpace: "hresult",
		Win32Code: win32, Outcome: "failed"})
}

func (tl *timeline) alert(sec int, space string, code, win32 int64, outcome string) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindAlert, Node: "DownloadInstall", Code: code, CodeSpace: space,
		Win32Code: win32, Outcome: outcome})
}

func (tl *timeline) inventory(sec int, version string) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindInventory, Outcome: "unknown",
		Product: &event.Product{Name: "Orca", Version: version}})
}

// failedMSI is one failed MSI install as a device reports it: the install
// alert (1603), MSI Status 60 and LastError 0x80070643.
func (tl *timeline) failedMSI(sec int) *timeline {
	return tl.alert(sec, "win32", 1603, 0, "failed").
		result(sec, "Status", "msi_status", 60, "failed").
		lastError(sec, -2147023293, 1603)
}

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
		tl   *timeline
		want []attemptRow
	}{
		{"msi install succeeds",
			newTimeline(msi).install(0, "2.0.1").status(1, "DownloadInstall", 200, "succeeded").
				result(60, "Status", "msi_status", 20, "in_progress").alert(120, "win32", 0, 0, "succeeded").
				result(121, "Status", "msi_status", 70, "succeeded"),
			[]attemptRow{{true, "succeeded", "", 0, 5, "2.0.1", 0}}},
		{"one failed msi install is one attempt with its most telling cause",
			newTimeline(msi).install(0, "2.0.1").failedMSI(100),
			[]attemptRow{{true, "failed", "win32:1603", 0, 4, "2.0.1", 0}}},
		{"the cause is the LastError's HRESULT folded to Win32 when no alert came",
			newTimeline(msi).install(0, "1").result(100, "Status", "msi_status", 60, "failed").
				lastError(100, -2147023293, 1603),
			[]attemptRow{{true, "failed", "win32:1603", 0, 3, "1", 0}}},
		{"success after a retried download",
			newTimeline(msi).install(0, "3").result(30, "Status", "msi_status", 30, "failed").
				lastError(30, -2145844844, 0).
				result(90, "Status", "msi_status", 25, "retrying").
				result(150, "Status", "msi_status", 20, "in_progress").
				alert(300, "win32", 0, 0, "succeeded"),
			[]attemptRow{{true, "succeeded", "", 1, 6, "3", 0}}},
		{"still retrying after a failure",
			newTimeline(msi).install(0, "3").result(30, "Status", "msi_status", 30, "failed").
				lastError(30, -2145844844, 0).
				result(90, "Status", "msi_status", 20, "in_progress"),
			[]attemptRow{{true, "retrying", "hresult:-2145844844", 1, 4, "3", 0}}},
		{"a failure then a new command: two attempts",
			newTimeline(msi).install(0, "2.0.1").failedMSI(100).install(1000, "2.0.2").
				result(1100, "Status", "msi_status", 20, "in_progress").alert(1200, "win32", 0, 0, "succeeded"),
			[]attemptRow{{true, "failed", "win32:1603", 0, 4, "2.0.1", 0}, {true, "succeeded", "", 0, 3, "2.0.2", 1000}}},
		{"a Get of Status starts no attempt; its 404 without TargetRef fails the attempt",
			newTimeline(msi).install(0, "5").status(1, "DownloadInstall", 200, "succeeded").get(600).notFound(601, 600),
			[]attemptRow{{true, "failed", "omadm:404", 0, 4, "5", 0}}},
		{"sent and not yet answered is pending",
			newTimeline(msi).install(0, "5").status(1, "DownloadInstall", 200, "succeeded"),
			[]attemptRow{{true, "pending", "", 0, 2, "5", 0}}},
		{"events before any known command are attempt 0",
			newTimeline(msi).result(10, "Status", "msi_status", 20, "in_progress").inventory(20, "9.9"),
			[]attemptRow{{false, "in_progress", "", 0, 2, "9.9", 10}}},
		{"inventory alone says nothing of an install",
			newTimeline(msi).inventory(20, "9.9"),
			[]attemptRow{{false, "unknown", "", 0, 1, "9.9", 20}}},
		{"an empty Data (code 0, no code space) is not a success",
			newTimeline(office).install(0, "").status(1, "Install", 202, "in_progress").
				result(300, "Status", "", 0, "unknown"),
			[]attemptRow{{true, "in_progress", "", 0, 3, "", 0}}},
		{"office: in progress then 17002",
			newTimeline(office).install(0, "16.0.18129.20158").status(1, "Install", 202, "in_progress").
				result(300, "Status", "office_status", 997, "in_progress").
				result(900, "Status", "office_status", 17002, "failed").
				result(900, "FinalStatus", "office_final", 60, "failed"),
			[]attemptRow{{true, "failed", "office_status:17002", 0, 5, "16.0.18129.20158", 0}}},
	}
	for _, tt := range tests {
		evs := tt.tl.events
		from, to := tt.tl.at.Add(-time.Minute), tt.tl.at.Add(time.Hour)
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
				got := readAttempts(t, s, from, to, tt.tl.at)
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
	tl := newTimeline(event.CSPMSI).install(0, "1").install(1000, "2").
		result(1100, "Status", "msi_status", 20, "in_progress")
	late := newTimeline(event.CSPMSI).failedMSI(500).events
	for i := range late {
		late[i].EventID = fmt.Sprintf("late%d", i)
	}
	s := open(t)
	ctx := context.Background()
	if err := s.InsertEvents(ctx, tl.events); err != nil {
		t.Fatal(err)
	}
	from, to := tl.at.Add(-time.Minute), tl.at.Add(time.Hour)
	before := readAttempts(t, s, from, to, tl.at)
	want := []attemptRow{{true, "pending", "", 0, 1, "1", 0}, {true, "in_progress", "", 0, 2, "2", 1000}}
	if !slices.Equal(before, want) {
		t.Fatalf("before: %s", fmtAttempts(before))
	}
	if err := s.InsertEvents(ctx, late); err != nil {
		t.Fatal(err)
	}
	want[0] = attemptRow{true, "failed", "win32:1603", 0, 4, "1", 0}
	if got := readAttempts(t, s, from, to, tl.at); !slices.Equal(got, want) {
		t.Fatalf("after the late failure:\n got  %s\n want %s", fmtAttempts(got), fmtAttempts(want))
	}
}

// Orders of the conversation that receipt times do not keep, from the
// review of the attempt rules: a device's answer stored before the server's
// message it answers (a late copy of the server's message, or both in one
// millisecond), a command webhook retried after NATS's duplicate window,
// and a Get that fails after the install succeeded.
func TestAttemptsFollowTheConversation(t *testing.T) {
	session := func(tl *timeline, sess, msg string) *timeline {
		e := &tl.events[len(tl.events)-1]
		e.SessionID, e.MsgID = sess, msg
		return tl
	}
	// The server's Exec (its message 1 of session A1) reaches ingest a
	// second after the device's answer to it (the device's message 2).
	lateCopy := newTimeline(event.CSPMSI)
	lateCopy.status(10, "DownloadInstall", 405, "failed")
	session(lateCopy, "A1", "2")
	lateCopy.install(11, "4.0")
	session(lateCopy, "A1", "1")

	retried := newTimeline(event.CSPMSI).install(0, "4.0").result(60, "Status", "msi_status", 20, "in_progress")
	again := retried.events[0]
	again.ReceivedAt = again.ReceivedAt.Add(2 * time.Hour)
	retried.events = append(retried.events, again)

	tests := []struct {
		name string
		evs  []event.Event
		want []attemptRow
	}{
		{"an answer received before its command is in the command's attempt", lateCopy.events,
			[]attemptRow{{true, "failed", "omadm:405", 0, 2, "4.0", 11}}},
		{"a command retried after the duplicate window starts no second attempt", retried.events,
			[]attemptRow{{true, "in_progress", "", 0, 2, "4.0", 0}}},
		{"a failed Get after the install succeeded leaves it succeeded",
			newTimeline(event.CSPMSI).install(0, "4.0").alert(120, "win32", 0, 0, "succeeded").
				get(600).notFound(601, 600).events,
			[]attemptRow{{true, "succeeded", "", 0, 4, "4.0", 0}}},
		{"a failed install alert after a success still fails it",
			newTimeline(event.CSPMSI).install(0, "4.0").alert(120, "win32", 0, 0, "succeeded").
				alert(900, "win32", 1603, 0, "failed").events,
			[]attemptRow{{true, "failed", "win32:1603", 0, 3, "4.0", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if err := s.InsertEvents(context.Background(), tt.evs); err != nil {
				t.Fatal(err)
			}
			at := lateCopy.at
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
	tl := newTimeline(event.CSPMSI).install(0, "1").failedMSI(100).install(1000, "2").
		result(1100, "Status", "msi_status", 20, "in_progress")
	s := open(t)
	if err := s.InsertEvents(context.Background(), tl.events); err != nil {
		t.Fatal(err)
	}
	rows := queryRowsArgs(t, s, "SELECT outcome, duration_s FROM "+store.AttemptsQuery+" ORDER BY requested_at",
		store.AttemptArgs(tl.at.Add(-time.Minute), tl.at.Add(time.Hour), time.Hour)...)
	if want := []string{"failed|100", "in_progress|0"}; !slices.Equal(rows, want) {
		t.Fatalf("durations %q, want %q", rows, want)
	}
}
