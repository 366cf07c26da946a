package event_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/event/eventtest"
)

// tags are the json tags of typ's fields as json:"..." says them: name, or
// name,omitempty.
func tags(t *testing.T, typ reflect.Type) (out []string) {
	t.Helper()
	for sf := range typ.Fields() {
		tag := sf.Tag.Get("json")
		if name, opts, _ := strings.Cut(tag, ","); name == "" || name == "-" || opts != "" && opts != "omitempty" {
			t.Errorf("%v.%s: json tag %q, want a name and at most omitempty", typ, sf.Name, tag)
		}
		out = append(out, tag)
	}
	return out
}

// objectType is the struct type of the nested object key: the element of
// Event's pointer field tagged json:"key,omitempty".
func objectType(t *testing.T, key string) reflect.Type {
	t.Helper()
	for sf := range reflect.TypeFor[event.Event]().Fields() {
		if sf.Tag.Get("json") == key+",omitempty" {
			if sf.Type.Kind() != reflect.Pointer || sf.Type.Elem().Kind() != reflect.Struct {
				t.Fatalf("Event.%s (object %s) is a %v, want a pointer to a struct", sf.Name, key, sf.Type)
			}
			return sf.Type.Elem()
		}
	}
	t.Fatalf("Event has no field tagged json:%q", key+",omitempty")
	return nil
}

// TestFieldsMatchStruct: the table lists the json tags of Event, then those
// of each nested object in the order of event.Objects, in declaration order
// (which is encoding/json's order, and the wire's), with omitempty where the
// table says OmitEmpty; Event's last fields hold the objects, in that
// order, as pointers.
func TestFieldsMatchStruct(t *testing.T) {
	ev := tags(t, reflect.TypeFor[event.Event]())
	n := len(ev) - len(event.Objects)
	if n <= 0 {
		t.Fatalf("Event has %d fields for %d objects", len(ev), len(event.Objects))
	}
	want := slices.Clone(ev[:n])
	for i, o := range event.Objects {
		if ev[n+i] != o.Key+",omitempty" {
			t.Fatalf("Event's field %d from the end is %q, want object %q with omitempty: %v", len(event.Objects)-i, ev[n+i], o.Key, ev)
		}
		want = append(want, tags(t, objectType(t, o.Key))...)
	}
	var got []string
	for _, f := range event.Fields {
		tag := f.JSON
		if f.OmitEmpty {
			tag += ",omitempty"
		}
		got = append(got, tag)
	}
	if d := eventtest.Diff(got, want); d != "" {
		t.Errorf("event.Fields against the json tags of Event, then of its objects: %s", d)
	}
	// The objects' fields come after the event's, object by object: the
	// encoder writes the objects last.
	rank := func(f event.Field) int {
		for i, o := range event.Objects {
			if f.Object == o.Key {
				return i + 1
			}
		}
		return 0
	}
	for i := 1; i < len(event.Fields); i++ {
		if rank(event.Fields[i-1]) > rank(event.Fields[i]) {
			t.Errorf("field %s after %s: the table goes event, then %v", event.Fields[i].Path(), event.Fields[i-1].Path(), event.Objects)
		}
	}
}

// columnTypes are the Go types that a ClickHouse column type of the table
// stores, and the JSON Schema type of their values.
var columnTypes = map[string][]struct {
	goType reflect.Type
	json   string
}{
	"String":        {{reflect.TypeFor[string](), "string"}},
	"Int64":         {{reflect.TypeFor[int64](), "integer"}},
	"UInt8":         {{reflect.TypeFor[int](), "integer"}, {reflect.TypeFor[bool](), "boolean"}}, // schema_version; a flag
	"DateTime":      {{reflect.TypeFor[time.Time](), "string"}},
	"Array(String)": {{reflect.TypeFor[[]string](), "array"}},
}

// goType is the Go type of field f.
func goType(t *testing.T, f event.Field) reflect.Type {
	t.Helper()
	typ := reflect.TypeFor[event.Event]()
	if f.Object != "" {
		typ = objectType(t, f.Object)
	}
	for sf := range typ.Fields() {
		if name, _, _ := strings.Cut(sf.Tag.Get("json"), ","); name == f.JSON {
			return sf.Type
		}
	}
	t.Fatalf("field %s: no Go field", f.Path())
	return nil
}

// jsonType is the JSON Schema type of field f's values.
func jsonType(t *testing.T, f event.Field) string {
	t.Helper()
	gt := goType(t, f)
	for _, c := range columnTypes[f.Type] {
		if c.goType == gt {
			return c.json
		}
	}
	return ""
}

