// Package alerts detects spikes of failed install attempts in the events
// stored in ClickHouse and delivers one alert per spike, whatever the number
// of aggregator replicas running it and across their restarts.
//
// How it works. Every replica reads each closed time bucket (default one
// minute) from ClickHouse, which holds every event exactly once, whereas the
// replicas' shared JetStream consumer gives each replica only part of them.
// Failed install attempts (store.AttemptsQuery: one row per try of one
// target on one device, with one cause) and the distinct devices they ran
// on are counted per (tenant, cause) and per (tenant, csp, target, version,
// cause). Detector, the pure part, keeps EWMA baselines of both per key and
// turns bucket counts into firing and resolved transitions. Engine, the I/O
// part, feeds it, and claims each transition in a JetStream key-value bucket
// (create-if-absent, then compare-and-set on the revision) so that exactly one
// replica delivers it to the alert subject, the ClickHouse alerts table and
// the HTTP notifiers. At start the detector replays the trailing window from
// ClickHouse, which rebuilds its baselines and open alerts, and adopts the
// alerts the shared state says are open, so a restart mid-spike sends nothing
// twice.
//
// Layout. The detector (detector.go, with alert.go, config.go, override.go)
// does no I/O: counts in, transitions out. The engine schedules the buckets
// (engine.go), claims transitions in the shared state (claim.go, state.go)
// and drives the sinks (deliver.go); it reads ClickHouse only through store
// methods (source.go: store.AttemptCounts; history.go: the alerts table).
// sinks.go defines Sink and the two sinks every replica has (the alert
// subject, the alerts table is in history.go); the HTTP sinks are one
// package each under internal/alerts/sink, sharing one retrier
// (internal/alerts/sink/post), and internal/alerts/sink assembles them from
// a Config.
package alerts

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Level says which key an alert counts failed attempts by.
type Level string

const (
	// LevelCode counts a cause's failed attempts across every product (and
	// CSP) of a tenant.
	LevelCode Level = "code"
	// LevelProduct counts a cause's failed attempts on one product version
	// (csp, target and version).
	LevelProduct Level = "product"
)

// Severity says how urgent a firing alert is; see Config.CriticalDevices.
type Severity string

const (
	// Critical: many devices failed (Config.CriticalDevices), or most of
	// the attempts that finished on the key's scope failed with this cause
	// (Config.CriticalShare).
	Critical Severity = "critical"
	// Warning: a spike that is neither.
	Warning Severity = "warning"
)

// Status is an alert's state.
type Status string

const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// Key identifies what failed attempts are counted by: an attempt's cause
// (Space, Code) and, at the product level, its CSP, target and version. CSP,
// Target and Version are empty at the code level; FACILITY_WIN32 HRESULTs
// are counted as their Win32 code in space win32 (store.CauseCode), so that
// 0x80070643 and 1603 are one key.
type Key struct {
	Level   Level
	Tenant  string
	CSP     string
	Space   codes.Space
	Code    int64
	Target  string
	Version string
}

