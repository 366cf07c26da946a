// Package prometheusrules tests the Prometheus alerting rules and the example
// configuration in this directory: promtool's own checks and unit tests
// (cspwatch-rules_test.yml), and checks against the code, so that the rules
// cannot silently rot: every metric and label value a rule selects is one the
// services export from their start, every runbook link has its README entry,
// and every rule has a firing and a quiet test case.
//
// The rules file is read by a small line-based reader, not a YAML parser
// (the module has none): one key per line, expr either on its line or as a
// "|" block. TestPromtoolCheckRules checks it finds as many rules as promtool.
package prometheusrules

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/alertmanager"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/testkit/externaltest"
)

const (
	rulesFile     = "cspwatch-rules.yml"
	rulesTestFile = "cspwatch-rules_test.yml"
	configFile    = "prometheus.yml"
	readme        = "../../README.md"
	runbookBase   = "https://github.com/cspwatch/cspwatch/blob/main/README.md"
)

// promtool runs promtool with args in this directory and returns its
// output; it fails t with the output when promtool does.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path := externaltest.Require(t, externaltest.Promtool)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckRules(t *testing.T) {
	out := promtool(t, "check", "rules", rulesFile)
	m := regexp.MustCompile(`SUCCESS: (\d+) rules found`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("promtool check rules: no rule count in\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	if got := len(readRules(t)); n != got {
		t.Fatalf("promtool finds %d rules, this test's reader %d: keep %s to one key per line", n, got, rulesFile)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	promtool(t, "test", "rules", rulesTestFile)
}

func TestPromtoolCheckConfig(t *testing.T) {
	promtool(t, "check", "config", configFile)
}

// rule is an alerting rule as the rules file spells it.
type rule struct {
	Alert       string
	Expr        string
	For         string
	Labels      map[string]string
	Annotations map[string]string
	Line        int
}

// readRules reads the alerting rules of rulesFile.
func readRules(t *testing.T) []rule {
	t.Helper()
	f, err := os.Open(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		rules   []*rule
		r       *rule
		keyCol  int    // column of the current rule's keys
		section string // labels, annotations, or expr (a block)
		secCol  int    // column of the section's key
	)
	sc := bufio.NewScanner(f)
	for no := 1; sc.Scan(); no++ {
		raw := sc.Text()
		text := strings.TrimSpace(raw)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		col := len(raw) - len(strings.TrimLeft(raw, " "))
		if strings.HasPrefix(text, "- alert:") {
			r = &rule{Alert: yamlScalar(t, no, strings.TrimPrefix(text, "- alert:")), Line: no,
				Labels: map[string]string{}, Annotations: map[string]string{}}
			rules = append(rules, r)
			keyCol, section = col+2, ""
			continue
		}
		if r == nil {
			continue
		}
		if col < keyCol {
			r = nil // the end of the rules, or a recording rule's turn
			continue
		}
		if section != "" && col > secCol {
			if section == "expr" {
				r.Expr += text + " "
				continue
			}
			k, v, ok := strings.Cut(text, ":")
			if !ok {
				t.Fatalf("%s:%d: want key: value", rulesFile, no)
			}
			m := r.Labels
			if section == "annotations" {
				m = r.Annotations
			}
			m[strings.TrimSpace(k)] = yamlScalar(t, no, v)
			continue
		}
		section = ""
		if col != keyCol {
			t.Fatalf("%s:%d: unexpected indentation", rulesFile, no)
		}
		k, v, ok := strings.Cut(text, ":")
		if !ok {
			t.Fatalf("%s:%d: want key: value", rulesFile, no)
		}
		v = strings.TrimSpace(v)
		switch k {
		case "expr":
			if v == "|" || v == ">" {
				section, secCol = "expr", col
			} else {
				r.Expr = yamlScalar(t, no, v)
			}
		case "for":
			r.For = yamlScalar(t, no, v)
		case "labels", "annotations":
			if v != "" {
				t.Fatalf("%s:%d: write %s as a block mapping", rulesFile, no, k)
			}
			section, secCol = k, col
		default:
			t.Fatalf("%s:%d: key %q unknown to this test's reader", rulesFile, no, k)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	out := make([]rule, len(rules))
	for i, r := range rules {
		r.Expr = strings.TrimSpace(r.Expr)
		out[i] = *r
	}
	if len(out) == 0 {
		t.Fatalf("no alerting rule in %s", rulesFile)
	}
	return out
}

// yamlScalar unquotes a plain, single- or double-quoted YAML scalar.
func yamlScalar(t *testing.T, no int, s string) string {
	t.Helper()
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, `"`):
		v, err := strconv.Unquote(s)
		if err != nil {
			t.Fatalf("%s:%d: %v", rulesFile, no, err)
		}
		return v
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			t.Fatalf("%s:%d: unterminated quote", rulesFile, no)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// Severity, summary, description and a runbook link to an entry of the
// README's Runbook section: on every rule, and a README entry for no other.
func TestRulesAnnotationsAndRunbook(t *testing.T) {
	entries := runbookEntries(t)
	rules := readRules(t)
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.Alert] {
			t.Errorf("%s:%d: alert %s twice", rulesFile, r.Line, r.Alert)
		}
		seen[r.Alert] = true
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if r.Annotations[a] == "" {
				t.Errorf("%s: no %s annotation", r.Alert, a)
			}
		}
		anchor := githubSlug(r.Alert)
		if want := runbookBase + "#" + anchor; r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
		}
		if !entries[anchor] {
			t.Errorf("%s: README.md has no \"### %s\" under \"## Runbook\"", r.Alert, r.Alert)
		}
	}
	for anchor := range entries {
		if !slices.ContainsFunc(rules, func(r rule) bool { return githubSlug(r.Alert) == anchor }) {
			t.Errorf("README.md Runbook entry #%s has no rule in %s", anchor, rulesFile)
		}
	}
}

