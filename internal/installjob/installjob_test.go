package installjob

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/testkit"
)

// golden compares got, as indented JSON, with testdata/<dir>/<name>.golden.json,
// or rewrites the file under -update.
func golden(t *testing.T, dir, name string, got any) {
	t.Helper()
	js, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	testkit.Golden(t, filepath.Join("testdata", dir, name+".golden.json"), js)
}

func readTestdata(t testing.TB, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", dir, name+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var msiCases = []struct{ name, what string }{
	{"plain", "the CSP reference example with one URL"},
	{"several_urls", "two ContentURLs; FileName from the first"},
	{"escaped_once", "the document entity-escaped once more, with leading white space"},
	{"declaration_bom_namespace", "BOM, XML declaration, comment, CRLF, default namespace, CDATA, query string"},
	{"missing_optional", "no Validation or Enforcement; empty and path-less URLs skipped for FileName"},
	{"no_product", "a bare root: every field but ID zero"},
	{"bad_numbers", "TimeOut not a number, negative RetryCount, overflowing RetryInterval: warnings"},
	{"percent_encoded_name", "percent-encoded UTF-8 file name and a fragment"},
	{"unc_path", "lower-case names, UNC path, an encoded separator kept encoded"},
}

var officeCases = []struct{ name, what string }{
	{"several_products", "the brief's example: two products, three languages, pinned Version"},
	{"escaped_once", "the same, entity-escaped once more"},
	{"unpinned_duplicates", "no Version; products and languages deduplicated ignoring case; empty IDs dropped; RemoveMSI is not Remove"},
	{"remove_all", `<Remove All="TRUE"/> only`},
	{"remove_and_add", "Remove of one product next to an Add; removed products are not ProductIDs"},
	{"lowercase_names", "lower-case element and attribute names, namespace on the root"},
	{"branch_deprecated", "Branch instead of Channel"},
}

func TestParseMSIJobGolden(t *testing.T) {
	for _, tc := range msiCases {
		t.Run(tc.name, func(t *testing.T) {
			j, err := ParseMSIJob(readTestdata(t, "msi", tc.name))
			if err != nil {
				t.Fatalf("%s: %v", tc.what, err)
			}
			golden(t, "msi", tc.name, j)
		})
	}
}

func TestParseOfficeConfigGolden(t *testing.T) {
	for _, tc := range officeCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseOfficeConfig(readTestdata(t, "office", tc.name))
			if err != nil {
				t.Fatalf("%s: %v", tc.what, err)
			}
			golden(t, "office", tc.name, c)
		})
	}
}

// TestTestdataInTables keeps testdata files from going untested, and golden
// files from outliving their input.
func TestTestdataInTables(t *testing.T) {
	tables := map[string][]string{}
	for _, c := range msiCases {
		tables["msi"] = append(tables["msi"], c.name)
	}
	for _, c := range officeCases {
		tables["office"] = append(tables["office"], c.name)
	}
	for dir, names := range tables {
		known := map[string]bool{}
		for _, n := range names {
			known[n] = true
		}
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, f := range files {
			base := filepath.Base(f)
			name := strings.TrimSuffix(strings.TrimSuffix(base, ".xml"), ".golden.json")
			if !known[name] {
				t.Errorf("%s is not in the %s table", f, dir)
			}
		}
	}
}