// TestFieldsWellFormed: keys and columns are unique, an object's columns are
// its prefix and the key, the other columns are the key, and each column
// type is one the store knows how to fill from the field's Go type.
func TestFieldsWellFormed(t *testing.T) {
	keys := map[string]bool{}
	cols := map[string]bool{}
	prefixes := map[string]string{}
	for _, o := range event.Objects {
		if o.Key == "" || o.ColumnPrefix == "" || prefixes[o.Key] != "" {
			t.Errorf("object %+v: empty or repeated", o)
		}
		prefixes[o.Key] = o.ColumnPrefix
	}
	for _, f := range event.Fields {
		key := f.Path()
		if f.JSON == "" || keys[key] {
			t.Errorf("JSON key %q empty or repeated", key)
		}
		keys[key] = true
		if f.Column == "" || cols[f.Column] {
			t.Errorf("column %q empty or repeated", f.Column)
		}
		cols[f.Column] = true
		switch prefix, ok := prefixes[f.Object]; {
		case f.Object == "" && f.Column != f.JSON:
			t.Errorf("field %q in column %q, want %s", f.JSON, f.Column, f.JSON)
		case f.Object != "" && !ok:
			t.Errorf("field %q in object %q, which is not in event.Objects", f.JSON, f.Object)
		case f.Object != "" && f.Column != prefix+f.JSON:
			t.Errorf("field %q in column %q, want %s%s", key, f.Column, prefix, f.JSON)
		}
		if jsonType(t, f) == "" {
			t.Errorf("field %q: Go type %v in a %s column (known: %v)", key, goType(t, f), f.Type, columnTypes)
		}
		if f.Object != "" && !f.OmitEmpty {
			t.Errorf("object field %q is not OmitEmpty", key)
		}
	}
}

// schemaProp is the part of a JSON Schema property the table decides.
type schemaProp struct {
	Type       string          `json:"type"`
	Required   []string        `json:"required"`
	Properties json.RawMessage `json:"properties"`
	Items      *schemaProp     `json:"items"`
}

// TestFieldsMatchJSONSchema: the published JSON Schema describes the table's
// keys in the table's order, its objects' included, requires exactly the
// fields that are always written, and gives each field with a type the
// JSON type of its Go type.
func TestFieldsMatchJSONSchema(t *testing.T) {
	raw, err := os.ReadFile("../../schema/install_event.v1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Required   []string        `json:"required"`
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	var props map[string]schemaProp
	if err := json.Unmarshal(s.Properties, &props); err != nil {
		t.Fatal(err)
	}
	var wantKeys, wantRequired []string
	wantObject := map[string][]string{}
	for _, f := range event.Fields {
		switch {
		case f.Object != "":
			if len(wantObject[f.Object]) == 0 {
				wantKeys = append(wantKeys, f.Object)
			}
			wantObject[f.Object] = append(wantObject[f.Object], f.JSON)
		default:
			wantKeys = append(wantKeys, f.JSON)
			if !f.OmitEmpty {
				wantRequired = append(wantRequired, f.JSON)
			}
		}
	}
	if d := eventtest.Diff(objectKeys(t, s.Properties), wantKeys); d != "" {
		t.Errorf("schema properties against event.Fields: %s", d)
	}
	if d := eventtest.Diff(s.Required, wantRequired); d != "" {
		t.Errorf("schema required against the event.Fields that are not OmitEmpty: %s", d)
	}
	objProps := map[string]map[string]schemaProp{}
	for _, o := range event.Objects {
		p := props[o.Key]
		if p.Type != "object" || len(p.Required) != 0 {
			t.Errorf("schema %s: type %q, required %v; want an object, nothing required", o.Key, p.Type, p.Required)
		}
		if d := eventtest.Diff(objectKeys(t, p.Properties), wantObject[o.Key]); d != "" {
			t.Errorf("schema %s properties against event.Fields: %s", o.Key, d)
		}
		var m map[string]schemaProp
		if err := json.Unmarshal(p.Properties, &m); err != nil {
			t.Fatal(err)
		}
		objProps[o.Key] = m
	}
	for _, f := range event.Fields {
		p, ok := props[f.JSON]
		if f.Object != "" {
			p, ok = objProps[f.Object][f.JSON]
		}
		if !ok {
			continue // reported above
		}
		want := jsonType(t, f)
		switch {
		case p.Type == "" && (want == "array" || want == "boolean"):
			t.Errorf("schema %s: no type, want %s", f.Path(), want)
		case p.Type != "" && p.Type != want:
			t.Errorf("schema %s: type %s, want %s", f.Path(), p.Type, want)
		case want == "array" && (p.Items == nil || p.Items.Type != "string"):
			t.Errorf("schema %s: items %+v, want strings", f.Path(), p.Items)
		}
	}
}

// objectKeys returns the keys of a JSON object in their order.
func objectKeys(t *testing.T, obj json.RawMessage) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", obj)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}
