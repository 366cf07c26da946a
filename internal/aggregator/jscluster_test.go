package aggregator_test

// The delivery guarantee on a 3-node JetStream cluster holding the install
// stream with 3 replicas: ingest (in process, connected to the three nodes)
// answers 200 only for events a quorum stored, 503 while there is none, and
// recovers by itself; the aggregator stores every acknowledged event once.
// The nodes are child processes of the test binary (role childNATSNode),
// killed with SIGKILL. CSPWATCH_TEST_FAULT_SEED replays the random delays.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

// jsClusterMessage is a distinct SyncML message of device dev, message n:
// an MSI install alert, an MSI Status result and a failed Exec status,
// three events.
func jsClusterMessage(dev, n int) []byte {
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
		`<Data>%d</Data></Item></Alert><Final/></SyncBody></SyncML>`, dev*100000+n, n, dev, []int{0, 1603, -2147023293, 3010}[n%4])
}

// jsClusterEventIDs returns the event ids ingest publishes for body: event
// ids are deterministic (tenant, device, session, message, position).
func jsClusterEventIDs(t *testing.T, body []byte) []string {
	t.Helper()
	msg, err := syncml.Parse(body)
	if err != nil {
		t.Fatalf("jsClusterEventIDs: %v", err)
	}
	var b normalize.Builder
	evs, _ := b.Build(msg, normalize.Meta{Tenant: ingest.InsecureTenant, ReceivedAt: time.Now()}, nil)
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = evs[i].EventID
	}
	return ids
}

// jsClusterIngest runs ingest in process, insecure (tenant default), on a
// NATS connection to urls, until the test ends, and returns its URL.
func jsClusterIngest(t *testing.T, urls string) string {
	t.Helper()
	cfg := ingest.DefaultConfig()
	cfg.Insecure = true
	cfg.PublishTimeout = 2 * time.Second
	cfg.RetryAfter = time.Second
	nc := natstest.ConnectURLs(t, urls, "jscluster-ingest")
	// Every 503 is logged at error level; the sender counts their causes.
	srv, err := ingest.New(cfg, nil, nc, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, nil, 10*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// jsClusterSender plays the MDM server: it posts device messages to ingest
// at a steady rate, each until it is answered 200 (resending after a 503 or
// no answer, as an MDM server retries), and records the event ids of every
// message answered 200 and the answers' statuses by phase.
type jsClusterSender struct {
	t      *testing.T
	url    string
	client *http.Client
	abort  context.Context

	mu        sync.Mutex
	acked     map[string]struct{}
	phase     string
	byPhase   map[string]map[int]int    // phase → status → answers
	causes    map[string]map[string]int // phase → cause of a 503 → answers
	noRetry   int                       // 503s without Retry-After
	phases    []string                  // in order
	transport int                       // attempts without an answer
	lastErr   error
	badBody   string // a 200 whose event count differs from the message's

	stopping chan struct{}
	done     sync.WaitGroup
}

const jsClusterWorkers = 8

func jsClusterStartSender(t *testing.T, url string, rate int) *jsClusterSender {
	t.Helper()
	abort, cancel := context.WithCancel(context.Background())
	s := &jsClusterSender{
		t: t, url: url + "/v1/syncml", abort: abort,
		client:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: jsClusterWorkers}},
		acked:   make(map[string]struct{}),
		byPhase: make(map[string]map[int]int), causes: make(map[string]map[string]int), stopping: make(chan struct{}),
	}
	s.setPhase("steady")
	next := make(chan int)
	s.done.Add(1)
	go func() { // the pacer
		defer s.done.Done()
		defer close(next)
		const tick = 10 * time.Millisecond
		tk := time.NewTicker(tick)
		defer tk.Stop()
		i, due := 0, 0.0
		for {
			select {
			case <-s.stopping:
				return
			case <-abort.Done():
				return
			case <-tk.C:
			}
			for due += float64(rate) * tick.Seconds(); due >= 1; due-- {
				select {
				case next <- i:
					i++
				case <-s.stopping:
					return
				case <-abort.Done():
					return
				}
			}
		}
	}()
	for range jsClusterWorkers {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			for i := range next {
				s.sendUntil200(i)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		s.stop()
		s.done.Wait()
	})
	return s
}

