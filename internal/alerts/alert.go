// Package alerts detects failure-code spikes in the install events stored in
// ClickHouse and delivers one alert per spike, whatever the number of
// aggregator replicas running it and across their restarts.
//
// How it works. Every replica reads each closed time bucket (default one
// minute) from ClickHouse, which holds every event exactly once, whereas the
// replicas' shared JetStream consumer gives each replica only part of them.
// Failures are counted per (tenant, csp, code) and per (tenant, csp, target,
// version, code). Detector, the pure part, keeps an EWMA baseline per key and
// turns bucket counts into firing and resolved transitions. Engine, the I/O
// part, feeds it, and claims each transition in a JetStream key-value bucket
// (create-if-absent, then compare-and-set on the revision) so that exactly one
// replica delivers it to the alert subject, the ClickHouse alerts table and
// the HTTP notifiers. At start the detector replays the trailing window from
// ClickHouse, which rebuilds its baselines and open alerts, and adopts the
// alerts the shared state says are open, so a restart mid-spike sends nothing
// twice.
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

// Level says which key an alert counts failures by.
type Level string

const (
	// LevelCode counts a code's failures across every product of a tenant and
	// CSP.
	LevelCode Level = "code"
	// LevelProduct counts a code's failures on one product version (target
	// and version).
	LevelProduct Level = "product"
)

// Status is an alert's state.
type Status string

const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// Key identifies what failures are counted by. Target and Version are empty
// at the code level; FACILITY_WIN32 HRESULTs are counted as their Win32 code
// in space win32, so that 0x80070643 and 1603 are one key.
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

// codeKey is k at the code level.
func (k Key) codeKey() Key {
	return Key{Level: LevelCode, Tenant: k.Tenant, CSP: k.CSP, Space: k.Space, Code: k.Code}
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

// Count is one key's failures in one bucket, as the ClickHouse query returns
// them.
type Count struct {
	Key      Key
	Failures uint64
	Devices  uint64
	// Samples are a few of the devices, in no particular order.
	Samples []string
	// ProductName, CodeName and Category come from the events (any non-empty
	// value among them).
	ProductName string
	CodeName    string
	Category    string
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
	// ProductVersion is the version the failing events carried, part of the
	// alert's key; when they carried none, the catalog's version of the
	// target, and VersionFromCatalog says so (the key's version is then "").
	ProductVersion     string `json:"product_version,omitempty"`
	VersionFromCatalog bool   `json:"product_version_from_catalog,omitempty"`

	CodeSpace       codes.Space `json:"code_space"`
	Code            int64       `json:"code"`
	CodeHex         string      `json:"code_hex,omitempty"`
	CodeName        string      `json:"code_name,omitempty"`
	CodeDescription string      `json:"code_description,omitempty"`
	Category        string      `json:"category,omitempty"`

	// Failures and Devices are the counts of the bucket that fired; Peak is
	// the highest bucket count while open. Baseline is the EWMA (or floor)
	// the spike was measured against, Factor the threshold that applied.
	Failures      uint64   `json:"failures"`
	Devices       uint64   `json:"devices"`
	Peak          uint64   `json:"peak"`
	Baseline      float64  `json:"baseline"`
	Factor        float64  `json:"factor"`
	SampleDevices []string `json:"sample_devices"`

	// FirstSeen is the start of the bucket the alert fired in; ResolvedAt the
	// end of the last bucket it was evaluated in before resolving.
	FirstSeen     time.Time `json:"first_seen"`
	ResolvedAt    time.Time `json:"resolved_at,omitzero"`
	BucketSeconds int       `json:"bucket_seconds"`

	Summary string `json:"summary"`
	// Query is the ClickHouse SQL that lists the failing events behind the
	// alert.
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

// codeLabel is "1603 ERROR_INSTALL_FAILURE" or "0x87D1041C NAME".
func (a *Alert) codeLabel() string {
	c := strconv.FormatInt(a.Code, 10)
	if a.CodeHex != "" {
		c = a.CodeHex
	}
	if a.CodeName != "" {
		c += " " + a.CodeName
	}
	return c
}

func (a *Alert) summarise() string {
	where := a.CSP
	if p := a.product(); p != "" {
		where += " " + p
	} else {
		where += " (all products)"
	}
	if a.Status == Resolved {
		return fmt.Sprintf("[%s] resolved: %s failures on %s back to normal (peak %d per %ds, baseline %.1f)",
			a.Tenant, a.codeLabel(), where, a.Peak, a.BucketSeconds, a.Baseline)
	}
	return fmt.Sprintf("[%s] %s failures spiking on %s: %d in %ds on %d devices, baseline %.1f",
		a.Tenant, a.codeLabel(), where, a.Failures, a.BucketSeconds, a.Devices, a.Baseline)
}

// detailQuery returns SQL listing the failed events behind the alert since
// one bucket before it fired, read as the detector counts them: device
// answers attributed to the server commands they answer
// (store.AttributedEvents), or a 404 to a Get would be missing.
func detailQuery(a *Alert) string {
	var b strings.Builder
	from := a.FirstSeen.Add(-time.Duration(a.BucketSeconds) * time.Second).UTC()
	since := "toDateTime(" + quote(from.Format("2006-01-02 15:04:05")) + ", 'UTC')"
	b.WriteString("SELECT received_at, device_id, target_id, product_name, product_version, code, code_hex, code_name, node, text\n")
	b.WriteString("FROM ")
	b.WriteString(store.AttributedSQL(since, "now() + 60"))
	b.WriteString("\nWHERE tenant = ")
	b.WriteString(quote(a.Tenant))
	b.WriteString(" AND csp = ")
	b.WriteString(quote(a.CSP))
	b.WriteString(" AND outcome = 'failed'\n  AND ")
	b.WriteString(spaceExpr)
	b.WriteString(" = ")
	b.WriteString(quote(string(a.CodeSpace)))
	b.WriteString(" AND ")
	b.WriteString(codeExpr)
	b.WriteString(" = ")
	b.WriteString(strconv.FormatInt(a.Code, 10))
	if a.Level == LevelProduct {
		b.WriteString("\n  AND target_id = ")
		b.WriteString(quote(a.TargetID))
		b.WriteString(" AND product_version = ")
		b.WriteString(quote(keyFromAlert(a).Version))
	}
	b.WriteString("\nORDER BY received_at DESC\nLIMIT 1000")
	return b.String()
}

// quote is a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
