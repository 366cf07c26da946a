package alerts

import (
	"math"
	"slices"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
)

// Detector turns per-bucket failed-attempt counts into alert transitions.
// It does no I/O and reads no clock: the same buckets in the same order give
// the same transitions, which is what lets replicas agree and a restarted
// replica rebuild its state by replaying history. It is not safe for
// concurrent use.
//
// The rule of a spike. Per key it keeps two EWMAs per bucket, bias-corrected
// for a young history: failed attempts (A) and the distinct devices they ran
// on (D). After WarmUp, a key fires when, in one bucket,
//
//	attempts > factor × max(A, floor)  and
//	devices  > device-factor × max(D, floor)  (device-factor: the factor unless set)  and
//	devices  ≥ min-devices,
//
// factor, floor and min-devices being the code's (Config.Overrides), A and
// D scaled up by how many times its usual volume the key's scope (product
// version; tenant) saw in the bucket (volumeRatio), and the failed
// attempts at least MinShare (code level: MinCodeShare) of those finished.
// So a
// cause that fails at a steady rate, however high, raises nothing (its
// baselines are its rate), and a few devices retrying in a loop raise
// attempts but not devices. While it is open the EWMAs are frozen (a spike
// does not become its own baseline); it stays open while attempts exceed
// resolve-factor × the baseline it fired against on min-devices devices, and
// resolves after Cooldown below that. A code-level key whose attempts come
// mostly (CodeShare) from product-level alerts already open for the same
// cause is held back, so one product's spike is one alert, or two when the
// code level is spiking on its own too. Severity: see Config.CriticalDevices.
// Memory is one small record per key seen recently; a key whose EWMAs have
// decayed to nothing is forgotten.
type Detector struct {
	cfg           Config
	rules         rules
	alpha         float64
	cooldownTicks int
	describe      func(codes.Space, int64) codes.Info
	warmTicks     int
	series        map[Key]*series
	next          time.Time // start of the next bucket to observe; zero before the first
	// weight is the EWMA's total weight of the buckets observed since the
	// first one with data: dividing by it removes the bias towards zero of an
	// EWMA started at zero, so a fresh fleet's steady failures are not a spike.
	weight      float64
	dataBuckets int
	// volume holds the EWMAs of finished and of requested attempts per scope
	// (a product version, a tenant), keyed by Key.volumeKey.
	volume map[Key][2]float64
}

// volumeRatio is how many times its usual volume a scope saw this bucket:
// cur over the bias-corrected EWMA v (weight as in observe), at least 1 (a
// quiet bucket does not lower a baseline), 1 when the scope has no history.
// A key's baselines are scaled by the larger of its scope's ratios of
// finished and of requested attempts: a rollout (many install commands at
// once) brings more of the usual failures, the fast ones (a command refused,
// a 404 to a Get) before the installs finish, and is not a spike of them.
func volumeRatio(v, weight float64, cur uint64) float64 {
	if weight <= 0 || v/weight < 1e-9 {
		return 1
	}
	return math.Max(1, float64(cur)/(v/weight))
}

type series struct {
	ewma  float64 // failed attempts per bucket
	devs  float64 // distinct devices per bucket
	open  *Alert
	quiet int // consecutive buckets below the resolve threshold while open
	held  bool
}

// NewDetector returns a detector for cfg, which must be valid. describe
// names codes (codes.Classify when nil).
func NewDetector(cfg Config, describe func(codes.Space, int64) codes.Info) *Detector {
	if describe == nil {
		describe = classify
	}
	ticks := int((cfg.Cooldown + cfg.Bucket - 1) / cfg.Bucket)
	return &Detector{
		cfg:           cfg,
		rules:         newRules(cfg),
		alpha:         1 - math.Exp2(-float64(cfg.Bucket)/float64(cfg.HalfLife)),
		cooldownTicks: max(ticks, 1),
		warmTicks:     int(cfg.WarmUp / cfg.Bucket),
		describe:      describe,
		series:        map[Key]*series{},
		volume:        map[Key][2]float64{},
	}
}

// Next is the start of the next bucket the detector expects; zero before it
// has observed any.
func (d *Detector) Next() time.Time { return d.next }

// Observe feeds the counts of the bucket starting at start (aligned to the
// bucket length) and returns the transitions it causes, in key order. A
// bucket at or before one already observed is ignored; buckets skipped since
// the last one count as empty, up to the window's length.
func (d *Detector) Observe(start time.Time, counts []Count) []Alert {
	start = start.UTC()
	if !d.next.IsZero() {
		if start.Before(d.next) {
			return nil
		}
		gap := start.Sub(d.next)
		if gap > d.cfg.Window {
			d.next = start.Add(-d.cfg.Window)
		}
	}
	var out []Alert
	for !d.next.IsZero() && d.next.Before(start) {
		out = append(out, d.observe(d.next, nil)...)
		d.next = d.next.Add(d.cfg.Bucket)
	}
	out = append(out, d.observe(start, counts)...)
	d.next = start.Add(d.cfg.Bucket)
	return out
}