func (s *jsClusterSender) sendUntil200(i int) {
	body := jsClusterMessage(i%200, i)
	ids := jsClusterEventIDs(s.t, body)
	for s.abort.Err() == nil {
		status, res, retryAfter, err := s.post(body)
		s.mu.Lock()
		if err != nil {
			s.transport++
			s.lastErr = err
		} else {
			s.byPhase[s.phase][status]++
		}
		if status == http.StatusServiceUnavailable {
			// {"error":"publish_failed","detail":"<cause>: <error>"}
			var a struct{ Detail string }
			_ = json.Unmarshal(res, &a)
			cause, _, _ := strings.Cut(a.Detail, ":")
			s.causes[s.phase][cause]++
			if retryAfter == "" {
				s.noRetry++
			}
		}
		if status == http.StatusOK {
			for _, id := range ids {
				s.acked[id] = struct{}{}
			}
			var a struct{ Events int }
			if json.Unmarshal(res, &a) != nil || a.Events != len(ids) {
				s.badBody = string(res)
			}
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if err == nil && status != http.StatusServiceUnavailable {
			return // asserted against at the end; a resend would get the same
		}
		select { // as an MDM server retries, faster than Retry-After
		case <-time.After(100 * time.Millisecond):
		case <-s.abort.Done():
		}
	}
}

// post sends one message and returns the answer's status, body and
// Retry-After.
func (s *jsClusterSender) post(body []byte) (int, []byte, string, error) {
	req, err := http.NewRequestWithContext(s.abort, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/vnd.syncml.dm+xml")
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, "", err
	}
	return res.StatusCode, b, res.Header.Get("Retry-After"), nil
}

// setPhase names the phase the answers from now on are counted in.
func (s *jsClusterSender) setPhase(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase = p
	if s.byPhase[p] == nil {
		s.byPhase[p] = make(map[int]int)
		s.causes[p] = make(map[string]int)
		s.phases = append(s.phases, p)
	}
}

// count returns the answers of status in phase so far.
func (s *jsClusterSender) count(phase string, status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byPhase[phase][status]
}

func (s *jsClusterSender) ackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

// waitAcked waits until n more events than now are answered 200.
func (s *jsClusterSender) waitAcked(t *testing.T, n int, what string) time.Duration {
	t.Helper()
	start, from := time.Now(), s.ackedCount()
	testkit.WaitFor(t, 90*time.Second, what, func() bool { return s.ackedCount() >= from+n })
	return time.Since(start)
}

func (s *jsClusterSender) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stopping:
	default:
		close(s.stopping)
	}
}

