package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/attempttest"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

const attemptsViewFile = "../../schema/008_install_attempts.sql"

const attemptsViewHeader = `-- install_attempts: one row per install attempt (DESIGN.md "Install
-- attempts") with an event in the last 30 days, computed when read from
-- install_events, server_commands and product_catalog: see store.AttemptsQuery
-- for its columns. Generated from store.AttemptsView by
-- go test ./internal/store -run TestAttemptsViewFile -update; do not edit.
`

// The view administrators query is the attempts query the report and the
// alerts run, not a copy of it.
func TestAttemptsViewFile(t *testing.T) {
	want := attemptsViewHeader + store.AttemptsView()
	testkit.Golden(t, attemptsViewFile, []byte(want))
	if strings.Count(want, ";\n") != 1 {
		t.Fatal("the view must be one statement ending a line with ';'")
	}
}

// The view reads what the query reads for a window ending now.
func TestAttemptsViewReadsTheQuery(t *testing.T) {
	s := open(t)
	tl := attempttest.New(event.CSPMSI)
	tl.At = time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	tl.Install(0, "2.0.1").FailedMSI(100).Install(1000, "2.0.2").
		Result(1100, "Status", "msi_status", 20, "in_progress").Alert(1200, "win32", 0, 0, "succeeded")
	if err := s.InsertEvents(context.Background(), tl.Events); err != nil {
		t.Fatal(err)
	}
	cols := "attempt_id, has_command, requested_at, outcome, cause_space, cause_code, retries, events, product, version"
	fromQuery := clickhousetest.Rows(t, s.Conn(), "SELECT "+cols+" FROM "+store.AttemptsSQL(
		"now() - 86400", "now() + 60", "now() - 172800")+" ORDER BY requested_at")
	fromView := clickhousetest.Rows(t, s.Conn(), "SELECT "+cols+" FROM install_attempts ORDER BY requested_at")
	if len(fromQuery) != 2 || !slices.Equal(fromQuery, fromView) {
		t.Fatalf("query %q\nview  %q", fromQuery, fromView)
	}
}
