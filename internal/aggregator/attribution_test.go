package aggregator_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit"
)

// serverGet is what the MDM server sent the device of the real-world 404
// answer (testdata of internal/normalize): a Get of an MSI product's Status
// node in session sess, message 2, command 7.
func serverGet(sess, target string) string {
	return `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>` + sess +
		`</SessionID><MsgID>2</MsgID><Target><LocURI>4F5A6B7C-8D9E-4F01-A2B3-C4D5E6F70819</LocURI></Target>` +
		`<Source><LocURI>https://mdm.example.test/api/mdm/microsoft/management</LocURI></Source></SyncHdr><SyncBody>` +
		`<Get><CmdID>7</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7B` + target +
		`%7D/Status</LocURI></Target></Item></Get><Final/></SyncBody></SyncML>`
}

// ingestReplica is one ingest process's HTTP service on its own NATS
// connection.
func ingestReplica(t *testing.T, e *env) string {
	t.Helper()
	cfg := ingest.DefaultConfig()
	cfg.Insecure = true
	srv, err := ingest.New(cfg, nil, connect(t, e.nats.URL, "ingest"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/vnd.syncml.dm+xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
}

// The device's 404 to a Get, with no TargetRef, is counted against the
// product the server's Get named: whether the answer or the command is
// posted first, through two ingest replicas, with the aggregator restarted
// between the two halves.
func TestAttributionAcrossIngestReplicasAndRestart(t *testing.T) {
	answer, err := os.ReadFile("../normalize/testdata/realworld/get_status_404_originalerror.xml")
	if err != nil {
		t.Fatal(err)
	}
	const target = "6F7CB29F-1319-4816-B345-0856916EB801"
	for _, answerFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("answer first %v", answerFirst), func(t *testing.T) {
			e := newEnv(t, nil)
			replicas := []string{ingestReplica(t, e), ingestReplica(t, e)}
			halves := []struct{ url, body string }{
				{replicas[0] + "/v1/syncml/commands", serverGet("7", target)},
				{replicas[1] + "/v1/syncml", string(answer)},
			}
			if answerFirst {
				halves[0], halves[1] = halves[1], halves[0]
			}
			attributed := func() (n, got uint64) {
				q := "SELECT count(), countIf(csp = 'EnterpriseDesktopAppManagement' AND target_id = '" + target +
					"' AND node = 'Status') FROM " + store.AttributedEvents + " WHERE kind = 'status' AND code = 404"
				now := time.Now().UTC()
				if err := e.st.Conn().QueryRow(context.Background(), q, store.AttributedArgs(now.Add(-time.Hour), now.Add(time.Hour))...).Scan(&n, &got); err != nil {
					t.Fatal(err)
				}
				return n, got
			}
			r := e.start(t, testConfig())
			post(t, halves[0].url, halves[0].body)
			testkit.WaitFor(t, 30*time.Second, "first half stored", func() bool { return tallyOf(t, e.st).Events == 1 })
			if n, got := attributed(); got != 0 {
				t.Fatalf("%d of %d answers attributed before the command was stored", got, n)
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			e.start(t, testConfig()) // the restart
			post(t, halves[1].url, halves[1].body)
			testkit.WaitFor(t, 30*time.Second, "the answer attributed", func() bool { n, got := attributed(); return n == 1 && got == 1 })
		})
	}
}
