package normalize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/event/eventtest"
	"github.com/cspwatch/cspwatch/internal/eventjson"
)

// jsonSchema is the subset of JSON Schema that schema/install_event.v1.schema.json uses.
type jsonSchema struct {
	Required   []string               `json:"required"`
	Properties map[string]*jsonSchema `json:"properties"`
	Type       string                 `json:"type"`
	Items      *jsonSchema            `json:"items"`
	Enum       []any                  `json:"enum"`
	Const      any                    `json:"const"`
}

// TestEventsMatchSchema keeps the published JSON Schema and the encoder in
// step: every event of the testdata corpus has every required field, no field
// the schema does not describe, the declared types, and enum values.
func TestEventsMatchSchema(t *testing.T) {
	raw, err := os.ReadFile("../../schema/install_event.v1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s jsonSchema
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/*.xml")
	real, _ := filepath.Glob("testdata/realworld/*.xml")
	files = append(files, real...)
	servers := commandFiles(t)
	n := 0
	for _, f := range append(files, servers...) {
		var events []event.Event
		if strings.HasPrefix(f, "testdata/commands/") {
			events, _ = buildCommandsFile(t, f)
		} else {
			events, _ = buildFile(t, f)
		}
		for i := range events {
			var obj map[string]any
			if err := json.Unmarshal(eventjson.AppendJSON(nil, &events[i]), &obj); err != nil {
				t.Fatal(err)
			}
			checkSchema(t, f, &s, obj)
			n++
		}
	}
	// An event with every optional field set must pass too.
	full := eventtest.Sample()
	full.Text, full.MDMReceivedAt = "x", time.Now().Format(time.RFC3339)
	full.Product = &event.Product{Name: "n", Version: "v", Publisher: "p", InstallDate: "d", InstallPath: "path", LastErrorDesc: "desc"}
	var obj map[string]any
	json.Unmarshal(eventjson.AppendJSON(nil, &full), &obj)
	checkSchema(t, "full", &s, obj)
	// And a command event with both install documents.
	cmd := eventtest.Sample()
	cmd.Kind, cmd.Outcome, cmd.Command, cmd.PayloadError = event.KindCommand, event.OutcomeRequested, event.CommandExec, "doctype"
	cmd.CmdIDRaw, cmd.MsgRef, cmd.CmdRefRaw = "5d0e1f7a-3c2b-4a19-8e6d-2f4b7c9a0e13", "1", "7"
	cmd.MSIJob = &event.MSIJob{ID: "i", ProductVersion: "1", ContentURLs: []string{"u"}, FileName: "f", FileHash: "h",
		CommandLine: "/q", TimeoutMin: 1, RetryCount: 2, RetryIntervalMin: 3}
	cmd.OfficeConfig = &event.OfficeConfig{ProductIDs: []string{"p"}, Channel: "c", Version: "v", Edition: "64", Languages: []string{"l"}, Remove: true}
	obj = nil
	json.Unmarshal(eventjson.AppendJSON(nil, &cmd), &obj)
	checkSchema(t, "command", &s, obj)
	if n < 60 {
		t.Fatalf("only %d events checked", n)
	}
}

func checkSchema(t *testing.T, where string, s *jsonSchema, obj map[string]any) {
	t.Helper()
	for _, r := range s.Required {
		if _, ok := obj[r]; !ok {
			t.Errorf("%s: required field %q missing", where, r)
		}
	}
	for k, v := range obj {
		p, ok := s.Properties[k]
		if !ok {
			t.Errorf("%s: field %q is not in the schema", where, k)
			continue
		}
		switch p.Type {
		case "string":
			if _, ok := v.(string); !ok {
				t.Errorf("%s: %s = %v, want a string", where, k, v)
			}
		case "integer":
			if f, ok := v.(float64); !ok || f != float64(int64(f)) {
				t.Errorf("%s: %s = %v, want an integer", where, k, v)
			}
		case "boolean":
			if _, ok := v.(bool); !ok {
				t.Errorf("%s: %s = %v, want a boolean", where, k, v)
			}
		case "array":
			a, ok := v.([]any)
			if !ok || p.Items == nil {
				t.Errorf("%s: %s = %v, want an array (items %v)", where, k, v, p.Items)
				continue
			}
			for _, x := range a {
				if _, ok := x.(string); p.Items.Type == "string" && !ok {
					t.Errorf("%s: %s holds %v, want strings", where, k, x)
				}
			}
		case "object":
			m, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s: %s = %v, want an object", where, k, v)
				continue
			}
			checkSchema(t, where+"."+k, p, m)
		}
		if p.Enum != nil && !slices.Contains(p.Enum, v) {
			t.Errorf("%s: %s = %v, not one of %v", where, k, v, p.Enum)
		}
		if p.Const != nil && p.Const != v {
			t.Errorf("%s: %s = %v, want %v", where, k, v, p.Const)
		}
	}
}
