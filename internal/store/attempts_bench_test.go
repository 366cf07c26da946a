package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/attempttest"
)

// BenchmarkAttempts measures what the report and the spike detector pay per
// call: AttemptsQuery over a day of a fleet's events, each device with one
// MSI install (command, 200, progress, then the three events of a failure or
// an install alert and Status 70) of each of 4 products, and a 404 to a Get
// attributed through server_commands. The baseline is the plain count of
// failed events per code that the report ran before attempts, over the same
// rows: the price of counting installs instead of events. The 1-minute
// window is a spike detector's bucket, read with a week's lookback.
func BenchmarkAttempts(b *testing.B) {
	for _, devices := range []int{1000, 10000} {
		s := open(b)
		at := time.Now().UTC().Add(-12 * time.Hour).Truncate(time.Second)
		n := 0
		var batch []event.Event
		flush := func() {
			if err := s.InsertEvents(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
		for d := range devices {
			for p := range 4 {
				tl := attempttest.New(event.CSPMSI)
				tl.At = at.Add(time.Duration(d%3600) * time.Second)
				tl.Target = fmt.Sprintf("PRODUCT-%d", p)
				tl.Install(0, "1.0").Status(1, "DownloadInstall", 200, "succeeded").
					Result(60, "Status", "msi_status", 20, "in_progress")
				if (d+p)%5 == 0 {
					tl.FailedMSI(120).Get(600).NotFound(601, 600)
				} else {
					tl.Alert(120, "win32", 0, 0, "succeeded").Result(121, "Status", "msi_status", 70, "succeeded")
				}
				for _, e := range tl.Events {
					e.DeviceID = fmt.Sprintf("dev-%05d", d)
					e.EventID = fmt.Sprintf("%s-%d-%s", e.DeviceID, p, e.EventID)
					batch = append(batch, e)
					n++
				}
			}
			if len(batch) >= 50000 {
				flush()
			}
		}
		flush()
		from, to := at.Add(-time.Hour), at.Add(2*time.Hour)
		queries := []struct {
			name string
			q    string
			args []any
		}{
			{"attempts", "SELECT outcome, cause_space, cause_code, uniqExact(device_id), count() FROM " + store.AttemptsQuery +
				" GROUP BY outcome, cause_space, cause_code", store.AttemptArgs(from, to, 7*24*time.Hour)},
			{"attempts-1min-window", "SELECT outcome, cause_space, cause_code, uniqExact(device_id), count() FROM " + store.AttemptsQuery +
				" GROUP BY outcome, cause_space, cause_code", store.AttemptArgs(at.Add(30*time.Minute), at.Add(31*time.Minute), 7*24*time.Hour)},
			{"events-baseline", "SELECT code_space, code, uniqExact(event_id), uniq(device_id) FROM install_events FINAL" +
				" WHERE outcome = 'failed' AND received_at >= ? AND received_at < ? GROUP BY code_space, code", []any{from, to}},
		}
		for _, q := range queries {
			b.Run(fmt.Sprintf("%s/devices=%d/events=%d", q.name, devices, n), func(b *testing.B) {
				for b.Loop() {
					rows, err := s.Conn().Query(context.Background(), q.q, q.args...)
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					rows.Close()
					if err := rows.Err(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n), "events")
			})
		}
	}
}
