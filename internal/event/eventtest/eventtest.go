// Package eventtest builds install events for tests, field by field from
// event.Fields, so that a test iterating over the table covers a field as
// soon as it is added there.
package eventtest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
)

// Sample is an alert with most fields set, as a device sends them, and a
// product whose name needs escaping.
func Sample() event.Event {
	return event.Event{
		EventID:       "0123456789abcdef0123456789abcdef",
		SchemaVersion: 1,
		ReceivedAt:    time.Date(2026, 11, 23, 5, 22, 6, 120_000_000, time.UTC),
		Tenant:        "contoso",
		DeviceID:      "DESKTOP-1",
		SessionID:     "1A",
		MsgID:         "2",
		Kind:          event.KindAlert,
		CmdID:         4,
		Scope:         event.ScopeDevice,
		CSP:           event.CSPMSI,
		TargetID:      "AF9257BA-6BBD-4624-AA9B-0182D50292C3",
		Node:          "DownloadInstall",
		LocURI:        "./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{AF9257BA-6BBD-4624-AA9B-0182D50292C3}/DownloadInstall",
		Code:          -2147023293,
		CodeHex:       "0x80070643",
		Win32Code:     1603,
		CodeSpace:     "hresult",
		CodeName:      "ERROR_INSTALL_FAILURE",
		Outcome:       "failed",
		Category:      "prerequisite",
		AlertType:     "com.microsoft.mdm.win32csp_install", // normalize.InstallAlertType
		Mark:          "critical",
		OriginalError: "0x86000002",
		GenericAlert:  "1",
		Product:       &event.Product{Name: "Orca <x> & \"y\"", Version: "5.0"},
	}
}

// Minimal is the smallest event the decoder accepts: the fields it requires
// and nothing else.
func Minimal() event.Event {
	return event.Event{
		EventID:       "e1",
		SchemaVersion: event.SchemaVersion,
		ReceivedAt:    time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
		Tenant:        "t",
		DeviceID:      "d",
		Kind:          event.KindAlert,
	}
}

// Full is an event with every field of event.Fields set, each to a value of
// its own that none of Minimal's equals (but schema_version, which has one
// valid value), and that survives the wire: received_at has milliseconds
// only, kind is a valid kind.
func Full() event.Event {
	var e event.Event
	for i, f := range event.Fields {
		Set(&e, f, fullValue(i, f))
	}
	return e
}

// With is Minimal with field f set as in Full.
func With(f event.Field) event.Event {
	e := Minimal()
	for i, g := range event.Fields {
		if g == f {
			Set(&e, f, fullValue(i, f))
			return e
		}
	}
	panic("eventtest: no field " + f.Path())
}

func fullValue(i int, f event.Field) any {
	switch t := goField(f).Type; {
	case f.JSON == "kind" && f.Object == "":
		return event.KindInventory
	case f.JSON == "schema_version" && f.Object == "":
		return event.SchemaVersion
	case t == reflect.TypeFor[string]():
		return "v:" + f.Column
	case t == reflect.TypeFor[int64]():
		return int64(1000 + i)
	case t == reflect.TypeFor[bool]():
		return true
	case t == reflect.TypeFor[[]string]():
		return []string{"v:" + f.Column + "/1", "v:" + f.Column + "/2 <&>"}
	case t == reflect.TypeFor[time.Time]():
		return time.Date(2026, 11, 23, 5, 30, 1, 456_000_000, time.UTC)
	default:
		panic(fmt.Sprintf("eventtest: field %s has type %v, new to eventtest", f.Path(), t))
	}
}

// Get returns the value of f in e: a string, an int64, an int, a bool, a
// []string or a time.Time. A field of an object the event does not have is
// its zero value.
func Get(e *event.Event, f event.Field) any {
	sf := goField(f)
	v := reflect.ValueOf(e).Elem()
	if f.Object != "" {
		p := v.FieldByIndex(objectField(f.Object).Index)
		if p.IsNil() {
			return reflect.Zero(sf.Type).Interface()
		}
		v = p.Elem()
	}
	return v.FieldByIndex(sf.Index).Interface()
}

// Set sets f in e to v, giving e the object of f first if it has none.
func Set(e *event.Event, f event.Field, v any) {
	sf := goField(f)
	dst := reflect.ValueOf(e).Elem()
	if f.Object != "" {
		p := dst.FieldByIndex(objectField(f.Object).Index)
		if p.IsNil() {
			p.Set(reflect.New(p.Type().Elem()))
		}
		dst = p.Elem()
	}
	dst.FieldByIndex(sf.Index).Set(reflect.ValueOf(v))
}

// ClearObjects sets every nested object of e that holds only zero values
// to nil, as an event built field by field from stored columns has none.
func ClearObjects(e *event.Event) {
	v := reflect.ValueOf(e).Elem()
	for _, o := range event.Objects {
		p := v.FieldByIndex(objectField(o.Key).Index)
		if !p.IsNil() && p.Elem().IsZero() {
			p.SetZero()
		}
	}
}

// objectField is Event's pointer field holding the nested object key.
func objectField(key string) reflect.StructField {
	for sf := range reflect.TypeFor[event.Event]().Fields() {
		if name, _, _ := strings.Cut(sf.Tag.Get("json"), ","); name == key {
			return sf
		}
	}
	panic("eventtest: Event has no object " + key)
}

// goField finds the struct field of Event or of its object whose json tag
// names f.
func goField(f event.Field) reflect.StructField {
	t := reflect.TypeFor[event.Event]()
	if f.Object != "" {
		t = objectField(f.Object).Type.Elem()
	}
	for sf := range t.Fields() {
		if name, _, _ := strings.Cut(sf.Tag.Get("json"), ","); name == f.JSON {
			return sf
		}
	}
	panic(fmt.Sprintf("eventtest: %v has no field tagged json:%q", t, f.JSON))
}

// Diff describes how the list of names got differs from want: the names
// missing, those not expected, else the first that is out of place. It is
// "" when they are equal.
func Diff(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	var b strings.Builder
	if len(missing) > 0 {
		fmt.Fprintf(&b, "missing %v; ", missing)
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, "not expected %v; ", extra)
	}
	if b.Len() == 0 {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				fmt.Fprintf(&b, "at %d: %s, want %s; ", i, got[i], want[i])
				break
			}
		}
		if b.Len() == 0 && len(got) != len(want) {
			fmt.Fprintf(&b, "%d names, want %d (repeated names); ", len(got), len(want))
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return fmt.Sprintf("%swhole list %v", b.String(), got)
}
