package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/chcluster"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

// BenchmarkClusterInsert measures rows/s stored through the store, batches
// of 1000 events, into the single test server and, in the same run, into a
// cluster of one shard of two replicas through the Distributed table with
// insert_distributed_sync = 1, without and with insert_quorum = 2. It logs
// each cluster rate as a fraction of the single server's.
//
//	CSPWATCH_TEST_CLICKHOUSE=1 go test -run '^$' -bench ClusterInsert -benchtime 30x ./internal/store/
func BenchmarkClusterInsert(b *testing.B) {
	c := chcluster.Start(b, chcluster.Options{Shards: 1, Replicas: 2})
	single := clickhousetest.NewDB(b).Store(b, nil)
	cluster := clusterStore(b, c, "bench", nil)
	quorum := clusterStore(b, c, "bench", func(cfg *store.Config) { cfg.InsertQuorum = 2 })
	const batch = 1000
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	next := 0 // event numbers stay unique across the sub-benchmarks
	rates := map[string]float64{}
	cases := []struct {
		name string
		s    *store.Store
	}{{"single", single}, {"cluster1x2", cluster}, {"cluster1x2_quorum2", quorum}}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			rows := 0
			for b.Loop() {
				b.StopTimer()
				evs := tallyFleet(next, batch, at)
				next += batch
				b.StartTimer()
				if err := tc.s.InsertEvents(context.Background(), evs); err != nil {
					b.Fatal(err)
				}
				rows += batch
			}
			r := float64(rows) / b.Elapsed().Seconds()
			b.ReportMetric(r, "rows/s")
			rates[tc.name] = r
		})
	}
	if rates["single"] > 0 {
		for _, tc := range cases[1:] {
			b.Logf("%s: %.0f rows/s = %.2f × the single server's %.0f rows/s", tc.name, rates[tc.name], rates[tc.name]/rates["single"], rates["single"])
		}
	}
}
