// Package alertmanagertest runs a real prometheus-alertmanager for tests
// (Debian's prometheus-alertmanager; externaltest skips or fails when it is
// missing) and reads back what it holds.
package alertmanagertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/externaltest"
)

// wait bounds how long ActiveAlert and WaitGone wait for Alertmanager to
// show a post.
const wait = 20 * time.Second

// Server is a prometheus-alertmanager process of one test: its
// own port, storage and configuration, clustering off, routing every alert
// to a receiver that notifies nobody.
type Server struct {
	URL string
	log output
}

const amConfig = `route:
  receiver: "null"
  group_by: [alertname, tenant]
  group_wait: 1s
receivers:
  - name: "null"
`

// Start launches an Alertmanager of t, ready to take posts, and stops it
// when t ends (logging its output if t failed).
func Start(t *testing.T) *Server {
	t.Helper()
	bin := externaltest.Require(t, externaltest.Alertmanager)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(amConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// A free port may be taken between its probe and the server's bind: try
	// another when the process exits before it is ready.
	var lastErr error
	for range 3 {
		am, err := launchAlertmanager(t, bin, cfg, filepath.Join(dir, "data"))
		if err == nil {
			return am
		}
		lastErr = err
	}
	t.Fatalf("alertmanager: %v", lastErr)
	return nil
}

func launchAlertmanager(t *testing.T, bin, cfg, storage string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logFile, err := os.CreateTemp(filepath.Dir(storage), "alertmanager-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the process holds its own descriptor
	am := &Server{URL: "http://" + addr, log: output(logFile.Name())}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+storage,
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=info")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			return nil, fmt.Errorf("exited before ready on %s:\n%s", addr, am.log.String())
		default:
		}
		if resp, err := http.Get(am.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("not ready on %s after 30s:\n%s", addr, am.log.String())
		}
		select {
		case <-exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", am.log.String())
		}
	})
	return am, nil
}

// Alert is what GET /api/v2/alerts returns of an alert.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts returns the alerts GET /api/v2/alerts lists whose labels include
// match, with query's filters (active=true...).
func (am *Server) Alerts(t *testing.T, query url.Values, match map[string]string) []Alert {
	t.Helper()
	for k, v := range match {
		query.Add("filter", k+"="+strconv.Quote(v))
	}
	resp, err := http.Get(am.URL + "/api/v2/alerts?" + query.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []Alert
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("GET /api/v2/alerts: %s: %s", resp.Status, b.String())
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// ActiveAlert waits until Alertmanager lists one active alert with labels
// and returns it.
func (am *Server) ActiveAlert(t *testing.T, labels map[string]string) Alert {
	t.Helper()
	var got Alert
	testkit.WaitFor(t, wait, fmt.Sprintf("one active alert labelled %v in Alertmanager", labels), func() bool {
		list := am.Alerts(t, url.Values{"active": {"true"}}, map[string]string{"alertname": labels["alertname"], "tenant": labels["tenant"]})
		if len(list) != 1 {
			return false
		}
		got = list[0]
		return maps.Equal(got.Labels, labels) && got.Status.State == "active"
	})
	return got
}

// WaitGone waits until Alertmanager lists no active alert of the tenant.
func (am *Server) WaitGone(t *testing.T, tenant string) {
	t.Helper()
	testkit.WaitFor(t, wait, "no active alert of "+tenant+" in Alertmanager", func() bool {
		return len(am.Alerts(t, url.Values{"active": {"true"}}, map[string]string{"tenant": tenant})) == 0
	})
}

// output is the process's output, which it writes to a file of its own.
type output string

func (o output) String() string {
	b, err := os.ReadFile(string(o))
	if err != nil {
		return err.Error()
	}
	return string(b)
}
