package alerts

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
)

// This file is a small timeline harness in the manner of alertmanager's
// acceptance tests: a test pushes failures at bucket indexes (At), states the
// transitions it wants within bucket ranges (Between), and the harness runs
// the detector over the timeline and checks that every wanted transition
// happened exactly once in its range and that nothing else was emitted.

var t0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// failures is one product version's failed attempts of one cause in one
// bucket: count attempts on devs devices. Devices are named <device>-<n>, so
// that two specs with the same device prefix share devices, as real fleets
// do. finished, when set, is the attempts that finished on the product
// version in the bucket, these included; 0 leaves it unknown.
type failures struct {
	tenant, csp  string
	space        codes.Space
	code         int64
	target, ver  string
	name         string
	count, devs  int
	device       string
	deviceOffset int
	finished     int
}

func fail(target, ver string, space codes.Space, code int64, count, devs int) failures {
	return failures{tenant: "contoso", csp: "EnterpriseDesktopAppManagement", space: space, code: code,
		target: target, ver: ver, name: "Product " + target, count: count, devs: devs, device: "dev-" + target}
}

func (f failures) devices() []string {
	out := make([]string, f.devs)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", f.device, f.deviceOffset+i)
	}
	return out
}

// counts turns specs into the two levels of counts ClickHouseSource
// returns: attempts summed, devices as the size of the union, finished
// summed per product version (product level) and tenant (code level).
func counts(specs []failures) []Count {
	type agg struct {
		c    Count
		devs map[string]bool
	}
	m := map[Key]*agg{}
	add := func(k Key, f failures) {
		a := m[k]
		if a == nil {
			a = &agg{c: Count{Key: k}, devs: map[string]bool{}}
			if k.Level == LevelProduct {
				a.c.ProductName = f.name
			}
			m[k] = a
		}
		a.c.Attempts += uint64(f.count)
		for _, d := range f.devices() {
			a.devs[d] = true
		}
	}
	for _, f := range specs {
		if f.count == 0 {
			continue
		}
		pk := Key{Level: LevelProduct, Tenant: f.tenant, CSP: f.csp, Space: f.space, Code: f.code, Target: f.target, Version: f.ver}
		add(pk, f)
		add(pk.codeKey(), f)
	}
	finished := map[Key]uint64{}
	for _, f := range specs {
		pk := Key{Level: LevelProduct, Tenant: f.tenant, CSP: f.csp, Target: f.target, Version: f.ver}
		finished[pk] += uint64(f.finished)
		finished[Key{Level: LevelCode, Tenant: f.tenant}] += uint64(f.finished)
	}
	var out []Count
	for _, a := range m {
		a.c.Devices = uint64(len(a.devs))
		scope := a.c.Key
		scope.Space, scope.Code = "", 0
		a.c.Finished = finished[scope]
		devs := make([]string, 0, len(a.devs))
		for d := range a.devs {
			devs = append(devs, d)
		}
		sort.Strings(devs)
		a.c.Samples = devs[:min(3, len(devs))]
		out = append(out, a.c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.less(out[j].Key) })
	return out
}

// match describes a wanted transition.
type match struct {
	status  Status
	level   Level
	code    int64
	target  string
	minDevs uint64
	devices []string // every sample device must be one of these
}

func (m match) String() string {
	return fmt.Sprintf("%s %s code %d target %q", m.status, m.level, m.code, m.target)
}

func (m match) matches(a Alert) bool {
	if a.Status != m.status || a.Level != m.level || a.Code != m.code || a.TargetID != m.target || a.Devices < m.minDevs {
		return false
	}
	for _, d := range a.SampleDevices {
		if m.devices != nil && !slices.Contains(m.devices, d) {
			return false
		}
	}
	return true
}

func firing(level Level, code int64, target string) match {
	return match{status: Firing, level: level, code: code, target: target}
}

func resolved(level Level, code int64, target string) match {
	return match{status: Resolved, level: level, code: code, target: target}
}