// Hash is a stable 128-bit hex digest of k; the shared state names the key
// "alert.<hash>".
func (k Key) Hash() string {
	h := sha256.New()
	for _, s := range []string{string(k.Level), k.Tenant, k.CSP, string(k.Space), strconv.FormatInt(k.Code, 10), k.Target, k.Version} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// volumeKey is the key of k's scope's volume record: the product version at
// the product level, the tenant at the code level (Count.Finished).
func (k Key) volumeKey() Key {
	return Key{Level: k.Level, Tenant: k.Tenant, CSP: k.CSP, Target: k.Target, Version: k.Version}
}

// isVolume reports whether a Count of k is a scope's volume record: no
// cause, only Finished.
func (k Key) isVolume() bool { return k.Space == "" }

// codeKey is k at the code level.
func (k Key) codeKey() Key {
	return Key{Level: LevelCode, Tenant: k.Tenant, Space: k.Space, Code: k.Code}
}

// compare orders keys by level, tenant, CSP, code space, code, target and
// version, for output in a stable order.
func (k Key) compare(o Key) int {
	return cmp.Or(
		cmp.Compare(k.Level, o.Level),
		cmp.Compare(k.Tenant, o.Tenant),
		cmp.Compare(k.CSP, o.CSP),
		cmp.Compare(k.Space, o.Space),
		cmp.Compare(k.Code, o.Code),
		cmp.Compare(k.Target, o.Target),
		cmp.Compare(k.Version, o.Version),
	)
}

func (k Key) less(o Key) bool { return k.compare(o) < 0 }

// byKey orders alerts by key (Key.compare).
func byKey(a, b Alert) int { return a.key.compare(b.key) }

// Count is one key's failed attempts in one bucket, as ClickHouseSource
// returns them.
type Count struct {
	Key Key
	// Attempts are the key's failed attempts that finished in the bucket;
	// Devices the distinct devices they ran on.
	Attempts uint64
	Devices  uint64
	// Finished is every attempt that finished (succeeded or failed, any
	// cause) in the bucket on the key's product version (product level) or
	// in its tenant (code level): the denominator of the failed share. 0
	// when unknown. Requested, on a scope's volume record only (a Count
	// with no cause), is the attempts requested (install command sent) in
	// the bucket on that scope.
	Finished  uint64
	Requested uint64
	// Samples are a few of the devices (ClickHouseSource: the first three
	// sorted).
	Samples []string
	// ProductName is the catalog's name of the target (product level), ""
	// when nothing names it.
	ProductName string
}

// Alert is what an on-call administrator receives, as JSON on the alert
// subject, as a row of the alerts table and in the notifiers' messages.
type Alert struct {
	// ID names one spike of one key: the key's hash and the start of the
	// bucket it fired in. Both transitions of the spike carry it.
	ID     string `json:"id"`
	Status Status `json:"status"`
	Level  Level  `json:"level"`

	Tenant   string `json:"tenant"`
	CSP      string `json:"csp"`
	TargetID string `json:"target_id,omitempty"`
	// ProductName is the product catalog's name of the target (schema/007),
	// else a name the failing events carried; empty when nothing names it.
	ProductName string `json:"product_name,omitempty"`
	// ProductVersion is the version the failed attempts were installing
	// (store.AttemptsQuery: the install command's, else a device's, else
	// the catalog's), part of the alert's key; when it is empty, the
	// catalog's version of the target at claim time, and VersionFromCatalog
	// says so (the key's version is then "").
	ProductVersion     string `json:"product_version,omitempty"`
	VersionFromCatalog bool   `json:"product_version_from_catalog,omitempty"`

	// Severity is decided when the alert fires (Config.CriticalDevices).
	Severity Severity `json:"severity"`

	// The cause: its code space and code (a FACILITY_WIN32 HRESULT as its
	// Win32 code), the code's 32-bit hex form (the HRESULT's, and for a
	// Win32 code the HRESULT_FROM_WIN32 form: 1603 is 0x80070643), and what
	// internal/codes says of it.
	CodeSpace       codes.Space `json:"code_space"`
	Code            int64       `json:"code"`
	CodeHex         string      `json:"code_hex,omitempty"`
	CodeName        string      `json:"code_name,omitempty"`
	CodeDescription string      `json:"code_description,omitempty"`
	Category        string      `json:"category,omitempty"`
	Advice          string      `json:"advice,omitempty"`
	CodeSource      string      `json:"code_source,omitempty"`

	// Attempts and Devices are the failed attempts and their distinct
	// devices in the bucket that fired; Finished the attempts that finished
	// on the key's scope in that bucket (Count.Finished) and Share
	// Attempts/Finished (0 when Finished is unknown). Peak is the highest
	// bucket's failed attempts while open. Baseline and DeviceBaseline are
	// the EWMAs (or floor) the spike was measured against, Factor the
	// threshold that applied. Failures repeats Attempts for readers of the
	// alert JSON written before attempts were counted.
	Attempts       uint64   `json:"attempts"`
	Failures       uint64   `json:"failures"`
	Devices        uint64   `json:"devices"`
	Finished       uint64   `json:"finished"`
	Share          float64  `json:"failed_share"`
	Peak           uint64   `json:"peak"`
	Baseline       float64  `json:"baseline"`
	DeviceBaseline float64  `json:"device_baseline"`
	Factor         float64  `json:"factor"`
	SampleDevices  []string `json:"sample_devices"`

	// FirstSeen is the start of the bucket the alert fired in; ResolvedAt the
	// end of the last bucket it was evaluated in before resolving.
	FirstSeen     time.Time `json:"first_seen"`
	ResolvedAt    time.Time `json:"resolved_at,omitzero"`
	BucketSeconds int       `json:"bucket_seconds"`

	Summary string `json:"summary"`
	// Query is the ClickHouse SQL that lists the failed attempts behind the
	// alert (store.AttemptsSQL with the window written in).
	Query string `json:"query"`

	key Key
}

// Key returns the key the alert counts.
func (a *Alert) Key() Key { return a.key }

// stateKey is the alert's name in the shared key-value bucket.
func stateKey(k Key) string { return "alert." + k.Hash() }

func alertID(k Key, firstSeen time.Time) string {
	return k.Hash() + "-" + strconv.FormatInt(firstSeen.Unix(), 10)
}

// keyFromAlert rebuilds the key from an alert decoded from the shared state.
// A version taken from the catalog is not the key's.
func keyFromAlert(a *Alert) Key {
	k := Key{Level: a.Level, Tenant: a.Tenant, CSP: a.CSP, Space: a.CodeSpace, Code: a.Code, Target: a.TargetID, Version: a.ProductVersion}
	if a.VersionFromCatalog {
		k.Version = ""
	}
	return k
}

// product is "Name Version", the target id marked unknown when nothing
// names it.
func (a *Alert) product() string {
	if a.Level != LevelProduct {
		return ""
	}
	name := a.ProductName
	if name == "" {
		name = store.UnknownLabel(a.TargetID)
	}
	if a.ProductVersion != "" {
		name += " " + a.ProductVersion
	}
	return name
}

// codeLabel is "1603 ERROR_INSTALL_FAILURE", or "0x87d1041c NAME" for an
// HRESULT.
func (a *Alert) codeLabel() string {
	c := strconv.FormatInt(a.Code, 10)
	if a.CodeSpace == codes.SpaceHRESULT && a.CodeHex != "" {
		c = a.CodeHex
	}
	if a.CodeName != "" {
		c += " " + a.CodeName
	}
	return c
}

// codeHex is a cause's 32-bit hex form: an HRESULT's own, a Win32 code's
// HRESULT_FROM_WIN32 (1603 is 0x80070643); "" for the other spaces, whose
// codes are plain numbers.
func codeHex(space codes.Space, code int64) string {
	switch {
	case codes.IsHRESULT(code):
		return string(codes.AppendHex(nil, code))
	case space == codes.SpaceWin32 && code > 0 && code <= 0xFFFF:
		return string(codes.AppendHex(nil, 0x80070000|code))
	}
	return ""
}

// Scope is what the alert counts over: "Name Version" at the product level
// (the target id marked unknown when nothing names it), "all products" at
// the code level.
func (a *Alert) Scope() string {
	if p := a.product(); p != "" {
		return p
	}
	return "all products"
}

func (a *Alert) summarise() string {
	if a.Status == Resolved {
		return fmt.Sprintf("[%s] resolved: %s: %s back to normal (peak %d failed attempts in %ds, baseline %.1f)",
			a.Tenant, a.Scope(), a.codeLabel(), a.Peak, a.BucketSeconds, a.Baseline)
	}
	return fmt.Sprintf("[%s] %s: %s: %s on %d devices (%d failed attempts in %ds), baseline %.1f",
		a.Tenant, a.Severity, a.Scope(), a.codeLabel(), a.Devices, a.Attempts, a.BucketSeconds, a.Baseline)
}

// detailQuery returns SQL listing the failed attempts behind the alert that
// finished since one bucket before it fired: store.AttemptsSQL (the
// detector's own rule) with its window written in, events read from
// lookback before that. It runs as printed, however old the alert; its
// cost is the attempts query's over that span.
func detailQuery(a *Alert, lookback time.Duration) string {
	from := a.FirstSeen.Add(-time.Duration(a.BucketSeconds) * time.Second).UTC()
	return detailSQL(a, store.AttemptsSQL(sqlTime(from), "now() + 60", sqlTime(from.Add(-lookback))), from)
}

// ViewQuery is the alert's details for a person at a terminal: the failing
// attempts read from the install_attempts view (schema/008), a few lines
// instead of Query's whole attempts rule. The view holds the last
// store.AttemptsViewDays days, so ok is false, and Query is what to run,
// once the alert is older than that.
func (a *Alert) ViewQuery(now time.Time) (q string, ok bool) {
	from := a.FirstSeen.Add(-time.Duration(a.BucketSeconds) * time.Second).UTC()
	if now.Sub(from) >= store.AttemptsViewDays*24*time.Hour {
		return "", false
	}
	return detailSQL(a, "install_attempts", from), true
}

func sqlTime(t time.Time) string {
	return "toDateTime(" + quote(t.UTC().Format("2006-01-02 15:04:05")) + ", 'UTC')"
}

// detailSQL selects the alert's failed attempts that finished since from,
// out of source (a table, a view or a parenthesised subquery).
func detailSQL(a *Alert, source string, from time.Time) string {
	var b strings.Builder
	b.WriteString("SELECT finished_at, device_id, product, version, csp, target_id, cause_space, cause_code, retries, requested_at, has_command, attempt_id\n")
	b.WriteString("FROM ")
	b.WriteString(source)
	b.WriteString("\nWHERE tenant = ")
	b.WriteString(quote(a.Tenant))
	b.WriteString(" AND outcome = 'failed' AND finished_at >= ")
	b.WriteString(sqlTime(from))
	b.WriteString("\n  AND cause_space = ")
	b.WriteString(quote(string(a.CodeSpace)))
	b.WriteString(" AND cause_code = ")
	b.WriteString(strconv.FormatInt(a.Code, 10))
	if a.Level == LevelProduct {
		k := keyFromAlert(a)
		b.WriteString("\n  AND csp = ")
		b.WriteString(quote(k.CSP))
		b.WriteString(" AND target_id = ")
		b.WriteString(quote(k.Target))
		b.WriteString(" AND version = ")
		b.WriteString(quote(k.Version))
	}
	b.WriteString("\nORDER BY finished_at DESC, device_id\nLIMIT 1000")
	return b.String()
}

// quote is a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// Facts are the alert's fields as label/value pairs, in the order chat
// messages and Alertmanager's description show them.
func (a *Alert) Facts() [][2]string {
	code := strconv.FormatInt(a.Code, 10)
	if a.CodeHex != "" && a.CodeSpace != codes.SpaceHRESULT {
		code += " (" + a.CodeHex + ")"
	} else if a.CodeHex != "" {
		code = a.CodeHex
	}
	if a.CodeName != "" {
		code += " " + a.CodeName
	}
	status := string(a.Status)
	if a.Status == Firing && a.Severity != "" {
		status += ", " + string(a.Severity)
	}
	out := [][2]string{
		{"Status", status},
		{"Tenant", a.Tenant},
	}
	if p := a.product(); p != "" {
		out = append(out, [2]string{"Product", p + " (" + a.CSP + ")"})
	} else {
		out = append(out, [2]string{"Product", "all products (code level)"})
	}
	out = append(out,
		[2]string{"Cause", code + " [" + string(a.CodeSpace) + "]"},
		[2]string{"Category", a.Category},
		[2]string{"Devices", fmt.Sprintf("%d (baseline %.1f), e.g. %s", a.Devices, a.DeviceBaseline, strings.Join(a.SampleDevices, ", "))},
		[2]string{"Failed attempts", fmt.Sprintf("%d in %ds (peak %d), baseline %.1f, threshold %.1f×", a.Attempts, a.BucketSeconds, a.Peak, a.Baseline, a.Factor)},
		[2]string{"First seen", a.FirstSeen.UTC().Format(time.RFC3339)},
	)
	if !a.ResolvedAt.IsZero() {
		out = append(out, [2]string{"Resolved", a.ResolvedAt.UTC().Format(time.RFC3339)})
	}
	return out
}

// Cause is the alert's code space and code, "win32 1603", an HRESULT in
// hex: "hresult 0x87d1041c".
func (a *Alert) Cause() string {
	c := strconv.FormatInt(a.Code, 10)
	if a.CodeSpace == codes.SpaceHRESULT && a.CodeHex != "" {
		c = a.CodeHex
	}
	return string(a.CodeSpace) + " " + c
}
