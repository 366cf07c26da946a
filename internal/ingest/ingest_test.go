package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
	"github.com/cspwatch/cspwatch/internal/testkit"
)

func TestAcceptedMessagePublishesExactlyItsEvents(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now().Unix()
	total := 0
	for i, name := range []string{"msi_alert.xml", "office.xml", "statuses.xml"} {
		t.Run(name, func(t *testing.T) {
			body := readFile(t, "testdata/"+name)
			meta := normalize.Meta{MDMReceivedAt: "2026-11-23T05:00:00Z", GenericAlert: "com.microsoft.mdm.win32csp_install"}
			want := expected(t, "contoso", body, meta)
			if len(want) == 0 {
				t.Fatalf("%s yields no events; pick a message that does", name)
			}
			h := signedHeaders(t, contosoSecret, fmt.Sprintf("msg_%d", i), now, body)
			h.Set(ingest.HeaderReceivedAt, meta.MDMReceivedAt)
			h.Set(ingest.HeaderGenericAlert, meta.GenericAlert)
			a := e.post("/v1/syncml/contoso", h, body)
			if a.Status != http.StatusOK || a.Events != len(want) || a.New != len(want) || a.Duplicates != 0 {
				t.Fatalf("answer %+v, want 200 with %d events, all new", a, len(want))
			}
			msgs := e.streamMsgs()[total:]
			total += len(want)
			if len(msgs) != len(want) {
				t.Fatalf("stream got %d messages, want %d", len(msgs), len(want))
			}
			for j, m := range msgs {
				w := &want[j]
				if got := m.Header.Get(bus.MsgIDHeader); got != w.EventID {
					t.Errorf("msg %d: Nats-Msg-Id %q, want %q", j, got, w.EventID)
				}
				if wantSubj := string(w.AppendSubject(nil)); m.Subject != wantSubj {
					t.Errorf("msg %d: subject %q, want %q", j, m.Subject, wantSubj)
				}
				got, err := eventjson.Decode(m.Data)
				if err != nil {
					t.Fatalf("msg %d: %v", j, err)
				}
				if got.EventID != w.EventID || got.Tenant != "contoso" || got.Kind != w.Kind || got.Code != w.Code ||
					got.Outcome != w.Outcome || got.MDMReceivedAt != meta.MDMReceivedAt || got.GenericAlert != meta.GenericAlert {
					t.Errorf("msg %d: got %+v, want %+v", j, got, *w)
				}
				if d := time.Since(got.ReceivedAt); d < 0 || d > time.Minute {
					t.Errorf("msg %d: received_at %v is not now", j, got.ReceivedAt)
				}
			}
		})
	}
	if got := metric(t, e.srv.Registry(), "cspwatch_ingest_events_total", nil); got != float64(total) {
		t.Errorf("events_total %v, want %d", got, total)
	}
	if got := metric(t, e.srv.Registry(), "cspwatch_ingest_requests_total", map[string]string{"status": "200"}); got != 3 {
		t.Errorf("requests_total{200} %v, want 3", got)
	}
}

// An MDM server that did not see the answer retries with the same
// webhook-id and a fresh timestamp and signature; the events are stored once.
func TestRetriedWebhookStoresNoDuplicates(t *testing.T) {
	e := newEnv(t, nil)
	body := readFile(t, "testdata/msi_alert.xml")
	n := len(expected(t, "contoso", body, normalize.Meta{}))
	now := time.Now().Unix()
	first := e.post("/v1/syncml/contoso", signedHeaders(t, contosoSecret, "msg_retry", now, body), body)
	second := e.post("/v1/syncml/contoso", signedHeaders(t, contosoSecret, "msg_retry", now+30, body), body)
	// Gzip-encoded, and through a bearer token: the same events still.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(body)
	zw.Close()
	h := http.Header{"Content-Type": {syncmlMediaType}, "Content-Encoding": {"gzip"}, "Authorization": {"Bearer " + contosoToken}}
	third := e.post("/v1/syncml", h, zb.Bytes())

	if first.Status != 200 || first.Events != n || first.New != n || first.Duplicates != 0 {
		t.Fatalf("first %+v, want %d new events", first, n)
	}
	for _, a := range []answer{second, third} {
		if a.Status != 200 || a.Events != n || a.New != 0 || a.Duplicates != n {
			t.Fatalf("retry %+v, want %d events all duplicates", a, n)
		}
	}
	if got := e.streamCount(); got != uint64(n) {
		t.Fatalf("stream holds %d messages, want %d", got, n)
	}
	if got := metric(t, e.srv.Registry(), "cspwatch_ingest_duplicate_events_total", nil); got != float64(2*n) {
		t.Fatalf("duplicate_events_total %v, want %d", got, 2*n)
	}
}

