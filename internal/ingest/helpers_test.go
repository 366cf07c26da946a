package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

// Secrets and tokens of testdata/credentials.json.
const (
	contosoSecret   = "whsec_Y29udG9zby1zZWNyZXQta2V5LTAwMDE="
	contosoOld      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	contosoToken    = "contoso-bearer-token-0123456789"
	fabrikamSecret  = "fabrikam-raw-secret-0001"
	tokenOnlyToken  = "tokenonly-bearer-token-abcdef0123"
	syncmlMediaType = "application/vnd.syncml.dm+xml"
)

// env is an ingest server on loopback over an embedded JetStream server.
type env struct {
	t      testing.TB
	nats   *natstest.Server
	nc     *nats.Conn
	srv    *ingest.Server
	url    string
	js     jetstream.JetStream
	stream jetstream.Stream
	client *http.Client
	stop   func()
}

func newEnv(t testing.TB, change func(*ingest.Config)) *env {
	t.Helper()
	ns := natstest.Start(t)
	stream := ns.InstallStream()
	cfg := ingest.DefaultConfig()
	cfg.MaxBodyBytes = 256 << 10
	cfg.MaxDecompressedBytes = 1 << 20
	cfg.PublishTimeout = 2 * time.Second
	if change != nil {
		change(&cfg)
	}
	var creds *ingest.Credentials
	if !cfg.Insecure {
		var err error
		creds, err = ingest.LoadCredentials("testdata/credentials.json")
		if err != nil {
			t.Fatal(err)
		}
	}
	cc := bus.DefaultConnConfig()
	cc.URL = ns.URL
	cc.ReconnectWait = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(io.Discard)
	if testing.Verbose() {
		log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	}
	srv, err := ingest.New(cfg, creds, nc, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln, nil, 10*time.Second) }()
	e := &env{
		t: t, nats: ns, nc: nc, srv: srv, url: "http://" + ln.Addr().String(),
		js: ns.JetStream(), stream: stream,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			scancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			nc.Drain()
		})
	}
	t.Cleanup(e.stop)
	return e
}

// signedHeaders signs body for tenant's path with secret at time ts.
func signedHeaders(t testing.TB, secret, id string, ts int64, body []byte) http.Header {
	t.Helper()
	sig, err := webhooksig.SignSecret(secret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", syncmlMediaType)
	h.Set(ingest.HeaderWebhookID, id)
	h.Set(ingest.HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(ingest.HeaderWebhookSignature, sig)
	return h
}

type answer struct {
	Status     int
	Events     int    `json:"events"`
	New        int    `json:"new"`
	Duplicates int    `json:"duplicates"`
	Skipped    int    `json:"skipped"`
	Error      string `json:"error"`
	Detail     string `json:"detail"`
	Header     http.Header
	Body       string // as received, to check keys the struct would default
}

func (e *env) post(path string, h http.Header, body []byte) answer {
	e.t.Helper()
	a, err := post(e.client, e.url+path, h, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func post(c *http.Client, url string, h http.Header, body []byte) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header = h
	res, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{Status: res.StatusCode, Header: res.Header, Body: string(b)}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("answer %d %q: %w", res.StatusCode, b, err)
	}
	return a, nil
}

// expected builds, with the parser and builder directly, the events a
// message must yield for tenant.
func expected(t testing.TB, tenant string, body []byte, m normalize.Meta) []event.Event {
	t.Helper()
	msg, err := syncml.Parse(body)
	if err != nil {
		t.Fatalf("expected: %v", err)
	}
	m.Tenant = tenant
	m.ReceivedAt = time.Now()
	var b normalize.Builder
	evs, _ := b.Build(msg, m, nil)
	return evs
}

// streamMsgs returns every message of the install stream.
func (e *env) streamMsgs() []*jetstream.RawStreamMsg {
	e.t.Helper()
	ctx := context.Background()
	info, err := e.stream.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := e.stream.GetMsg(ctx, seq)
		if err != nil {
			e.t.Fatalf("get %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

func (e *env) streamCount() uint64 {
	e.t.Helper()
	info, err := e.stream.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

// metric returns the value of the counter or gauge name with the given
// labels (a subset match), 0 when absent.
func metric(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deviceMessage makes a distinct SyncML message for device dev, message n:
// an MSI install alert and an MSI Status result, and a failed OMA-DM status.
// It yields three events.
func deviceMessage(dev, n int) []byte {
	return fmt.Appendf(nil, `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>`+
		`<SessionID>%X</SessionID><MsgID>%d</MsgID><Target><LocURI>https://mdm.example/omadm</LocURI></Target>`+
		`<Source><LocURI>DEV-%06d</LocURI></Source></SyncHdr><SyncBody>`+
		`<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>`+
		`<Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>3</CmdRef><Cmd>Exec</Cmd>`+
		`<TargetRef>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{AF9257BA-6BBD-4624-AA9B-0182D50292C3}/DownloadInstall</TargetRef><Data>500</Data></Status>`+
		`<Results><CmdID>3</CmdID><MsgRef>1</MsgRef><CmdRef>4</CmdRef><Item><Source><LocURI>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{AF9257BA-6BBD-4624-AA9B-0182D50292C3}/Status</LocURI></Source>`+
		`<Meta><Format xmlns="syncml:metinf">int</Format></Meta><Data>60</Data></Item></Results>`+
		`<Alert><CmdID>4</CmdID><Data>1224</Data><Item><Source><LocURI>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{AF9257BA-6BBD-4624-AA9B-0182D50292C3}/DownloadInstall</LocURI></Source>`+
		`<Meta><Type xmlns="syncml:metinf">Reversed-Domain-Name:com.microsoft.mdm.win32csp_install</Type><Format xmlns="syncml:metinf">int</Format><Mark xmlns="syncml:metinf">informational</Mark></Meta>`+
		`<Data>%d</Data></Item></Alert><Final/></SyncBody></SyncML>`, dev*1000+n, n, dev, []int{0, 1603, -2147023293, 3010}[n%4])
}

func zeroLog() zerolog.Logger { return zerolog.New(io.Discard) }
