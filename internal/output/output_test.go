package output_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/output"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    output.Format
		wantErr bool
	}{
		{"table", output.FormatTable, false},
		{"json", output.FormatJSON, false},
		{"csv", output.FormatCSV, false},
		{" CSV ", output.FormatCSV, false},
		{"JSON", output.FormatJSON, false},
		{"", "", true},
		{"yaml", "", true},
		{"tables", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := output.ParseFormat(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "table, json or csv") {
				t.Errorf("error %q does not name the formats", err)
			}
		})
	}
}

func TestFormatValidate(t *testing.T) {
	for _, f := range output.Formats() {
		if err := f.Validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []output.Format{"", "Table", "xml"} {
		if f.Validate() == nil {
			t.Errorf("%q validated", string(f))
		}
	}
	if output.Formats()[0] != output.FormatTable {
		t.Errorf("the default format is %s, want table", output.Formats()[0])
	}
}

// A *Format is a flag.Value: the flag package parses it and refuses a
// format that is not one.
func TestFormatFlag(t *testing.T) {
	tests := []struct {
		args    []string
		want    output.Format
		wantErr bool
	}{
		{nil, output.FormatTable, false},
		{[]string{"--format", "json"}, output.FormatJSON, false},
		{[]string{"--format=csv"}, output.FormatCSV, false},
		{[]string{"--format", "xml"}, output.FormatTable, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := output.FormatTable
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			fs.Var(&f, "format", output.FormatUsage)
			err := fs.Parse(tt.args)
			if (err != nil) != tt.wantErr || f != tt.want {
				t.Fatalf("format %q, err %v; want %q, error %v", f, err, tt.want, tt.wantErr)
			}
		})
	}
}

func sample() *output.Table {
	tb := output.NewTable("products", "Products by failed devices", "product", "version", "failed_devices", "age_seconds:AGE", "since")
	at := time.Date(2026, 11, 23, 6, 0, 0, 0, time.FixedZone("CET", 3600))
	tb.Add("App A", "1.0", uint64(12), 10*time.Hour, at)
	tb.Add("=HYPERLINK(\"x\")", "", -3, 90*time.Minute+400*time.Millisecond, time.Time{})
	tb.Add("tab\there\x1b[31m", "-1", int64(-2147023293), 45*time.Second, at)
	return tb
}

func TestWriteTables(t *testing.T) {
	var b bytes.Buffer
	empty := output.NewTable("stuck", "Stuck attempts", "device_id")
	empty.Empty = "no stuck attempt"
	if err := output.WriteTables(&b, sample(), empty, output.NewTable("causes", "Causes", "code")); err != nil {
		t.Fatal(err)
	}
	want := `Products by failed devices
PRODUCT          VERSION  FAILED DEVICES  AGE    SINCE
App A            1.0      12              10h    2026-11-23T05:00:00Z
=HYPERLINK("x")  -        -3              1h30m  -
tab here [31m    -1       -2147023293     45s    2026-11-23T05:00:00Z

Stuck attempts
no stuck attempt

Causes
none
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	if err := output.WriteCSV(&b, sample()); err != nil {
		t.Fatal(err)
	}
	want := "product,version,failed_devices,age_seconds,since\n" +
		"App A,1.0,12,36000,2026-11-23T05:00:00Z\n" +
		"\"'=HYPERLINK(\"\"x\"\")\",,-3,5400,\n" +
		"tab\there\x1b[31m,-1,-2147023293,45,2026-11-23T05:00:00Z\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil || len(recs) != 4 || len(recs[1]) != 5 {
		t.Fatalf("not CSV a reader reads back: %v %q", err, recs)
	}
}

// A cell a spreadsheet would run as a formula is quoted; numbers and
// ordinary text are not.
func TestWriteCSVDefusesFormulas(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=1+2", "'=1+2"},
		{"+cmd", "'+cmd"},
		{"-2147023293", "-2147023293"},
		{"-x", "'-x"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"Contoso VPN", "Contoso VPN"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tb := output.NewTable("t", "", "v")
			tb.Add(tt.in)
			var b bytes.Buffer
			if err := output.WriteCSV(&b, tb); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(&b).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if got := recs[1][0]; got != tt.want {
				t.Fatalf("cell %q written %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// A row that does not match the columns is an error, and nothing is
// written.
func TestWritersRefuseRaggedRows(t *testing.T) {
	tb := output.NewTable("products", "P", "a", "b")
	tb.Add("1", "2")
	tb.Add("only one")
	writers := map[string]func(io.Writer) error{
		"table": func(w io.Writer) error { return output.WriteTables(w, tb) },
		"csv":   func(w io.Writer) error { return output.WriteCSV(w, tb) },
	}
	for name, write := range writers {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			err := write(&b)
			if err == nil || !strings.Contains(err.Error(), "row 1 has 1 cells for 2 columns") {
				t.Fatalf("err %v", err)
			}
			if b.Len() != 0 {
				t.Fatalf("wrote %q", b.String())
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	doc := map[string]any{"name": "<App & Co>", "devices": 3, "products": []string{}}
	if err := output.WriteJSON(&b, doc); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"devices\": 3,\n  \"name\": \"<App & Co>\",\n  \"products\": []\n}\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	err := output.WriteJSON(&b, map[string]any{"f": func() {}})
	var ute *json.UnsupportedTypeError
	if !errors.As(err, &ute) || b.Len() != 0 {
		t.Fatalf("err %v, wrote %q", err, b.String())
	}
}

// A failing writer's error comes back.
func TestWriteErrors(t *testing.T) {
	bad := errors.New("disk full")
	w := failWriter{bad}
	for name, err := range map[string]error{
		"table": output.WriteTables(w, sample()),
		"csv":   output.WriteCSV(w, sample()),
		"json":  output.WriteJSON(w, 1),
	} {
		if !errors.Is(err, bad) {
			t.Errorf("%s: err %v, want %v", name, err, bad)
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestShortDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Hour, "10h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + 5*time.Second, "1h0m5s"},
		{2 * time.Minute, "2m"},
		{45*time.Second + 600*time.Millisecond, "46s"},
		{0, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := output.ShortDuration(tt.d); got != tt.want {
				t.Fatalf("ShortDuration(%v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}
