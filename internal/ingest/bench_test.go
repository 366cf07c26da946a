package ingest_test

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWebhook measures the whole path over loopback HTTP into an
// embedded JetStream file stream: signed requests of distinct messages
// (three events each), answered after every acknowledgement. Client and
// server share the process, so ns/op counts both.
func BenchmarkWebhook(b *testing.B) {
	e := newEnv(b, nil)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		for pb.Next() {
			i := n.Add(1)
			body := deviceMessage(int(i/1000), int(i%1000))
			h := signedHeaders(b, contosoSecret, "m"+strconv.FormatInt(i, 10), time.Now().Unix(), body)
			a, err := post(c, e.url+"/v1/syncml/contoso", h, body)
			if err != nil || a.Status != 200 || a.Events != 3 {
				b.Fatalf("%+v %v", a, err)
			}
		}
	})
	b.ReportMetric(float64(n.Load()*3)/b.Elapsed().Seconds(), "events/s")
}