// runbookEntries returns the anchors of the ### headings in the README's
// "## Runbook" section.
func runbookEntries(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]bool{}
	in, found, fence := false, false, false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		switch {
		case fence:
		case strings.HasPrefix(l, "## "):
			in = strings.TrimSpace(l[3:]) == "Runbook"
			found = found || in
		case in && strings.HasPrefix(l, "### "):
			entries[githubSlug(l[4:])] = true
		}
	}
	if !found {
		t.Fatal(`README.md has no "## Runbook" section`)
	}
	return entries
}

// githubSlug is the anchor GitHub gives a heading: lower case, spaces as
// hyphens, punctuation other than - and _ dropped.
func githubSlug(h string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteRune(c)
		case c == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Every rule has, in the promtool tests, a case where it fires and one where
// it does not.
func TestEveryRuleTestedFiringAndQuiet(t *testing.T) {
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	var alert string
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		text := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(text, "alertname:"):
			alert = strings.TrimSpace(strings.TrimPrefix(text, "alertname:"))
		case text == "exp_alerts: []":
			quiet[alert] = true
		case text == "exp_alerts:" && i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "- exp_labels:"):
			firing[alert] = true
		}
	}
	for _, r := range readRules(t) {
		if !firing[r.Alert] {
			t.Errorf("%s: no test case in %s where it fires", r.Alert, rulesTestFile)
		}
		if !quiet[r.Alert] {
			t.Errorf("%s: no test case in %s where it does not fire (exp_alerts: [])", r.Alert, rulesTestFile)
		}
	}
}

// series is one exported series: its sample name and labels.
type series struct {
	name   string
	labels map[string]string
}