type interval struct{ from, to int }

// At is one bucket; Between an inclusive range of buckets.
func At(i int) interval            { return interval{i, i} }
func Between(a, b int) interval    { return interval{a, b} }
func (iv interval) String() string { return fmt.Sprintf("[%d,%d]", iv.from, iv.to) }

type want struct {
	when interval
	m    match
}

type emitted struct {
	at int
	a  Alert
}

type timeline struct {
	t       *testing.T
	cfg     Config
	buckets int
	pushes  map[int][]failures
	bg      []func(i int) []failures
	wants   []want
	made    map[int][]Count
}

func newTimeline(t *testing.T, cfg Config, buckets int) *timeline {
	return &timeline{t: t, cfg: cfg, buckets: buckets, pushes: map[int][]failures{}}
}

// Push adds failures in the buckets of iv.
func (tl *timeline) Push(iv interval, f ...failures) {
	for i := iv.from; i <= iv.to; i++ {
		tl.pushes[i] = append(tl.pushes[i], f...)
	}
}

// Background adds failures made per bucket by gen.
func (tl *timeline) Background(gen func(i int) []failures) { tl.bg = append(tl.bg, gen) }

// Want states a transition that must happen exactly once within iv.
func (tl *timeline) Want(iv interval, m match) { tl.wants = append(tl.wants, want{iv, m}) }

// bucket returns bucket i's counts, made once so that a replay sees the
// same noise.
func (tl *timeline) bucket(i int) []Count {
	if c, ok := tl.made[i]; ok {
		return c
	}
	if tl.made == nil {
		tl.made = map[int][]Count{}
	}
	var specs []failures
	for _, g := range tl.bg {
		specs = append(specs, g(i)...)
	}
	tl.made[i] = counts(append(specs, tl.pushes[i]...))
	return tl.made[i]
}

// Run feeds the timeline to d (a new detector when nil) and checks the wants.
func (tl *timeline) Run(d *Detector) []emitted {
	tl.t.Helper()
	if d == nil {
		d = NewDetector(tl.cfg, testCatalog)
	}
	var got []emitted
	for i := range tl.buckets {
		for _, a := range d.Observe(t0.Add(time.Duration(i)*tl.cfg.Bucket), tl.bucket(i)) {
			got = append(got, emitted{i, a})
		}
	}
	tl.check(got)
	return got
}

func (tl *timeline) check(got []emitted) {
	tl.t.Helper()
	used := make([]bool, len(got))
	for _, w := range tl.wants {
		n := 0
		for j, e := range got {
			if e.at >= w.when.from && e.at <= w.when.to && w.m.matches(e.a) {
				n++
				used[j] = true
			}
		}
		if n != 1 {
			tl.t.Errorf("want exactly one %v in %v, got %d", w.m, w.when, n)
		}
	}
	for j, e := range got {
		if !used[j] {
			tl.t.Errorf("unexpected at bucket %d: %s", e.at, describe(e.a))
		}
	}
	if tl.t.Failed() {
		var b strings.Builder
		for _, e := range got {
			fmt.Fprintf(&b, "  %3d %s\n", e.at, describe(e.a))
		}
		tl.t.Logf("emitted:\n%s", b.String())
	}
}

func describe(a Alert) string {
	return fmt.Sprintf("%s %s %s code %d target %q devices %d attempts %d baseline %.2f/%.2f", a.Status, a.Severity, a.Level, a.Code, a.TargetID, a.Devices, a.Attempts, a.Baseline, a.DeviceBaseline)
}

// testCatalog stands in for internal/codes so the detector's naming is
// checked without depending on the catalog's wording.
func testCatalog(s codes.Space, v int64) codes.Info {
	if s == codes.SpaceWin32 && v == 1603 {
		return codes.Info{Space: s, Value: v, Name: "ERROR_INSTALL_FAILURE", Description: "Fatal error during installation.", Category: codes.CatInstaller,
			Advice: "Read the verbose MSI log.", Source: "Windows Installer error codes", Known: true}
	}
	return codes.Info{Space: s, Value: v}
}

