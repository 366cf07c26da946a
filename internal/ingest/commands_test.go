package ingest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// expectedCommands builds, with the parser and builder directly, the
// command events a server's message must yield for tenant.
func expectedCommands(t testing.TB, tenant string, body []byte) ([]event.Event, normalize.Stats) {
	t.Helper()
	msg, err := syncml.Parse(body)
	if err != nil {
		t.Fatalf("expected: %v", err)
	}
	var b normalize.Builder
	return b.BuildCommands(msg, normalize.Meta{Tenant: tenant, ReceivedAt: time.Now()}, nil)
}

// A server's message posted to either commands endpoint (signed with the
// tenant in the path, or with a bearer token) publishes exactly its command
// events, under their ids and subjects; its retry publishes nothing new.
func TestCommandsEndpointPublishesCommandEvents(t *testing.T) {
	e := newEnv(t, nil)
	body := readFile(t, "testdata/server_sequence.xml")
	want, st := expectedCommands(t, "contoso", body)
	if len(want) != 4 || st.Skipped == 0 {
		t.Fatalf("testdata/server_sequence.xml yields %d events (%+v), want 4 and some skipped", len(want), st)
	}
	now := time.Now().Unix()
	reg := e.srv.Registry()
	signed := signedHeaders(t, contosoSecret, "cmd_1", now, body)
	signed.Set(ingest.HeaderReceivedAt, "2026-11-23T05:00:00Z")
	a := e.post("/v1/syncml/commands/contoso", signed, body)
	wantBody := fmt.Sprintf(`{"events":%d,"new":%d,"duplicates":0,"skipped":%d}`+"\n", len(want), len(want), st.Skipped)
	if a.Status != http.StatusOK || a.Body != wantBody {
		t.Fatalf("answer %d %q, want 200 %q", a.Status, a.Body, wantBody)
	}
	msgs := e.streamMsgs()
	if len(msgs) != len(want) {
		t.Fatalf("stream holds %d messages, want %d", len(msgs), len(want))
	}
	for j, m := range msgs {
		w := &want[j]
		if got := m.Header.Get(bus.MsgIDHeader); got != w.EventID {
			t.Errorf("msg %d: Nats-Msg-Id %q, want %q", j, got, w.EventID)
		}
		if m.Subject != "cspwatch.install.contoso.msi.requested" {
			t.Errorf("msg %d: subject %q", j, m.Subject)
		}
		got, err := eventjson.Decode(m.Data)
		if err != nil {
			t.Fatalf("msg %d: %v", j, err)
		}
		if got.EventID != w.EventID || got.Kind != event.KindCommand || got.Command != w.Command || got.CmdIDRaw != w.CmdIDRaw ||
			got.DeviceID != "{C0FFEE00-1234-5678-9ABC-DEF012345678}" || got.Tenant != "contoso" || got.MDMReceivedAt != "2026-11-23T05:00:00Z" ||
			(w.MSIJob == nil) != (got.MSIJob == nil) {
			t.Errorf("msg %d: got %+v, want %+v", j, got, *w)
		}
	}
	if got := metric(t, reg, "cspwatch_ingest_requests_total", map[string]string{"endpoint": "commands", "status": "200"}); got != 1 {
		t.Errorf("requests_total{endpoint=commands,status=200} %v, want 1", got)
	}
	if got := metric(t, reg, "cspwatch_ingest_requests_total", map[string]string{"endpoint": "device"}); got != 0 {
		t.Errorf("requests_total{endpoint=device} %v, want 0", got)
	}
	if got := metric(t, reg, "cspwatch_ingest_events_total", map[string]string{"kind": "command", "outcome": "requested"}); got != float64(len(want)) {
		t.Errorf("events_total{kind=command} %v, want %d", got, len(want))
	}

	// The retry, by bearer token on the other endpoint: all duplicates.
	h := http.Header{"Content-Type": {syncmlMediaType}, "Authorization": {"Bearer " + contosoToken}}
	a = e.post("/v1/syncml/commands", h, body)
	if a.Status != http.StatusOK || a.Events != len(want) || a.New != 0 || a.Duplicates != len(want) {
		t.Fatalf("retry %+v, want %d duplicates", a, len(want))
	}
	if got := e.streamCount(); got != uint64(len(want)) {
		t.Fatalf("stream holds %d messages, want %d", got, len(want))
	}
	if got := metric(t, reg, "cspwatch_ingest_requests_total", map[string]string{"endpoint": "commands", "status": "200"}); got != 2 {
		t.Errorf("requests_total{endpoint=commands,status=200} %v, want 2", got)
	}
}

