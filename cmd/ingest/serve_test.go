package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

func TestServeConfigFlagsEnvAndValidation(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name  string
		args  []string
		env   func(string) string
		check func(serveConfig) bool
		err   string
	}{
		{"defaults need credentials", nil, env(), nil, "no credentials"},
		{"insecure", []string{"--insecure"}, env(), func(c serveConfig) bool {
			return c.Insecure && c.Ingest.Insecure && c.Listen == ":8080" && c.NATSListen == "127.0.0.1:4222" && c.Stream.Duplicates == time.Hour
		}, ""},
		{"env credentials", nil, env("CSPWATCH_CREDENTIALS", "creds.json"), func(c serveConfig) bool { return c.Credentials == "creds.json" }, ""},
		{"env overrides default", []string{"--insecure"}, env("CSPWATCH_LISTEN", "127.0.0.1:9000", "CSPWATCH_NATS_URL", "nats://n:4222", "CSPWATCH_STREAM_DUPLICATES", "2h"),
			func(c serveConfig) bool {
				return c.Listen == "127.0.0.1:9000" && c.NATS.Conn.URL == "nats://n:4222" && c.Stream.Duplicates == 2*time.Hour
			}, ""},
		{"flag wins over env", []string{"--insecure", "--listen", "127.0.0.1:7000"}, env("CSPWATCH_LISTEN", "127.0.0.1:9000"),
			func(c serveConfig) bool { return c.Listen == "127.0.0.1:7000" }, ""},
		{"bad env value", []string{"--insecure"}, env("CSPWATCH_MAX_PENDING", "lots"), nil, "CSPWATCH_MAX_PENDING"},
		{"both auth modes", []string{"--insecure", "--credentials", "x.json"}, env(), nil, "exclude"},
		{"tls half", []string{"--insecure", "--tls-cert", "c.pem"}, env(), nil, "go together"},
		{"bad persist", []string{"--insecure", "--stream-persist", "never"}, env(), nil, "--stream-persist: want default or async"},
		{"window over age", []string{"--insecure", "--stream-max-age", "10m"}, env(), nil, "--stream-duplicates: want a duration of at most --stream-max-age"},
		{"bad nats listen", []string{"--insecure", "--nats-listen", "nope"}, env(), nil, "--nats-listen"},
		{"nats auth reaches the connection", []string{"--insecure", "--nats-url", "nats://x", "--nats-cert", "c.pem", "--nats-key", "k.pem"}, env("CSPWATCH_NATS_USER", "u", "CSPWATCH_NATS_PASSWORD", "p"),
			func(c serveConfig) bool {
				cc := c.NATS.Conn
				return cc.URL == "nats://x" && cc.Name == "cspwatch-ingest" && cc.User == "u" && cc.Password == "p" && cc.TLSCert == "c.pem" && cc.TLSKey == "k.pem" && cc.ReconnectWait == time.Second
			}, ""},
		{"nats two auths", []string{"--insecure", "--nats-url", "nats://x", "--nats-user", "u", "--nats-creds", "c"}, env(), nil, "only one"},
		{"log level", []string{"--insecure", "--log-level", "loud"}, env(), nil, "--log-level"},
		{"stray argument", []string{"--insecure", "extra"}, env(), nil, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServeConfig(tt.args, tt.env, io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, errUsage) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

// syncWriter is stdout for a server under test: it keeps what was written
// and signals each write.
type syncWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	note chan struct{}
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.note <- struct{}{}:
	default:
	}
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

var listening = regexp.MustCompile(`ingest listening on (http://\S+) nats (nats://\S+)`)

// The whole service from Main: embedded NATS on a random port, HTTP on a
// random port, a signed message in, its events on the stream, a graceful
// stop when the context ends.
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials.json")
	const secret = "e2e-secret-0123456789"
	if err := os.WriteFile(creds, []byte(`{"tenants":[{"name":"e2e","secrets":["`+secret+`"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncWriter{note: make(chan struct{}, 1)}
	var logs bytes.Buffer
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "CSPWATCH_NATS_DATA" {
			return filepath.Join(dir, "nats")
		}
		return ""
	}
	go func() {
		done <- Main(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
			"--credentials", creds, "--log-level", "warn"}, getenv, strings.NewReader(""), out, &logs)
	}()
	var m []string
	deadline := time.After(20 * time.Second)
	for m == nil {
		select {
		case <-out.note:
			m = listening.FindStringSubmatch(out.String())
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, logs.String())
		case <-deadline:
			t.Fatalf("no listening line; stdout %q", out.String())
		}
	}
	httpURL, natsURL := m[1], m[2]
	if _, err := os.Stat(filepath.Join(dir, "nats", "jetstream")); err != nil {
		t.Fatalf("embedded NATS does not store in CSPWATCH_NATS_DATA: %v", err)
	}

	body := []byte(e2eMessage)
	ts := time.Now().Unix()
	sig, err := webhooksig.SignSecret(secret, "msg_e2e", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", httpURL+"/v1/syncml/e2e", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.syncml.dm+xml")
	req.Header.Set("webhook-id", "msg_e2e")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(answer), `"events":1,`) {
		t.Fatalf("answer %d %s", res.StatusCode, answer)
	}

	// The container health check probes the same readiness endpoint.
	noenv := func(string) string { return "" }
	if err := Main(ctx, []string{"healthcheck", "--url", httpURL + "/readyz"}, noenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck of a ready server: %v", err)
	}
	if err := Main(ctx, []string{"healthcheck", "--url", httpURL + "/nothing-here"}, noenv, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("healthcheck of a 404 succeeded")
	}

	// The aggregator's view: connect to the embedded server's port.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, bus.Subjects)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "cspwatch.install.e2e.msi.failed" || msg.Header.Get(bus.MsgIDHeader) == "" {
		t.Fatalf("stored %s %v", msg.Subject, msg.Header)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of its context ending")
	}
}

const e2eMessage = `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>A</SessionID><MsgID>2</MsgID>` +
	`<Target><LocURI>https://mdm.example/omadm</LocURI></Target><Source><LocURI>E2E-DEVICE</LocURI></Source></SyncHdr><SyncBody>` +
	`<Alert><CmdID>3</CmdID><Data>1224</Data><Item><Source><LocURI>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{AF9257BA-6BBD-4624-AA9B-0182D50292C3}/DownloadInstall</LocURI></Source>` +
	`<Meta><Type xmlns="syncml:metinf">Reversed-Domain-Name:com.microsoft.mdm.win32csp_install</Type><Format xmlns="syncml:metinf">int</Format><Mark xmlns="syncml:metinf">critical</Mark></Meta>` +
	`<Data>1603</Data></Item></Alert><Final/></SyncBody></SyncML>`