func (d *Detector) observe(start time.Time, counts []Count) []Alert {
	if d.dataBuckets == 0 && len(counts) == 0 {
		return nil // nothing known yet: no baseline to learn or measure against
	}
	weight := d.weight
	warm := d.dataBuckets >= d.warmTicks && weight > 0
	d.weight += d.alpha * (1 - d.weight)
	d.dataBuckets++
	cur := make(map[Key]*Count, len(counts))
	// Volumes: every scope's finished attempts this bucket (0 when absent),
	// learnt whatever the alerts do; the ratio to their baseline scales the
	// keys' baselines (see volumeRatio).
	vol := map[Key][2]uint64{}
	for i := range counts {
		if c := &counts[i]; c.Key.isVolume() {
			vol[c.Key] = [2]uint64{c.Finished, c.Requested}
			if _, ok := d.volume[c.Key]; !ok {
				d.volume[c.Key] = [2]float64{}
			}
		}
	}
	ratios := make(map[Key]float64, len(d.volume))
	for k, v := range d.volume {
		n := vol[k]
		ratios[k] = math.Max(volumeRatio(v[0], weight, n[0]), volumeRatio(v[1], weight, n[1]))
		for j := range v {
			v[j] += d.alpha * (float64(n[j]) - v[j])
		}
		d.volume[k] = v
		if n == [2]uint64{} && v[0] < 1e-3 && v[1] < 1e-3 {
			delete(d.volume, k)
		}
	}
	for i := range counts {
		c := &counts[i]
		if c.Key.isVolume() {
			continue
		}
		if c.Key.Level == LevelProduct && (c.Key.Target == "" || c.Key.CSP == "") {
			continue // no target: the code level counts it
		}
		cur[c.Key] = c
		if d.series[c.Key] == nil {
			d.series[c.Key] = &series{}
		}
	}
	keys := make([]Key, 0, len(d.series))
	for k := range d.series {
		keys = append(keys, k)
	}
	// Product keys first, so that the code level sees which products are
	// open this bucket; then a fixed order, so replicas emit alike.
	slices.SortFunc(keys, func(a, b Key) int {
		if a.Level != b.Level {
			if a.Level == LevelProduct {
				return -1
			}
			return 1
		}
		return a.compare(b)
	})
	var covered map[Key]uint64 // code key → failed attempts under open product alerts
	var out []Alert
	for _, k := range keys {
		s := d.series[k]
		var c Count
		if p := cur[k]; p != nil {
			c = *p
		}
		if k.Level == LevelCode && covered == nil {
			covered = map[Key]uint64{}
			for pk, ps := range d.series {
				if pk.Level == LevelProduct && ps.open != nil {
					if p := cur[pk]; p != nil {
						covered[pk.codeKey()] += p.Attempts
					}
				}
			}
		}
		r := d.rules.lookup(k.Space, k.Code)
		f := float64(c.Attempts)
		s.held = false
		switch {
		case s.open != nil:
			a := s.open
			if !r.disabled && f > d.cfg.ResolveFactor*a.Baseline && c.Devices >= r.minDevices {
				s.quiet = 0
				a.Peak = max(a.Peak, c.Attempts)
				break
			}
			s.quiet++
			if s.quiet >= d.cooldownTicks {
				a.Status = Resolved
				a.ResolvedAt = start.Add(d.cfg.Bucket)
				a.Summary = a.summarise()
				out = append(out, *a)
				s.open, s.quiet = nil, 0
				s.learn(d.alpha, &c)
			}
		case r.disabled:
			s.learn(d.alpha, &c)
		default:
			var base, devBase float64
			if weight > 0 {
				ratio := ratios[k.volumeKey()]
				if ratio == 0 {
					ratio = 1
				}
				base, devBase = ratio*s.ewma/weight, ratio*s.devs/weight
			}
			base = math.Max(base, r.floor)
			devBase = math.Max(devBase, r.floor)
			minShare := d.cfg.MinShare
			if k.Level == LevelCode {
				minShare = d.cfg.MinCodeShare
			}
			share := f >= minShare*float64(c.Finished)
			devFactor := d.cfg.DeviceFactor
			if devFactor == 0 {
				devFactor = r.factor
			}
			if warm && share && f > r.factor*base && c.Devices >= r.minDevices && float64(c.Devices) > devFactor*devBase {
				if k.Level == LevelCode && float64(covered[k]) >= d.cfg.CodeShare*f {
					s.held = true // a product alert tells this spike; keep it out of the baseline too
					break
				}
				a := d.fire(k, &c, start, base, devBase, r.factor)
				s.open, s.quiet = a, 0
				out = append(out, *a)
				break
			}
			s.learn(d.alpha, &c)
		}
		if s.open == nil && !s.held && c.Attempts == 0 && s.ewma < 1e-3 && s.devs < 1e-3 {
			delete(d.series, k)
		}
	}
	return out
}

