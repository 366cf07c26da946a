package eventjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/event/eventtest"
	"github.com/cspwatch/cspwatch/internal/normalize"
)

// keys returns the keys of the JSON object data in their order, and those
// of each nested object by its key.
func keys(t *testing.T, data []byte) (top []string, nested map[string][]string) {
	t.Helper()
	nested = map[string][]string{}
	d := json.NewDecoder(bytes.NewReader(data))
	object := func(each func(key string)) {
		if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("not an object (%v): %s", err, data)
		}
		for d.More() {
			tok, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			each(tok.(string))
		}
		if _, err := d.Token(); err != nil {
			t.Fatal(err)
		}
	}
	skip := func() {
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	object(func(key string) {
		top = append(top, key)
		for _, o := range event.Objects {
			if key == o.Key {
				object(func(k string) {
					nested[key] = append(nested[key], k)
					skip()
				})
				return
			}
		}
		skip()
	})
	return top, nested
}

// tableKeys are the keys event.Fields says an event has: every field when
// all of them are set, else the fields that are not OmitEmpty.
func tableKeys(all bool) (top []string, nested map[string][]string) {
	nested = map[string][]string{}
	for _, f := range event.Fields {
		switch {
		case f.Object != "" && all:
			if len(nested[f.Object]) == 0 {
				top = append(top, f.Object)
			}
			nested[f.Object] = append(nested[f.Object], f.JSON)
		case f.Object == "" && (all || !f.OmitEmpty):
			top = append(top, f.JSON)
		}
	}
	return top, nested
}

// TestEncoderKeysMatchFields: for an event with every field set, AppendJSON
// and the Encoder write exactly the keys of event.Fields, in its order, and
// its objects'; for an event with none of the OmitEmpty fields set, exactly
// the fields that are not OmitEmpty.
func TestEncoderKeysMatchFields(t *testing.T) {
	full, minimal := eventtest.Full(), eventtest.Minimal()
	for _, tc := range []struct {
		name string
		e    *event.Event
		all  bool
	}{{"full", &full, true}, {"minimal", &minimal, false}} {
		wantTop, wantNested := tableKeys(tc.all)
		var enc Encoder
		for name, out := range map[string][]byte{
			"AppendJSON": AppendJSON(nil, tc.e),
			"Encoder":    enc.AppendJSON(nil, tc.e),
		} {
			top, nested := keys(t, out)
			if d := eventtest.Diff(top, wantTop); d != "" {
				t.Errorf("%s of the %s event, keys against event.Fields: %s\n%s", name, tc.name, d, out)
			}
			for _, o := range event.Objects {
				if d := eventtest.Diff(nested[o.Key], wantNested[o.Key]); d != "" {
					t.Errorf("%s of the %s event, %s keys against event.Fields: %s\n%s", name, tc.name, o.Key, d, out)
				}
			}
		}
	}
}

// TestRoundTripEveryField: an event with one field of event.Fields set,
// besides the ones the decoder requires, encodes (AppendJSON and Encoder)
// and decodes (Decode and a Decoder) to itself, so a field the encoder or
// the decoder leaves out fails here; encoding/json reads the same.
func TestRoundTripEveryField(t *testing.T) {
	var enc Encoder
	var d Decoder
	for _, f := range event.Fields {
		name := f.Path()
		t.Run(name, func(t *testing.T) {
			want := eventtest.With(f)
			if reflect.DeepEqual(want, eventtest.Minimal()) && f.JSON != "schema_version" {
				t.Fatalf("eventtest.With(%s) sets nothing", name)
			}
			data := AppendJSON(nil, &want)
			if other := enc.AppendJSON(nil, &want); !bytes.Equal(other, data) {
				t.Fatalf("Encoder wrote\n%s\nAppendJSON\n%s", other, data)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode(%s): %v", data, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Decode(%s):\n got %s\nwant %s", data, dump(got), dump(want))
			}
			var reused event.Event
			if err := d.DecodeInto(data, &reused); err != nil || !reflect.DeepEqual(reused, want) {
				t.Fatalf("Decoder.DecodeInto(%s): %v\n got %+v\nwant %+v", data, err, reused, want)
			}
			if std, err := decodeStd(data); err != nil || !reflect.DeepEqual(std, want) {
				t.Fatalf("encoding/json of %s: %v\n got %+v\nwant %+v", data, err, std, want)
			}
		})
	}
	// Every field at once, too, and an event with its objects empty.
	full := eventtest.Full()
	got, err := Decode(AppendJSON(nil, &full))
	if err != nil || !reflect.DeepEqual(got, full) {
		t.Fatalf("full event: %v\n got %s\nwant %s", err, dump(got), dump(full))
	}
	empty := eventtest.Minimal()
	empty.Product, empty.MSIJob, empty.OfficeConfig = &event.Product{}, &event.MSIJob{}, &event.OfficeConfig{}
	data := AppendJSON(nil, &empty)
	if !bytes.HasSuffix(data, []byte(`,"product":{},"msi_job":{},"office_config":{}}`)) {
		t.Fatalf("empty objects written as %s", data)
	}
	if got, err := Decode(data); err != nil || !reflect.DeepEqual(got, empty) {
		t.Fatalf("empty objects: %v\n got %s\nwant %s", err, dump(got), dump(empty))
	}
}

// dump shows an event with its objects.
func dump(e event.Event) string {
	return fmt.Sprintf("%+v product %+v msi_job %+v office_config %+v", e, e.Product, e.MSIJob, e.OfficeConfig)
}

// TestInternSeed: the decoder interns the install alert type the normaliser
// writes, though it spells it out rather than import normalize.
func TestInternSeed(t *testing.T) {
	if !slices.Contains(internSeed, normalize.InstallAlertType) {
		t.Fatalf("internSeed lacks normalize.InstallAlertType %q", normalize.InstallAlertType)
	}
	if s := eventtest.Sample(); s.AlertType != normalize.InstallAlertType {
		t.Fatalf("eventtest.Sample's alert type %q, want normalize.InstallAlertType %q", s.AlertType, normalize.InstallAlertType)
	}
}