// finish stops sending new messages, waits until every message handed out
// is answered 200 (90 s at most), logs the answers by phase, asserts that
// every answer was a 200 or a 503, and returns the acknowledged ids.
func (s *jsClusterSender) finish(t *testing.T) map[string]struct{} {
	t.Helper()
	s.stop()
	finished := make(chan struct{})
	go func() {
		s.done.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(90 * time.Second):
		t.Fatalf("messages not answered 200 90s after the last one was handed out")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.phases {
		var sts []int
		for st := range s.byPhase[p] {
			sts = append(sts, st)
		}
		slices.Sort(sts)
		line := ""
		for _, st := range sts {
			line += fmt.Sprintf(" %d:%d", st, s.byPhase[p][st])
			if st != http.StatusOK && st != http.StatusServiceUnavailable {
				t.Errorf("phase %s: %d answers %d; want only 200 and 503", p, s.byPhase[p][st], st)
			}
		}
		var cs []string
		for c, n := range s.causes[p] {
			cs = append(cs, fmt.Sprintf("%s %d", c, n))
		}
		slices.Sort(cs)
		if len(cs) > 0 {
			line += " (503 causes: " + strings.Join(cs, ", ") + ")"
		}
		t.Logf("answers while %s:%s", p, line)
	}
	if s.noRetry > 0 {
		t.Errorf("%d answers 503 without Retry-After", s.noRetry)
	}
	if s.transport > 0 {
		t.Errorf("%d requests got no answer (last: %v)", s.transport, s.lastErr)
	}
	if s.badBody != "" {
		t.Errorf("a 200 answered %s, not the message's event count", s.badBody)
	}
	acked := make(map[string]struct{}, len(s.acked))
	for id := range s.acked {
		acked[id] = struct{}{}
	}
	return acked
}

// jsClusterNodes starts the nodes of spec as child processes, all of them
// before waiting for any (a node's JetStream waits for a quorum of peers).
func jsClusterNodes(t *testing.T, spec natstest.ClusterSpec) []*childProc {
	t.Helper()
	nodes := make([]*childProc, len(spec.Nodes))
	for i := range nodes {
		nodes[i] = newChild(t, childNATSNode, spec.NodeEnv(i)...)
	}
	for _, n := range nodes {
		n.start()
	}
	return nodes
}

// The install stream with 3 replicas on a 3-node cluster; ingest in process
// connected to the three nodes under steady load; the aggregator in process.
// The stream leader is killed with SIGKILL and restarted after a random
// delay; then two nodes at once, so that the stream has no quorum: ingest
// answers 503 until they are back, then 200 again without anyone acting.
// Every event answered 200 is in ClickHouse exactly once.
func TestJSClusterLeaderKilledExactlyOnce(t *testing.T) {
	st := faultStore(t)
	rng := faultRand(t)
	spec := natstest.NewClusterSpec(t, 3)
	nodes := jsClusterNodes(t, spec)
	urls := spec.URLs()
	js, err := jetstream.New(natstest.ConnectURLs(t, urls, "jscluster-control"))
	if err != nil {
		t.Fatal(err)
	}
	scfg := bus.DefaultStreamConfig()
	scfg.Replicas = 3
	natstest.EnsureStream(t, js, scfg, 60*time.Second)
	leader := natstest.WaitStreamLeader(t, js, bus.StreamName, 30*time.Second)
	t.Logf("cluster %s up; stream %s with 3 replicas led by %s", urls, bus.StreamName, leader)

	r := startAggregator(t, "a", natstest.ConnectURLs(t, urls, "jscluster-aggregator"), st, faultConfig())
	testkit.WaitFor(t, 30*time.Second, "aggregator ready", r.agg.Ready)
	snd := jsClusterStartSender(t, jsClusterIngest(t, urls), 60) // 60 messages, 180 events a second
	snd.waitAcked(t, 300, "first events answered 200")

	// 1. The stream leader killed under load, restarted after a random delay.
	time.Sleep(between(rng, 200*time.Millisecond, time.Second))
	leader = natstest.WaitStreamLeader(t, js, bus.StreamName, 30*time.Second)
	li := spec.Index(leader)
	snd.setPhase("leader " + leader + " killed")
	before := snd.ackedCount()
	nodes[li].kill()
	down := between(rng, 500*time.Millisecond, 3*time.Second)
	time.Sleep(down)
	nodes[li].start()
	snd.setPhase("leader " + leader + " restarted")
	took := snd.waitAcked(t, 300, "events answered 200 after the leader's restart")
	t.Logf("SIGKILL stream leader %s with %d events answered 200; down %v; %v later 300 more answered 200; now led by %s",
		leader, before, down.Round(time.Millisecond), took.Round(time.Millisecond),
		natstest.WaitStreamLeader(t, js, bus.StreamName, 30*time.Second))

	// 2. Two nodes killed at once, the leader among them: no quorum.
	leader = natstest.WaitStreamLeader(t, js, bus.StreamName, 30*time.Second)
	li = spec.Index(leader)
	other := (li + 1 + rng.IntN(2)) % 3
	const noQuorum, settled = "without quorum", "without quorum, settled"
	snd.setPhase(noQuorum)
	before = snd.ackedCount()
	nodes[li].kill()
	nodes[other].kill()
	lost := time.Now()
	// Once the requests in flight at the kill have ended (PublishTimeout),
	// nothing can be answered 200: no server can store an event.
	time.Sleep(2500 * time.Millisecond)
	snd.setPhase(settled)
	testkit.WaitFor(t, 60*time.Second, "503s while the stream has no quorum", func() bool {
		return snd.count(settled, http.StatusServiceUnavailable) >= 5
	})
	time.Sleep(between(rng, 0, 2*time.Second))
	t.Logf("SIGKILL %s (leader) and %s with %d events answered 200: %d answers 503 and %d 200 over %v without quorum",
		leader, spec.Nodes[other].Name, before,
		snd.count(noQuorum, http.StatusServiceUnavailable)+snd.count(settled, http.StatusServiceUnavailable),
		snd.count(noQuorum, http.StatusOK)+snd.count(settled, http.StatusOK), time.Since(lost).Round(time.Millisecond))
	if n := snd.count(settled, http.StatusOK); n > 0 {
		t.Errorf("%d answers 200 more than 2.5s after the stream lost its quorum", n)
	}

	// 3. Both back: ingest answers 200 again, the aggregator drains, with no
	// operator.
	nodes[li].start()
	nodes[other].start()
	snd.setPhase("recovered")
	took = snd.waitAcked(t, 300, "events answered 200 once the quorum is back")
	t.Logf("quorum back: 300 more events answered 200 within %v of the restart (%v after it was lost)",
		took.Round(time.Millisecond), time.Since(lost).Round(time.Millisecond))

	acked := snd.finish(t)
	waitDrained(t, js, 60*time.Second)
	logAggregator(t, "a", r)
	checkAcked(t, st, acked)
}
