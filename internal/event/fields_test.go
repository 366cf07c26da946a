package event_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/event/eventtest"
)

// TestFieldsMatchStruct: the table lists the json tags of Event, then those
// of Product, in declaration order (which is encoding/json's order, and the
// wire's), with omitempty where the table says OmitEmpty; Event's product
// field, last, holds the Product.
func TestFieldsMatchStruct(t *testing.T) {
	// Tags as json:"..." says them: name, or name,omitempty.
	tags := func(typ reflect.Type) (out []string) {
		for sf := range typ.Fields() {
			tag := sf.Tag.Get("json")
			if name, opts, _ := strings.Cut(tag, ","); name == "" || name == "-" || opts != "" && opts != "omitempty" {
				t.Errorf("%v.%s: json tag %q, want a name and at most omitempty", typ, sf.Name, tag)
			}
			out = append(out, tag)
		}
		return out
	}
	ev := tags(reflect.TypeFor[event.Event]())
	if n := len(ev); n == 0 || ev[n-1] != event.ProductKey+",omitempty" {
		t.Fatalf("Event's last field is not %q with omitempty: %v", event.ProductKey, ev)
	}
	if sf, _ := reflect.TypeFor[event.Event]().FieldByName("Product"); sf.Type != reflect.TypeFor[*event.Product]() {
		t.Fatalf("Event.Product is a %v", sf.Type)
	}
	want := append(ev[:len(ev)-1:len(ev)-1], tags(reflect.TypeFor[event.Product]())...)
	var got []string
	for _, f := range event.Fields {
		tag := f.JSON
		if f.OmitEmpty {
			tag += ",omitempty"
		}
		got = append(got, tag)
	}
	if d := eventtest.Diff(got, want); d != "" {
		t.Errorf("event.Fields against the json tags of Event, then Product: %s", d)
	}
	// Product's fields come after the event's: the encoder writes the
	// product object last.
	for i := 1; i < len(event.Fields); i++ {
		if event.Fields[i-1].Product && !event.Fields[i].Product {
			t.Errorf("event field %q after product fields", event.Fields[i].JSON)
		}
	}
}

// goTypes are the Go types a ClickHouse column type of the table stores.
var goTypes = map[string]reflect.Type{
	"String":   reflect.TypeFor[string](),
	"Int64":    reflect.TypeFor[int64](),
	"UInt8":    reflect.TypeFor[int](), // schema_version
	"DateTime": reflect.TypeFor[time.Time](),
}

// TestFieldsWellFormed: keys and columns are unique, product columns are
// product_<key>, and each column type is one the store knows how to fill
// from the field's Go type.
func TestFieldsWellFormed(t *testing.T) {
	keys := map[string]bool{}
	cols := map[string]bool{}
	for _, f := range event.Fields {
		key := f.JSON
		if f.Product {
			key = event.ProductKey + "." + f.JSON
		}
		if f.JSON == "" || keys[key] {
			t.Errorf("JSON key %q empty or repeated", key)
		}
		keys[key] = true
		if f.Column == "" || cols[f.Column] {
			t.Errorf("column %q empty or repeated", f.Column)
		}
		cols[f.Column] = true
		if f.Product && f.Column != "product_"+f.JSON {
			t.Errorf("product field %q in column %q, want product_%s", f.JSON, f.Column, f.JSON)
		}
		typ := reflect.TypeFor[event.Event]()
		if f.Product {
			typ = reflect.TypeFor[event.Product]()
		}
		var goType reflect.Type
		for sf := range typ.Fields() {
			if name, _, _ := strings.Cut(sf.Tag.Get("json"), ","); name == f.JSON {
				goType = sf.Type
			}
		}
		if want, ok := goTypes[f.Type]; !ok || goType != want {
			t.Errorf("field %q: Go type %v in a %s column (known: %v)", key, goType, f.Type, goTypes)
		}
		if f.Product && !f.OmitEmpty {
			t.Errorf("product field %q is not OmitEmpty", f.JSON)
		}
	}
}

// TestFieldsMatchJSONSchema: the published JSON Schema describes the table's
// keys in the table's order, product's included, and requires exactly the
// fields that are always written.
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
	var props map[string]struct {
		Type       string          `json:"type"`
		Required   []string        `json:"required"`
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(s.Properties, &props); err != nil {
		t.Fatal(err)
	}
	var wantKeys, wantProduct, wantRequired []string
	for _, f := range event.Fields {
		switch {
		case f.Product:
			if len(wantProduct) == 0 {
				wantKeys = append(wantKeys, event.ProductKey)
			}
			wantProduct = append(wantProduct, f.JSON)
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
	p := props[event.ProductKey]
	if p.Type != "object" || len(p.Required) != 0 {
		t.Errorf("schema product: type %q, required %v; want an object, nothing required", p.Type, p.Required)
	}
	if d := eventtest.Diff(objectKeys(t, p.Properties), wantProduct); d != "" {
		t.Errorf("schema product properties against event.Fields: %s", d)
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