// background is a steady, noisy fleet: MSI products failing now and then
// with the usual causes, and Office failing 17002 at a high steady rate,
// counted in failed attempts. Noise is binomial from a fixed seed, so every
// run is the same.
func background(seed uint64) func(i int) []failures {
	rnd := rand.New(rand.NewPCG(seed, seed))
	binom := func(n int, p float64) int {
		k := 0
		for range n {
			if rnd.Float64() < p {
				k++
			}
		}
		return k
	}
	return func(i int) []failures {
		var out []failures
		for p := range 30 {
			target := fmt.Sprintf("{P%02d}", p)
			for _, code := range []int64{1603, 1618, 1605} {
				n := binom(20, 0.03) // about 0.6 per bucket
				if n == 0 {
					continue
				}
				f := fail(target, "1.0", codes.SpaceWin32, code, n, min(n, 2))
				f.deviceOffset = rnd.IntN(200)
				out = append(out, f)
			}
		}
		n := binom(100, 0.4) // about 40 per bucket
		o := failures{tenant: "contoso", csp: "Office", space: codes.SpaceOfficeStatus, code: 17002,
			target: "OFFICE", ver: "16.0", name: "Microsoft 365 Apps", count: n, devs: max(n/2, 1), device: "office", deviceOffset: rnd.IntN(500)}
		return append(out, o)
	}
}

func testConfig() Config {
	c := DefaultConfig()
	c.Replica = "test"
	return c
}