// The escaped form must parse exactly like the plain one, and the several
// URL form's FileName must come from the first URL.
func TestEscapedOnceMatchesPlain(t *testing.T) {
	plain, err := ParseMSIJob(readTestdata(t, "msi", "several_urls"))
	if err != nil {
		t.Fatal(err)
	}
	esc, err := ParseMSIJob(readTestdata(t, "msi", "escaped_once"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(plain)
	b, _ := json.Marshal(esc)
	if !bytes.Equal(a, b) {
		t.Errorf("escaped once:\n%s\nplain:\n%s", b, a)
	}
}

func nested(depth int) string {
	return "<MsiInstallJob>" + strings.Repeat("<a>", depth-1) + strings.Repeat("</a>", depth-1) + "</MsiInstallJob>"
}

func siblings(elements int) string {
	return "<MsiInstallJob>" + strings.Repeat("<a/>", elements-1) + "</MsiInstallJob>"
}

func sized(n int) string {
	const open, close = "<MsiInstallJob>", "</MsiInstallJob>"
	return open + strings.Repeat("x", n-len(open)-len(close)) + close
}

type parser struct {
	name  string
	parse func([]byte) error
}

var parsers = []parser{
	{"msi", func(b []byte) error { _, err := ParseMSIJob(b); return err }},
	{"office", func(b []byte) error { _, err := ParseOfficeConfig(b); return err }},
}

func TestHostile(t *testing.T) {
	file := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "hostile", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sentinel := map[string]error{
		ReasonSize: ErrSize, ReasonDoctype: ErrDoctype, ReasonDepth: ErrDepth,
		ReasonElements: ErrElements, ReasonUTF8: ErrUTF8, ReasonSyntax: ErrSyntax, ReasonRoot: ErrRoot,
	}
	cases := []struct {
		name   string
		input  string
		reason string
		only   string // "msi" or "office" when the case applies to one parser
	}{
		{"size", sized(MaxSize + 1), ReasonSize, ""},
		{"size of padding counts", strings.Repeat(" ", MaxSize) + "<Configuration/>", ReasonSize, ""},
		{"billion laughs", file("billion_laughs.xml"), ReasonDoctype, ""},
		{"xxe", file("xxe.xml"), ReasonDoctype, ""},
		{"doctype escaped once more", file("escaped_doctype.xml"), ReasonDoctype, ""},
		{"entity declaration without doctype", file("entity_no_doctype.xml"), ReasonDoctype, ""},
		{"lower-case doctype", "<!doctype x><MsiInstallJob/>", ReasonDoctype, ""},
		{"depth", nested(MaxDepth + 1), ReasonDepth, ""},
		{"depth, unclosed", "<MsiInstallJob>" + strings.Repeat("<a>", MaxDepth), ReasonDepth, ""},
		{"elements", siblings(MaxElements + 1), ReasonElements, ""},
		{"utf8", "<MsiInstallJob id=\"\xff\"/>", ReasonUTF8, ""},
		{"utf16 document", "\xff\xfe<\x00M\x00/\x00>\x00", ReasonUTF8, ""},
		{"empty", "", ReasonSyntax, ""},
		{"white space only", " \r\n\t\xef\xbb\xbf ", ReasonSyntax, ""},
		{"unclosed", "<MsiInstallJob><Product>", ReasonSyntax, ""},
		{"mismatched", "<MsiInstallJob></Product>", ReasonSyntax, ""},
		{"two roots", "<MsiInstallJob/><MsiInstallJob/>", ReasonSyntax, ""},
		{"text outside root", "<MsiInstallJob/>trailing", ReasonSyntax, ""},
		{"unknown entity", "<MsiInstallJob id=\"&foo;\"/>", ReasonSyntax, ""},
		{"escaped twice more", "&amp;lt;MsiInstallJob/&amp;gt;", ReasonSyntax, ""},
		{"bad escape", "&lt;MsiInstallJob id=&bogus;/&gt;", ReasonSyntax, ""},
		{"bad char ref in escape", "&lt;MsiInstallJob id=&#0;/&gt;", ReasonSyntax, ""},
		{"plain text", "1603", ReasonSyntax, ""},
		{"root: Configuration", "<Configuration/>", ReasonRoot, "msi"},
		{"root: MsiInstallJob", "<MsiInstallJob/>", ReasonRoot, "office"},
		{"root: SyncML", "<SyncML xmlns='SYNCML:SYNCML1.2'/>", ReasonRoot, ""},
	}
	for _, tc := range cases {
		for _, p := range parsers {
			if tc.only != "" && tc.only != p.name {
				continue
			}
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				err := p.parse([]byte(tc.input))
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("got %T %v, want *Error", err, err)
				}
				if e.Reason != tc.reason {
					t.Fatalf("reason %q (%v), want %q", e.Reason, err, tc.reason)
				}
				if !errors.Is(err, sentinel[tc.reason]) {
					t.Errorf("errors.Is(%v, sentinel %q) is false", err, tc.reason)
				}
				for r, s := range sentinel {
					if r != tc.reason && errors.Is(err, s) {
						t.Errorf("errors.Is(%v, sentinel %q) is true", err, r)
					}
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "installjob: ") || len(msg) > 300 {
					t.Errorf("message %q: want an installjob: prefix and a bounded length", msg)
				}
			})
		}
	}
}

// TestLimitsInclusive checks that each limit is the largest value accepted.
func TestLimitsInclusive(t *testing.T) {
	for name, doc := range map[string]string{
		"MaxSize":     sized(MaxSize),
		"MaxDepth":    nested(MaxDepth),
		"MaxElements": siblings(MaxElements),
		"elements inside CDATA and comments are not counted": "<MsiInstallJob><!--" + strings.Repeat("<a/>", MaxElements) +
			"--><Product><Enforcement><CommandLine><![CDATA[" + strings.Repeat("<a/>", MaxElements) + "]]></CommandLine></Enforcement></Product></MsiInstallJob>",
	} {
		if _, err := ParseMSIJob([]byte(doc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{ErrDoctype, "installjob: doctype not allowed"},
		{ErrSize, "installjob: document larger than 65536 bytes"},
		{ErrDepth, "installjob: nesting deeper than 32"},
		{ErrElements, "installjob: more than 2000 elements"},
		{ErrUTF8, "installjob: invalid utf-8"},
		{&Error{Reason: ReasonRoot, Err: errors.New(`got "a", want MsiInstallJob`)}, `installjob: wrong root element: got "a", want MsiInstallJob`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	// A cause quoting a huge element name is cut short.
	long := "<MsiInstallJob><" + strings.Repeat("n", 60000) + "></MsiInstallJob>"
	_, err := ParseMSIJob([]byte(long))
	if !errors.Is(err, ErrSyntax) || len(err.Error()) > 300 {
		t.Errorf("got %d-byte %v, want a short syntax error", len(err.Error()), err)
	}
	var e *Error
	if errors.As(err, &e) && errors.Unwrap(err) == nil {
		t.Error("syntax error has no cause")
	}
	// Sentinels differ from one another.
	if errors.Is(ErrSyntax, ErrRoot) {
		t.Error("ErrSyntax is ErrRoot")
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"http://dp.example.test/Orca.msi":          "Orca.msi",
		"http://dp.example.test/a/b/Orca.msi?x=/y": "Orca.msi",
		"http://dp.example.test":                   "",
		"http://dp.example.test/":                  "",
		"Orca.msi":                                 "Orca.msi",
		`C:\pkgs\Orca.msi`:                         "Orca.msi",
		"file:///C:/pkgs/My%20App.msi":             "My App.msi",
		"http://h/%ff.msi":                         "%ff.msi",
		"http://h/bad%zz.msi":                      "bad%zz.msi",
		"http://h/a%00b.msi":                       "a%00b.msi",
		"http://h/%2e%2e":                          "%2e%2e",
		"http://h/..":                              "",
		"http://h/%20Setup.msi%20%20?x":            "Setup.msi",
		"M ?":                                      "M",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}