func (s *series) learn(alpha float64, c *Count) {
	s.ewma += alpha * (float64(c.Attempts) - s.ewma)
	s.devs += alpha * (float64(c.Devices) - s.devs)
}

func (d *Detector) fire(k Key, c *Count, start time.Time, base, devBase, factor float64) *Alert {
	info := d.describe(k.Space, k.Code)
	a := &Alert{
		ID:              alertID(k, start),
		Status:          Firing,
		Level:           k.Level,
		Tenant:          k.Tenant,
		CSP:             k.CSP,
		TargetID:        k.Target,
		ProductVersion:  k.Version,
		CodeSpace:       k.Space,
		Code:            k.Code,
		CodeHex:         codeHex(k.Space, k.Code),
		CodeName:        info.Name,
		CodeDescription: info.Description,
		Category:        string(info.Category),
		Advice:          info.Advice,
		CodeSource:      info.Source,
		Attempts:        c.Attempts,
		Failures:        c.Attempts,
		Devices:         c.Devices,
		Finished:        c.Finished,
		Peak:            c.Attempts,
		Baseline:        math.Round(base*1000) / 1000,
		DeviceBaseline:  math.Round(devBase*1000) / 1000,
		Factor:          factor,
		SampleDevices:   slices.Sorted(slices.Values(c.Samples)),
		FirstSeen:       start,
		BucketSeconds:   int(d.cfg.Bucket / time.Second),
		key:             k,
	}
	if c.Finished > 0 {
		a.Share = math.Round(float64(c.Attempts)/float64(c.Finished)*1000) / 1000
	}
	a.Severity = d.cfg.severity(a)
	if len(a.SampleDevices) > 3 {
		a.SampleDevices = a.SampleDevices[:3]
	}
	if a.SampleDevices == nil {
		a.SampleDevices = []string{}
	}
	if k.Level == LevelProduct {
		a.ProductName = c.ProductName
	}
	a.Summary = a.summarise()
	a.Query = detailQuery(a, d.cfg.lookback())
	return a
}

// Open returns a copy of the open alerts, in key order.
func (d *Detector) Open() []Alert {
	var out []Alert
	for _, s := range d.series {
		if s.open != nil {
			out = append(out, *s.open)
		}
	}
	slices.SortFunc(out, byKey)
	return out
}

// IsOpen reports whether k has an open alert, and its id.
func (d *Detector) IsOpen(k Key) (string, bool) {
	if s := d.series[k]; s != nil && s.open != nil {
		return s.open.ID, true
	}
	return "", false
}

// Adopt makes a the open alert of its key, replacing the detector's own: the
// shared state said another replica (or this one before a restart) fired it,
// and its id and baseline are the ones to resolve.
func (d *Detector) Adopt(a Alert) {
	k := keyFromAlert(&a)
	a.key = k
	s := d.series[k]
	if s == nil {
		s = &series{ewma: a.Baseline * d.weight, devs: a.DeviceBaseline * d.weight}
		d.series[k] = s
	}
	if s.open == nil {
		s.quiet = 0
	}
	a.Status = Firing
	s.open = &a
}

// Close forgets k's open alert without a transition: the shared state says
// it was resolved elsewhere.
func (d *Detector) Close(k Key) {
	if s := d.series[k]; s != nil {
		s.open, s.quiet = nil, 0
	}
}

// Baseline returns k's bias-corrected EWMA (before the floor), for tests
// and diagnostics.
func (d *Detector) Baseline(k Key) float64 {
	if s := d.series[k]; s != nil && d.weight > 0 {
		return s.ewma / d.weight
	}
	return 0
}

// classify is codes.Classify that answers an empty Info should the catalog
// panic: naming a code enriches an alert, and the events' own code_name and
// category stand in, so a catalog fault must not stop alerting.
func classify(s codes.Space, v int64) (info codes.Info) {
	defer func() {
		if recover() != nil {
			info = codes.Info{}
		}
	}()
	return codes.Classify(s, v)
}