func TestTimeline(t *testing.T) {
	spikeDevices := fail("{BAD}", "2.1", codes.SpaceWin32, 1603, 40, 25).devices()
	tests := []struct {
		name  string
		setup func(tl *timeline)
	}{
		{"steady background fires nothing", func(tl *timeline) {
			tl.Background(background(1))
		}},
		{"steady background from the first bucket fires nothing (warm-up, bias correction)", func(tl *timeline) {
			tl.Background(background(2))
			tl.Push(Between(0, 239), fail("{HIGH}", "3.0", codes.SpaceWin32, 1618, 60, 30))
		}},
		{"1603 spike on one product version fires once at product level, then resolves", func(tl *timeline) {
			tl.Background(background(3))
			tl.Push(Between(120, 129), fail("{BAD}", "2.1", codes.SpaceWin32, 1603, 40, 25))
			m := firing(LevelProduct, 1603, "{BAD}")
			m.minDevs, m.devices = 25, spikeDevices
			tl.Want(Between(120, 121), m)
			tl.Want(Between(130, 136), resolved(LevelProduct, 1603, "{BAD}"))
		}},
		{"one code spiking across many products fires at code level", func(tl *timeline) {
			tl.Background(background(4))
			var many []failures
			for p := range 20 {
				f := fail(fmt.Sprintf("{M%02d}", p), "1.0", codes.SpaceWin32, 1620, 3, 3) // under min devices per product
				many = append(many, f)
			}
			tl.Push(Between(150, 154), many...)
			tl.Want(Between(150, 151), firing(LevelCode, 1620, ""))
			tl.Want(Between(155, 161), resolved(LevelCode, 1620, ""))
		}},
		{"a spike on few devices does not fire", func(tl *timeline) {
			tl.Background(background(5))
			tl.Push(Between(120, 125), fail("{FEW}", "1.0", codes.SpaceWin32, 1603, 50, 2))
		}},
		{"a disabled code never fires", func(tl *timeline) {
			tl.Background(background(6))
			tl.Push(Between(120, 125), fail("{RB}", "1.0", codes.SpaceWin32, 3010, 80, 40))
		}},
		{"an intermittent spike stays one alert (cooldown)", func(tl *timeline) {
			tl.Background(background(7))
			for _, b := range []int{100, 101, 103, 105, 106, 108} { // gaps shorter than the cooldown
				tl.Push(At(b), fail("{FLAP}", "4.0", codes.SpaceWin32, 1605, 30, 20))
			}
			tl.Want(At(100), firing(LevelProduct, 1605, "{FLAP}"))
			tl.Want(At(113), resolved(LevelProduct, 1605, "{FLAP}"))
		}},
		{"a slow ramp becomes the baseline and does not fire", func(tl *timeline) {
			tl.Background(background(8))
			tl.Background(func(i int) []failures {
				n := i / 12 // +1 failure per bucket every 12 minutes
				return []failures{fail("{RAMP}", "1.0", codes.SpaceWin32, 1612, n, min(n, 30))}
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTimeline(t, testConfig(), 240)
			tt.setup(tl)
			tl.Run(nil)
		})
	}
}

func TestFiringAlertContent(t *testing.T) {
	tl := newTimeline(t, testConfig(), 125)
	tl.Background(background(3))
	spike := fail("{BAD}", "2.1", codes.SpaceWin32, 1603, 40, 25)
	spike.finished = 60
	tl.Push(Between(120, 124), spike)
	m := firing(LevelProduct, 1603, "{BAD}")
	tl.Want(At(120), m)
	got := tl.Run(nil)
	if len(got) != 1 {
		t.Fatalf("got %d transitions", len(got))
	}
	a := got[0].a
	checks := []struct {
		name      string
		got, want any
	}{
		{"tenant", a.Tenant, "contoso"},
		{"csp", a.CSP, "EnterpriseDesktopAppManagement"},
		{"product name", a.ProductName, "Product {BAD}"},
		{"product version", a.ProductVersion, "2.1"},
		{"code space", a.CodeSpace, codes.SpaceWin32},
		{"code", a.Code, int64(1603)},
		{"code hex (HRESULT_FROM_WIN32)", a.CodeHex, "0x80070643"},
		{"code name", a.CodeName, "ERROR_INSTALL_FAILURE"},
		{"description", a.CodeDescription, "Fatal error during installation."},
		{"category", a.Category, "installer"},
		{"advice", a.Advice, "Read the verbose MSI log."},
		{"code source", a.CodeSource, "Windows Installer error codes"},
		{"attempts", a.Attempts, uint64(40)},
		{"failures (the attempts, for older readers)", a.Failures, uint64(40)},
		{"devices", a.Devices, uint64(25)},
		{"finished", a.Finished, uint64(60)},
		{"failed share", a.Share, 0.667},
		{"severity (25 devices)", a.Severity, Critical},
		{"baseline (floor)", a.Baseline, 1.0},
		{"device baseline (floor)", a.DeviceBaseline, 1.0},
		{"samples", a.SampleDevices, []string{"dev-{BAD}-0", "dev-{BAD}-1", "dev-{BAD}-10"}},
		{"first seen", a.FirstSeen, t0.Add(120 * time.Minute)},
		{"factor (1603 override)", a.Factor, 2.0},
		{"id", a.ID, alertID(a.key, a.FirstSeen)},
		{"summary", a.Summary, "[contoso] critical: Product {BAD} 2.1: 1603 ERROR_INSTALL_FAILURE on 25 devices (40 failed attempts in 60s), baseline 1.0"},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, s := range []string{"tenant = 'contoso'", "outcome = 'failed'", "cause_space = 'win32' AND cause_code = 1603",
		"csp = 'EnterpriseDesktopAppManagement' AND target_id = '{BAD}' AND version = '2.1'",
		"finished_at >= toDateTime('2026-11-23 07:59:00', 'UTC')", "toDateTime('2026-11-16 07:59:00', 'UTC')"} {
		if !strings.Contains(a.Query, s) {
			t.Errorf("query lacks %q:\n%s", s, a.Query)
		}
	}
}

// The severity rule: critical from CriticalDevices failed devices or from
// CriticalShare of the finished attempts failed, warning otherwise; at the
// code level the share is of the tenant's finished attempts.
func TestSeverity(t *testing.T) {
	tests := []struct {
		name     string
		devs     int
		finished int
		want     Severity
	}{
		{"few devices, small share: warning", 10, 100, Warning},
		{"many devices: critical", 25, 200, Critical},
		{"half the attempts failed: critical", 10, 20, Critical},
		{"share unknown, few devices: warning", 10, 0, Warning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTimeline(t, testConfig(), 31)
			f := fail("{SEV}", "1.0", codes.SpaceWin32, 1618, tt.devs, tt.devs)
			f.finished = tt.finished
			tl.Push(At(30), f)
			tl.Push(Between(0, 30), fail("{CALM}", "1.0", codes.SpaceWin32, 1605, 1, 1)) // data from bucket 0: warm at 30
			m := firing(LevelProduct, 1618, "{SEV}")
			tl.Want(At(30), m)
			got := tl.Run(nil)
			for _, e := range got {
				if e.a.Level == LevelProduct && e.a.Severity != tt.want {
					t.Errorf("severity %s (devices %d, share %v), want %s", e.a.Severity, e.a.Devices, e.a.Share, tt.want)
				}
			}
		})
	}
}

// TestReplayRebuildsState checks what a restart relies on: a detector that
// replays the same buckets reaches the same open alerts and baselines.
func TestReplayRebuildsState(t *testing.T) {
	tl := newTimeline(t, testConfig(), 125)
	tl.Background(background(9))
	tl.Push(Between(120, 124), fail("{BAD}", "2.1", codes.SpaceWin32, 1603, 40, 25))
	tl.Want(At(120), firing(LevelProduct, 1603, "{BAD}"))
	a := NewDetector(tl.cfg, testCatalog)
	tl.Run(a)
	b := NewDetector(tl.cfg, testCatalog)
	for i := range tl.buckets {
		b.Observe(t0.Add(time.Duration(i)*time.Minute), tl.bucket(i))
	}
	if fmt.Sprint(a.Open()) != fmt.Sprint(b.Open()) || len(a.Open()) != 1 {
		t.Fatalf("open alerts differ after replay:\n%v\n%v", a.Open(), b.Open())
	}
	k := Key{Level: LevelCode, Tenant: "contoso", Space: codes.SpaceOfficeStatus, Code: 17002}
	if a.Baseline(k) != b.Baseline(k) || a.Baseline(k) < 30 {
		t.Fatalf("baseline %v vs %v, want equal and near 40", a.Baseline(k), b.Baseline(k))
	}
}

// TestGapCountsAsEmpty: buckets not observed (the detector paused) decay the
// baseline as empty buckets would.
func TestGapCountsAsEmpty(t *testing.T) {
	cfg := testConfig()
	f := counts([]failures{fail("{G}", "1", codes.SpaceWin32, 1618, 10, 5)})
	a, b := NewDetector(cfg, testCatalog), NewDetector(cfg, testCatalog)
	for i := range 60 {
		a.Observe(t0.Add(time.Duration(i)*time.Minute), f)
		b.Observe(t0.Add(time.Duration(i)*time.Minute), f)
	}
	for i := 60; i < 90; i++ {
		a.Observe(t0.Add(time.Duration(i)*time.Minute), nil)
	}
	a.Observe(t0.Add(90*time.Minute), f)
	b.Observe(t0.Add(90*time.Minute), f)
	k := f[0].Key
	if a.Baseline(k) != b.Baseline(k) {
		t.Fatalf("baseline after a gap %v, after empty buckets %v", b.Baseline(k), a.Baseline(k))
	}
	if got := b.Observe(t0.Add(10*time.Minute), f); got != nil || b.Next() != t0.Add(91*time.Minute) {
		t.Fatalf("an old bucket was observed: %v, next %v", got, b.Next())
	}
}