// Install documents an Exec carries that installjob rejects (DOCTYPE,
// depth, size, wrong root, syntax) are counted by reason and published with
// payload_error; the message's other commands are published too.
func TestCommandsHostilePayloads(t *testing.T) {
	e := newEnv(t, nil)
	body := readFile(t, "testdata/server_hostile.xml")
	want, st := expectedCommands(t, "contoso", body)
	if st.PayloadRejected != 5 {
		t.Fatalf("testdata/server_hostile.xml: %+v, want 5 payloads rejected", st)
	}
	a := e.post("/v1/syncml/commands/contoso", signedHeaders(t, contosoSecret, "cmd_hostile", time.Now().Unix(), body), body)
	if a.Status != http.StatusOK || a.Events != len(want) || a.New != len(want) {
		t.Fatalf("answer %+v, want 200 with %d new events", a, len(want))
	}
	reasons := map[string]int{}
	jobs := 0
	for _, m := range e.streamMsgs() {
		got, err := eventjson.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if got.PayloadError != "" {
			reasons[got.PayloadError]++
		}
		if got.MSIJob != nil {
			jobs++
		}
	}
	if fmt.Sprint(reasons) != "map[depth:1 doctype:1 root:1 size:1 syntax:1]" || jobs != 1 {
		t.Errorf("published payload errors %v and %d jobs, want one of each reason and the good job", reasons, jobs)
	}
	for reason, n := range reasons {
		if got := metric(t, e.srv.Registry(), "cspwatch_ingest_payload_rejected_total", map[string]string{"reason": reason}); got != float64(n) {
			t.Errorf("payload_rejected_total{reason=%q} %v, want %d", reason, got, n)
		}
	}
}

// The commands endpoints share the device endpoint's authentication and
// input checks, and add one: the device is SyncHdr/Target.
func TestCommandsBadInputs(t *testing.T) {
	e := newEnv(t, nil)
	good := readFile(t, "testdata/server_sequence.xml")
	now := time.Now().Unix()
	sign := func(secret string, body []byte) http.Header { return signedHeaders(t, secret, "cmd_bad", now, body) }
	noTarget := bytes.Replace(good, []byte("<LocURI>{C0FFEE00-1234-5678-9ABC-DEF012345678}</LocURI>"), []byte("<LocURI></LocURI>"), 1)
	if bytes.Equal(noTarget, good) {
		t.Fatal("testdata/server_sequence.xml changed: no device Target")
	}
	doctype := []byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr/></SyncML>`)
	truncated := good[:len(good)/2]
	tests := []struct {
		name   string
		path   string
		h      http.Header
		body   []byte
		status int
		reason string
	}{
		{"no target", "/v1/syncml/commands/contoso", sign(contosoSecret, noTarget), noTarget, 400, "no_device_id"},
		{"doctype", "/v1/syncml/commands/contoso", sign(contosoSecret, doctype), doctype, 400, "doctype"},
		{"truncated", "/v1/syncml/commands/contoso", sign(contosoSecret, truncated), truncated, 400, "truncated"},
		{"not xml", "/v1/syncml/commands", http.Header{"Content-Type": {syncmlMediaType}, "Authorization": {"Bearer " + contosoToken}}, []byte("hello"), 400, "malformed"},
		{"json body", "/v1/syncml/commands/contoso", withHeader(sign(contosoSecret, good), "Content-Type", "application/json"), good, 415, "unsupported_media_type"},
		{"wrong tenant secret", "/v1/syncml/commands/contoso", sign(fabrikamSecret, good), good, 401, "bad_signature"},
		{"other tenant's path", "/v1/syncml/commands/fabrikam", sign(contosoSecret, good), good, 401, "bad_signature"},
		{"signed without tenant", "/v1/syncml/commands", sign(contosoSecret, good), good, 401, "tenant_required"},
		{"no credentials", "/v1/syncml/commands", http.Header{"Content-Type": {syncmlMediaType}}, good, 401, "missing_credentials"},
	}
	reg := e.srv.Registry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metric(t, reg, "cspwatch_ingest_requests_total", map[string]string{"endpoint": "commands", "status": fmt.Sprint(tt.status)})
			a := e.post(tt.path, tt.h, tt.body)
			if a.Status != tt.status || a.Error != tt.reason {
				t.Fatalf("answer %d %q, want %d with error %q", a.Status, a.Body, tt.status, tt.reason)
			}
			if got := metric(t, reg, "cspwatch_ingest_requests_total", map[string]string{"endpoint": "commands", "status": fmt.Sprint(tt.status)}) - before; got != 1 {
				t.Errorf("requests_total{endpoint=commands,status=%d} rose by %v, want 1", tt.status, got)
			}
		})
	}
	if got := e.streamCount(); got != 0 {
		t.Fatalf("stream holds %d messages after bad requests only", got)
	}
	if got := metric(t, reg, "cspwatch_ingest_parse_errors_total", map[string]string{"reason": "no_device_id"}); got != 1 {
		t.Errorf("parse_errors_total{reason=no_device_id} %v, want 1", got)
	}
	// A device message posted to the commands endpoint yields no command
	// (its answers are skipped), and a server message to the device
	// endpoint no device event: each endpoint reads its own side.
	dev := readFile(t, "testdata/msi_alert.xml")
	if a := e.post("/v1/syncml/commands/contoso", sign(contosoSecret, dev), dev); a.Status != 200 || a.Events != 0 || a.Skipped == 0 {
		t.Errorf("device message to the commands endpoint: %+v", a)
	}
	if !strings.Contains(string(good), "<Get>") {
		t.Fatal("testdata/server_sequence.xml changed")
	}
}

func withHeader(h http.Header, k, v string) http.Header { h.Set(k, v); return h }