// The answer says how many events of a message were new and how many
// JetStream already held: the first post of a message has every event new,
// its retry every event a duplicate, and a message without events answers
// zeros.
func TestAnswerCountsNewAndDuplicateEvents(t *testing.T) {
	e := newEnv(t, nil)
	twice := deviceMessage(7, 1)
	// The same Alert again, CmdID and all: events are told apart by their
	// position in the message, so this is two events, not a repeat.
	alert := twice[bytes.Index(twice, []byte("<Alert>")) : bytes.Index(twice, []byte("</Alert>"))+len("</Alert>")]
	twice = bytes.Replace(twice, alert, append(append([]byte{}, alert...), alert...), 1)
	empty := []byte(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>` +
		`<SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>https://mdm.example/omadm</LocURI></Target>` +
		`<Source><LocURI>DEV-EMPTY</LocURI></Source></SyncHdr><SyncBody><Final/></SyncBody></SyncML>`)
	sessionOnly := bytes.Replace(empty, []byte("<Final/>"),
		[]byte(`<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>`+
			`<Alert><CmdID>2</CmdID><Data>1201</Data></Alert><Final/>`), 1)

	tests := []struct {
		name   string
		body   []byte
		events int // what the builder must make of body, checked first
	}{
		{"msi alert", readFile(t, "testdata/msi_alert.xml"), -1},
		{"office", readFile(t, "testdata/office.xml"), -1},
		{"statuses", readFile(t, "testdata/statuses.xml"), -1},
		{"three events", deviceMessage(7, 0), 3},
		{"repeated command", twice, 4},
		{"no commands", empty, 0},
		{"session commands only", sessionOnly, 0},
	}
	reg := e.srv.Registry()
	now := time.Now().Unix()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := syncml.Parse(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			var b normalize.Builder
			evs, st := b.Build(msg, normalize.Meta{Tenant: "contoso", ReceivedAt: time.Now()}, nil)
			n := len(evs)
			if tt.events >= 0 && n != tt.events {
				t.Fatalf("builder made %d events, want %d: the message is not the case it names", n, tt.events)
			}
			ids := map[string]bool{}
			for _, ev := range evs {
				ids[ev.EventID] = true
			}
			if len(ids) != n {
				t.Fatalf("%d events with %d distinct ids", n, len(ids))
			}
			want := func(fresh, dups int) string {
				return fmt.Sprintf(`{"events":%d,"new":%d,"duplicates":%d,"skipped":%d}`+"\n", fresh+dups, fresh, dups, st.Skipped)
			}
			id := fmt.Sprintf("msg_counts_%d", i)
			for j, w := range []string{want(n, 0), want(0, n)} {
				stored := e.streamCount()
				dupsBefore := metric(t, reg, "cspwatch_ingest_duplicate_events_total", nil)
				// The retry is signed anew, as an MDM server does.
				a := e.post("/v1/syncml/contoso", signedHeaders(t, contosoSecret, id, now+int64(30*j), tt.body), tt.body)
				if a.Status != http.StatusOK || a.Body != w {
					t.Fatalf("post %d: %d %q, want 200 %q", j+1, a.Status, a.Body, w)
				}
				if a.Events != a.New+a.Duplicates {
					t.Fatalf("post %d: events %d is not new %d + duplicates %d", j+1, a.Events, a.New, a.Duplicates)
				}
				if got := e.streamCount() - stored; got != uint64(a.New) {
					t.Errorf("post %d: stream grew by %d, answer says %d new", j+1, got, a.New)
				}
				if got := metric(t, reg, "cspwatch_ingest_duplicate_events_total", nil) - dupsBefore; got != float64(a.Duplicates) {
					t.Errorf("post %d: duplicate_events_total rose by %v, answer says %d", j+1, got, a.Duplicates)
				}
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	e := newEnv(t, func(c *ingest.Config) {
		c.MaxBodyBytes = 64 << 10
		c.MaxDecompressedBytes = 128 << 10
	})
	good := readFile(t, "testdata/msi_alert.xml")
	now := time.Now().Unix()
	sign := func(secret string, body []byte) http.Header { return signedHeaders(t, secret, "msg_bad", now, body) }
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	with := func(h http.Header, k, v string) http.Header { h.Set(k, v); return h }
	bomb := gz(bytes.Repeat([]byte("<a>"), 100_000)) // 300 KB once decompressed, a few hundred bytes sent
	big := bytes.Repeat([]byte(" "), 70<<10)
	doctype := []byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr/></SyncML>`)
	truncated := good[:len(good)/2]
	badUTF8 := bytes.Replace(good, []byte("Reversed"), []byte("Rev\xffrsed"), 1)
	noDevice := bytes.Replace(good, []byte("<Source><LocURI>42B2A2D7D6B5F2A6B1E1A0D0C0B0A090</LocURI></Source>"), nil, 1)
	if bytes.Equal(noDevice, good) {
		t.Fatal("testdata/msi_alert.xml changed: the device Source was not found")
	}
	expired := signedHeaders(t, contosoSecret, "msg_old", now-6*60, good)
	future := signedHeaders(t, contosoSecret, "msg_new", now+6*60, good)
	tampered := sign(contosoSecret, good)
	corrupt := bytes.Replace(good, []byte("<Data>1224</Data>"), []byte("<Data>1226</Data>"), 1)
	if bytes.Equal(corrupt, good) {
		t.Fatal("testdata/msi_alert.xml changed: no Alert 1224 to tamper with")
	}

	tests := []struct {
		name    string
		method  string
		path    string
		h       http.Header
		body    []byte
		status  int
		reason  string // the answer's error
		counter string // the rejected_total or parse_errors_total reason
	}{
		{"get", "GET", "/v1/syncml/contoso", sign(contosoSecret, nil), nil, 405, "method_not_allowed", "method_not_allowed"},
		{"json body", "POST", "/v1/syncml/contoso", with(sign(contosoSecret, good), "Content-Type", "application/json"), good, 415, "unsupported_media_type", "unsupported_media_type"},
		{"no content type", "POST", "/v1/syncml/contoso", with(sign(contosoSecret, good), "Content-Type", ""), good, 415, "unsupported_media_type", "unsupported_media_type"},
		{"brotli", "POST", "/v1/syncml/contoso", with(sign(contosoSecret, good), "Content-Encoding", "br"), good, 415, "unsupported_encoding", "unsupported_encoding"},
		{"body too large", "POST", "/v1/syncml/contoso", sign(contosoSecret, big), big, 413, "body_too_large", "body_too_large"},
		{"gzip bomb", "POST", "/v1/syncml/contoso", with(sign(contosoSecret, bomb), "Content-Encoding", "gzip"), bomb, 413, "decompressed_too_large", "decompressed_too_large"},
		{"not gzip", "POST", "/v1/syncml/contoso", with(sign(contosoSecret, good), "Content-Encoding", "gzip"), good, 400, "bad_gzip", "bad_gzip"},
		{"doctype", "POST", "/v1/syncml/contoso", sign(contosoSecret, doctype), doctype, 400, "doctype", "doctype"},
		{"truncated", "POST", "/v1/syncml/contoso", sign(contosoSecret, truncated), truncated, 400, "truncated", "truncated"},
		{"invalid utf-8", "POST", "/v1/syncml/contoso", sign(contosoSecret, badUTF8), badUTF8, 400, "invalid_utf8", "invalid_utf8"},
		{"no device", "POST", "/v1/syncml/contoso", sign(contosoSecret, noDevice), noDevice, 400, "no_device_id", "no_device_id"},
		{"empty", "POST", "/v1/syncml/contoso", sign(contosoSecret, nil), nil, 400, "empty", "empty"},
		{"no credentials", "POST", "/v1/syncml/contoso", http.Header{"Content-Type": {syncmlMediaType}}, good, 401, "missing_credentials", "missing_credentials"},
		{"wrong tenant secret", "POST", "/v1/syncml/contoso", sign(fabrikamSecret, good), good, 401, "bad_signature", "bad_signature"},
		{"other tenant's path", "POST", "/v1/syncml/fabrikam", sign(contosoSecret, good), good, 401, "bad_signature", "bad_signature"},
		{"unknown tenant", "POST", "/v1/syncml/nobody", sign(contosoSecret, good), good, 401, "bad_signature", "unknown_tenant"},
		{"tampered body", "POST", "/v1/syncml/contoso", tampered, corrupt, 401, "bad_signature", "bad_signature"},
		{"expired timestamp", "POST", "/v1/syncml/contoso", expired, good, 401, "timestamp_out_of_window", "timestamp_out_of_window"},
		{"future timestamp", "POST", "/v1/syncml/contoso", future, good, 401, "timestamp_out_of_window", "timestamp_out_of_window"},
		{"timestamp not a number", "POST", "/v1/syncml/contoso", with(sign(contosoSecret, good), ingest.HeaderWebhookTimestamp, "yesterday"), good, 401, "bad_timestamp", "bad_timestamp"},
		{"no webhook id", "POST", "/v1/syncml/contoso", with(sign(contosoSecret, good), ingest.HeaderWebhookID, ""), good, 401, "missing_webhook_id", "missing_webhook_id"},
		{"signed without tenant", "POST", "/v1/syncml", sign(contosoSecret, good), good, 401, "tenant_required", "tenant_required"},
		{"tenant with tokens only", "POST", "/v1/syncml/tokenonly", sign(contosoSecret, good), good, 401, "bad_signature", "no_secret"},
		{"unknown token", "POST", "/v1/syncml", http.Header{"Content-Type": {syncmlMediaType}, "Authorization": {"Bearer not-a-token-of-anyone"}}, good, 401, "bad_token", "bad_token"},
		{"token of another tenant", "POST", "/v1/syncml/contoso", http.Header{"Content-Type": {syncmlMediaType}, "Authorization": {"Bearer " + tokenOnlyToken}}, good, 401, "bad_token", "bad_token"},
		{"huge generic alert header", "POST", "/v1/syncml/contoso", with(sign(contosoSecret, good), ingest.HeaderGenericAlert, strings.Repeat("x", 2000)), good, 400, "bad_header", "bad_header"},
	}
	reg := e.srv.Registry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rejBefore := metric(t, reg, "cspwatch_ingest_rejected_total", map[string]string{"reason": tt.counter})
			parseBefore := metric(t, reg, "cspwatch_ingest_parse_errors_total", map[string]string{"reason": tt.counter})
			statusBefore := metric(t, reg, "cspwatch_ingest_requests_total", map[string]string{"status": fmt.Sprint(tt.status)})
			req, err := http.NewRequest(tt.method, e.url+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.h
			res, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || !strings.Contains(string(b), `"error":"`+tt.reason+`"`) {
				t.Fatalf("answer %d %s, want %d with error %q", res.StatusCode, b, tt.status, tt.reason)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.status == 401 && res.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			rej := metric(t, reg, "cspwatch_ingest_rejected_total", map[string]string{"reason": tt.counter}) - rejBefore
			parse := metric(t, reg, "cspwatch_ingest_parse_errors_total", map[string]string{"reason": tt.counter}) - parseBefore
			if rej != 1 {
				t.Errorf("rejected_total{reason=%q} rose by %v, want 1", tt.counter, rej)
			}
			if tt.status == 400 && tt.reason != "bad_gzip" && tt.reason != "bad_header" && parse != 1 {
				t.Errorf("parse_errors_total{reason=%q} rose by %v, want 1", tt.counter, parse)
			}
			if got := metric(t, reg, "cspwatch_ingest_requests_total", map[string]string{"status": fmt.Sprint(tt.status)}) - statusBefore; got != 1 {
				t.Errorf("requests_total{status=%d} rose by %v, want 1", tt.status, got)
			}
			// The service still answers a good request.
			if a := e.post("/v1/syncml/contoso", sign(contosoSecret, good), good); a.Status != 200 {
				t.Fatalf("good request after %s: %+v", tt.name, a)
			}
		})
	}
	// Oversized headers are refused by net/http itself.
	req, _ := http.NewRequest("POST", e.url+"/v1/syncml/contoso", bytes.NewReader(good))
	req.Header = sign(contosoSecret, good)
	req.Header.Set("X-Padding", strings.Repeat("p", 100<<10))
	if res, err := e.client.Do(req); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("100 KB header: status %d, want 431", res.StatusCode)
		}
	}
	if got := e.streamCount(); got == 0 || got > uint64(len(expected(t, "contoso", good, normalize.Meta{}))) {
		t.Errorf("stream holds %d messages: only the good message's events belong there", got)
	}
}

// Key rotation: a header may carry several signatures, and a tenant several
// secrets; one match is enough.
func TestSignatureRotation(t *testing.T) {
	e := newEnv(t, nil)
	body := readFile(t, "testdata/office.xml")
	now := time.Now().Unix()
	oldSig := signedHeaders(t, contosoOld, "msg_rot", now, body).Get(ingest.HeaderWebhookSignature)
	foreign := signedHeaders(t, fabrikamSecret, "msg_rot", now, body).Get(ingest.HeaderWebhookSignature)
	for _, sigs := range []string{
		oldSig,
		foreign + " " + oldSig,
		"v2,notbase64 " + foreign + " " + oldSig,
	} {
		h := signedHeaders(t, contosoSecret, "msg_rot", now, body)
		h.Set(ingest.HeaderWebhookSignature, sigs)
		if a := e.post("/v1/syncml/contoso", h, body); a.Status != 200 {
			t.Fatalf("signatures %q: %+v", sigs, a)
		}
	}
	h := signedHeaders(t, contosoSecret, "msg_rot", now, body)
	h.Set(ingest.HeaderWebhookSignature, foreign+" v1,"+strings.Repeat("A", 44))
	if a := e.post("/v1/syncml/contoso", h, body); a.Status != 401 {
		t.Fatalf("no matching signature: %+v", a)
	}
}

func TestInsecureModeIsTenantDefault(t *testing.T) {
	if _, err := ingest.New(ingest.DefaultConfig(), nil, nil, zeroLog()); err == nil {
		t.Fatal("New without credentials and without insecure succeeded")
	}
	e := newEnv(t, func(c *ingest.Config) { c.Insecure = true })
	body := readFile(t, "testdata/msi_alert.xml")
	a := e.post("/v1/syncml", http.Header{"Content-Type": {syncmlMediaType}}, body)
	if a.Status != 200 || a.Events == 0 {
		t.Fatalf("insecure post: %+v", a)
	}
	for _, m := range e.streamMsgs() {
		if !strings.HasPrefix(m.Subject, event.SubjectPrefix+ingest.InsecureTenant+".") {
			t.Fatalf("subject %q, want tenant %q", m.Subject, ingest.InsecureTenant)
		}
	}
	if a := e.post("/v1/syncml/contoso", http.Header{"Content-Type": {syncmlMediaType}}, body); a.Status != 404 {
		t.Fatalf("insecure post to a named tenant: %+v", a)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t, nil)
	get := func(path string) int {
		res, err := e.client.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if get("/healthz") != 200 || get("/readyz") != 200 {
		t.Fatal("not healthy and ready at start")
	}
	if get("/metrics") != 200 {
		t.Fatal("no metrics")
	}
	e.nats.Stop()
	testkit.WaitFor(t, 20*time.Second, "readyz 503 with NATS down", func() bool { return get("/readyz") == 503 })
	if get("/healthz") != 200 {
		t.Fatal("healthz failed with NATS down")
	}
	e.nats.Restart()
	testkit.WaitFor(t, 20*time.Second, "readyz 200 after NATS returns", func() bool { return get("/readyz") == 200 })
}

// NATS goes away under load: requests get 503 with Retry-After; clients that
// retry (same message, fresh signature) end with every event stored exactly
// once once NATS is back.
func TestNATSOutageMidLoadThenExactlyOnce(t *testing.T) {
	e := newEnv(t, func(c *ingest.Config) { c.PublishTimeout = 500 * time.Millisecond })
	const clients, perClient = 8, 40
	var (
		sent, unavailable atomic.Int64
		wg                sync.WaitGroup
		mu                sync.Mutex
		want              = map[string]bool{}
	)
	for c := 0; c < clients; c++ {
		for n := 0; n < perClient; n++ {
			for _, ev := range expected(t, "contoso", deviceMessage(c, n), normalize.Meta{}) {
				want[ev.EventID] = true
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < perClient; n++ {
				body := deviceMessage(c, n)
				id := fmt.Sprintf("msg_%d_%d", c, n)
				for ctx.Err() == nil {
					a, err := post(e.client, e.url+"/v1/syncml/contoso", signedHeaders(t, contosoSecret, id, time.Now().Unix(), body), body)
					if err == nil && a.Status == 200 {
						sent.Add(1)
						break
					}
					if err == nil && a.Status == 503 {
						unavailable.Add(1)
						if a.Header.Get("Retry-After") == "" {
							mu.Lock()
							t.Error("503 without Retry-After")
							mu.Unlock()
						}
					} else if err == nil {
						mu.Lock()
						t.Errorf("unexpected answer %+v", a)
						mu.Unlock()
						return
					}
					time.Sleep(20 * time.Millisecond) // a client's back-off, shortened
				}
			}
		}()
	}
	testkit.WaitFor(t, 20*time.Second, "some messages accepted", func() bool { return sent.Load() >= clients*perClient/8 })
	e.nats.Stop()
	testkit.WaitFor(t, 20*time.Second, "503s while NATS is down", func() bool { return unavailable.Load() >= 5 })
	e.nats.Restart()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("clients did not finish within 60s")
	}
	if sent.Load() != clients*perClient {
		t.Fatalf("%d messages accepted, want %d", sent.Load(), clients*perClient)
	}
	// Every event exactly once.
	seen := map[string]int{}
	for _, m := range e.streamMsgs() {
		seen[m.Header.Get(bus.MsgIDHeader)]++
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("event %s stored %d times", id, seen[id])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("stream holds %d distinct events, want %d", len(seen), len(want))
	}
	t.Logf("%d 503s during the outage", unavailable.Load())
}

// Many clients at once, some sending the same message concurrently: the
// answers, the metrics and the stream agree exactly.
func TestConcurrentClientsExactCounts(t *testing.T) {
	e := newEnv(t, nil)
	const clients, perClient = 16, 25
	var (
		wg                        sync.WaitGroup
		events, fresh, dups, errs atomic.Int64
	)
	unique := map[string]bool{}
	for c := 0; c < clients; c++ {
		for n := 0; n < perClient; n++ {
			for _, ev := range expected(t, "contoso", deviceMessage(c/2, n), normalize.Meta{}) {
				unique[ev.EventID] = true
			}
		}
	}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < perClient; n++ {
				// Clients 2k and 2k+1 send the same messages.
				body := deviceMessage(c/2, n)
				h := signedHeaders(t, contosoSecret, fmt.Sprintf("msg_%d_%d", c/2, n), time.Now().Unix(), body)
				if c%3 == 0 {
					h = http.Header{"Content-Type": {syncmlMediaType}, "Authorization": {"Bearer " + contosoToken}}
				}
				a, err := post(e.client, e.url+"/v1/syncml/contoso", h, body)
				if err != nil || a.Status != 200 {
					errs.Add(1)
					continue
				}
				events.Add(int64(a.Events))
				fresh.Add(int64(a.New))
				dups.Add(int64(a.Duplicates))
			}
		}()
	}
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d requests failed", errs.Load())
	}
	total := int64(clients * perClient * 3)
	if events.Load() != total {
		t.Fatalf("answers report %d events, want %d", events.Load(), total)
	}
	if got := fresh.Load(); got != int64(len(unique)) || got+dups.Load() != total {
		t.Fatalf("answers report %d new and %d duplicate events, want %d new of %d", got, dups.Load(), len(unique), total)
	}
	if got := e.streamCount(); got != uint64(len(unique)) {
		t.Fatalf("stream holds %d, want %d", got, len(unique))
	}
	reg := e.srv.Registry()
	if got := metric(t, reg, "cspwatch_ingest_events_total", nil); got != float64(total) {
		t.Errorf("events_total %v, want %d", got, total)
	}
	if got := metric(t, reg, "cspwatch_ingest_requests_total", map[string]string{"status": "200"}); got != clients*perClient {
		t.Errorf("requests_total{200} %v, want %d", got, clients*perClient)
	}
	if got := metric(t, reg, "cspwatch_ingest_events_total", map[string]string{"kind": "alert"}); got != float64(clients*perClient) {
		t.Errorf("alert events %v, want %d", got, clients*perClient)
	}
	if got := metric(t, reg, "cspwatch_ingest_in_flight_requests", nil); got != 0 {
		t.Errorf("in flight %v after all answered", got)
	}
}

// A request in flight when shutdown begins is still answered; Serve returns
// only after it.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	e := newEnv(t, nil)
	body := readFile(t, "testdata/msi_alert.xml")
	h := signedHeaders(t, contosoSecret, "msg_slow", time.Now().Unix(), body)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", e.url+"/v1/syncml/contoso", pr)
	req.Header = h
	req.ContentLength = int64(len(body))
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := e.client.Do(req)
		if err != nil {
			done <- result{0, err}
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		done <- result{res.StatusCode, nil}
	}()
	pw.Write(body[:100])
	testkit.WaitFor(t, 20*time.Second, "request in flight", func() bool {
		return metric(t, e.srv.Registry(), "cspwatch_ingest_in_flight_requests", nil) == 1
	})
	stopped := make(chan struct{})
	go func() { e.stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("shutdown finished with a request in flight")
	case <-time.After(200 * time.Millisecond):
	}
	pw.Write(body[100:])
	pw.Close()
	r := <-done
	if r.err != nil || r.status != 200 {
		t.Fatalf("in-flight request: %d %v", r.status, r.err)
	}
	<-stopped
}

// Without the stream, nothing acknowledges: 503, counted, and 200 again once
// the stream is back.
func TestMissingStreamIs503(t *testing.T) {
	e := newEnv(t, func(c *ingest.Config) { c.PublishTimeout = time.Second })
	body := readFile(t, "testdata/office.xml")
	if err := e.js.DeleteStream(context.Background(), bus.StreamName); err != nil {
		t.Fatal(err)
	}
	a := e.post("/v1/syncml/contoso", signedHeaders(t, contosoSecret, "msg_ns", time.Now().Unix(), body), body)
	if a.Status != 503 || a.Error != "publish_failed" || a.Header.Get("Retry-After") != "5" {
		t.Fatalf("without stream: %+v", a)
	}
	if got := metric(t, e.srv.Registry(), "cspwatch_ingest_publish_errors_total", nil); got != 1 {
		t.Fatalf("publish_errors_total %v, want 1", got)
	}
	if got := metric(t, e.srv.Registry(), "cspwatch_ingest_publish_pending", nil); got != 0 {
		t.Fatalf("%v events still pending after the 503", got)
	}
	// After answering the delete, nats-server removes the emptied account
	// and streams directories in a goroutine (stream.go, mset.stop), which
	// can pull them from under an immediate re-create: "error creating store
	// for stream". An operator would retry; so does the test.
	var lastErr error
	testkit.WaitFor(t, 20*time.Second, "stream re-created", func() bool {
		_, lastErr = bus.EnsureStream(context.Background(), e.js, bus.DefaultStreamConfig())
		if lastErr != nil {
			t.Logf("re-create: %v", lastErr)
		}
		return lastErr == nil
	})
	a = e.post("/v1/syncml/contoso", signedHeaders(t, contosoSecret, "msg_ns", time.Now().Unix(), body), body)
	if a.Status != 200 || a.Events == 0 {
		t.Fatalf("with the stream back: %+v", a)
	}
}