// exportedSeries builds ingest's server, the aggregator and the spike
// detector's engine as cmd/ingest and cmd/aggregator do (the engine on the
// aggregator's registry), over an embedded NATS, and returns the series
// their registries export before any traffic.
func exportedSeries(t *testing.T) []series {
	t.Helper()
	ecfg := bus.DefaultEmbeddedConfig()
	ecfg.Port = -1
	ecfg.DataDir = t.TempDir()
	emb, err := bus.StartEmbedded(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	icfg := ingest.DefaultConfig()
	icfg.Insecure = true
	srv, err := ingest.New(icfg, nil, nc, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if _, err := aggregator.New(nc, nil, aggregator.DefaultConfig(), zerolog.Nop(), reg); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// An Alertmanager sink too: the resends series exist only for a sink
	// that resends. Nothing is posted: the engine is not run.
	am, err := alertmanager.New(alertmanager.Options{URLs: []string{"http://127.0.0.1:9/"}, Horizon: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alerts.NewEngine(alerts.EngineOptions{
		Config: alerts.DefaultConfig(), Source: alerts.ClickHouseSource{}, JetStream: js,
		Sinks: []alerts.Sink{nopSink{}, am}, Log: zerolog.Nop(), Registerer: reg,
	}); err != nil {
		t.Fatal(err)
	}

	var out []series
	for _, g := range []prometheus.Gatherer{srv.Registry(), reg} {
		mfs, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				names := []string{mf.GetName()}
				// The type's name, not its constant: the module requires
				// client_model only indirectly.
				switch mf.GetType().String() {
				case "HISTOGRAM":
					names = []string{mf.GetName() + "_bucket", mf.GetName() + "_sum", mf.GetName() + "_count"}
				case "SUMMARY":
					names = append(names, mf.GetName()+"_sum", mf.GetName()+"_count")
				}
				for _, n := range names {
					out = append(out, series{n, labels})
				}
			}
		}
	}
	return out
}

type nopSink struct{}

func (nopSink) Name() string                                { return "test" }
func (nopSink) Deliver(context.Context, alerts.Alert) error { return nil }

var (
	// grouping drops the label lists of by, without, on and ignoring.
	grouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	ranges   = regexp.MustCompile(`\[[^\]]*\]`)
	ident    = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	jobName  = regexp.MustCompile(`(?m)^\s*- job_name:\s*(\S+)\s*$`)

	promqlFuncs = []string{"sum", "max", "min", "avg", "count", "rate", "irate", "increase", "deriv", "delta",
		"histogram_quantile", "max_over_time", "min_over_time", "avg_over_time", "absent", "absent_over_time",
		"clamp_min", "clamp_max", "abs", "vector", "scalar", "time", "changes", "resets", "topk", "bottomk"}
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset"}
	// targetLabels are added by Prometheus at scrape (job, instance) or
	// belong to every histogram bucket (le).
	targetLabels = []string{"job", "instance", "le"}
)

// Every metric a rule selects is one the services export at start, with a
// series matching the selector's label matchers (job and instance aside),
// and every label a rule groups by is one of its metrics' labels. up, the
// one metric Prometheus makes, must select the scrape jobs of prometheus.yml.
func TestRulesUseExportedMetrics(t *testing.T) {
	exported := exportedSeries(t)
	byName := map[string][]series{}
	for _, s := range exported {
		byName[s.name] = append(byName[s.name], s)
	}
	cfg, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, m := range jobName.FindAllStringSubmatch(string(cfg), -1) {
		jobs = append(jobs, m[1])
	}

	for _, r := range readRules(t) {
		expr := r.Expr
		var groupLabels []string
		for _, m := range grouping.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(m[2], ",") {
				if l = strings.TrimSpace(l); l != "" {
					groupLabels = append(groupLabels, l)
				}
			}
		}
		expr = grouping.ReplaceAllString(expr, " ")
		expr = ranges.ReplaceAllString(expr, " ")
		metrics := 0
		exprLabels := map[string]bool{}
		for _, m := range ident.FindAllStringSubmatch(expr, -1) {
			name, sel, call := m[1], m[2], m[3] != ""
			switch {
			case call && sel == "":
				if !slices.Contains(promqlFuncs, name) {
					t.Errorf("%s: %s( is no function this test knows: a typo, or add it to promqlFuncs", r.Alert, name)
				}
				continue
			case slices.Contains(promqlKeywords, name) && sel == "":
				continue
			}
			metrics++
			matchers := matcher.FindAllStringSubmatch(sel, -1)
			if name == "up" {
				checkUp(t, r.Alert, matchers, jobs)
				continue
			}
			candidates := byName[name]
			if len(candidates) == 0 {
				t.Errorf("%s: metric %s is not exported by ingest, the aggregator or the spike detector", r.Alert, name)
				continue
			}
			for _, s := range candidates {
				for l := range s.labels {
					exprLabels[l] = true
				}
			}
			if !slices.ContainsFunc(candidates, func(s series) bool { return matches(t, r.Alert, s, matchers) }) {
				t.Errorf("%s: no series of %s matches %s at start (exported: %v)", r.Alert, name, sel, labelSets(candidates))
			}
		}
		if metrics == 0 {
			t.Errorf("%s: found no metric in %q", r.Alert, r.Expr)
		}
		for _, l := range groupLabels {
			if !exprLabels[l] && !slices.Contains(targetLabels, l) {
				t.Errorf("%s: groups by %s, a label none of its metrics has", r.Alert, l)
			}
		}
	}
}

// matches reports whether s satisfies the matchers, target labels aside.
func matches(t *testing.T, alert string, s series, matchers [][]string) bool {
	for _, m := range matchers {
		label, op, val := m[1], m[2], m[3]
		if slices.Contains(targetLabels, label) {
			continue
		}
		if !matchOne(t, alert, op, val, s.labels[label]) {
			return false
		}
	}
	return true
}

func matchOne(t *testing.T, alert, op, val, got string) bool {
	switch op {
	case "=":
		return got == val
	case "!=":
		return got != val
	}
	re, err := regexp.Compile("^(?:" + val + ")$")
	if err != nil {
		t.Fatalf("%s: matcher %q: %v", alert, val, err)
	}
	return re.MatchString(got) == (op == "=~")
}

// checkUp checks that up's job matcher selects exactly the cspwatch jobs of
// prometheus.yml.
func checkUp(t *testing.T, alert string, matchers [][]string, jobs []string) {
	var job []string
	for _, m := range matchers {
		if m[1] == "job" {
			job = m
		}
	}
	if job == nil {
		t.Errorf("%s: up without a job matcher would alert on every target", alert)
		return
	}
	for _, j := range jobs {
		if want := strings.HasPrefix(j, "cspwatch-"); matchOne(t, alert, job[2], job[3], j) != want {
			t.Errorf("%s: up{job%s%q} and scrape job %s of %s disagree", alert, job[2], job[3], j, configFile)
		}
	}
	for _, want := range []string{"cspwatch-ingest", "cspwatch-aggregator"} {
		if !slices.Contains(jobs, want) {
			t.Errorf("%s has no scrape job %s", configFile, want)
		}
	}
}

func labelSets(ss []series) []map[string]string {
	out := make([]map[string]string, len(ss))
	for i, s := range ss {
		out[i] = s.labels
	}
	return out
}
