package installjob

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzMinimizeLimit caps minimisation of each new coverage input, as in the
// syncml package: the default 60 s lets one worker sit on a single input for
// most of a short -fuzztime run.
const fuzzMinimizeLimit = "5000x"

// TestMain applies fuzzMinimizeLimit unless -fuzzminimizetime is given.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", fuzzMinimizeLimit); err != nil {
			panic("installjob tests: " + err.Error())
		}
	}
	os.Exit(m.Run())
}

// seedFiles returns the contents of the files under dir (recursively) whose
// name matches pattern; a missing dir yields none. Files in Go's fuzz corpus
// format ("go test fuzz v1") are decoded to their []byte values.
func seedFiles(f *testing.F, dir, pattern string) [][]byte {
	var seeds [][]byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		if ok, _ := filepath.Match(pattern, d.Name()); !ok {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rest, ok := bytes.CutPrefix(data, []byte("go test fuzz v1\n"))
		if !ok {
			seeds = append(seeds, data)
			return nil
		}
		for _, line := range strings.Split(string(rest), "\n") {
			lit, ok := strings.CutPrefix(strings.TrimSpace(line), "[]byte(")
			if !ok {
				continue
			}
			if s, err := strconv.Unquote(strings.TrimSuffix(lit, ")")); err == nil {
				seeds = append(seeds, []byte(s))
			}
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	return seeds
}

// FuzzParse checks that both parsers never panic, reject only with a
// classified *Error, are deterministic, keep their documented invariants,
// and treat a document escaped once more exactly like the document.
func FuzzParse(f *testing.F) {
	for _, src := range []struct{ dir, pattern string }{
		{"testdata", "*.xml"},
		{"../syncml/testdata/corpus", "*.xml"},
		{"../syncml/testdata/fuzz", "*"},
	} {
		for _, s := range seedFiles(f, src.dir, src.pattern) {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, errMSI := ParseMSIJob(data)
		checkErr(t, errMSI)
		if errMSI == nil {
			checkMSI(t, j)
		}
		c, errOffice := ParseOfficeConfig(data)
		checkErr(t, errOffice)
		if errOffice == nil {
			checkOffice(t, c)
		}

		j2, err2 := ParseMSIJob(data)
		if !sameResult(j, errMSI, j2, err2) {
			t.Fatalf("ParseMSIJob not deterministic: %+v %v, then %+v %v", j, errMSI, j2, err2)
		}

		// One more level of escaping must change nothing, when the
		// document (after the trimming both undergo) starts with markup.
		if bytes.HasPrefix(trim(data), []byte("<")) {
			esc := []byte(escaper.Replace(string(data)))
			if len(esc) <= MaxSize {
				je, err := ParseMSIJob(esc)
				if !sameResult(j, errMSI, je, err) {
					t.Fatalf("ParseMSIJob escaped once more: %+v %v; plain: %+v %v", je, err, j, errMSI)
				}
				ce, err := ParseOfficeConfig(esc)
				if !sameResult(c, errOffice, ce, err) {
					t.Fatalf("ParseOfficeConfig escaped once more: %+v %v; plain: %+v %v", ce, err, c, errOffice)
				}
			}
		}
	})
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// sameResult compares results, and errors by reason only: the cause of a
// syntax error quotes line numbers, which escaping can shift.
func sameResult[T any](a T, errA error, b T, errB error) bool {
	if (errA == nil) != (errB == nil) {
		return false
	}
	if errA != nil {
		return reason(errA) == reason(errB)
	}
	return reflect.DeepEqual(a, b)
}

func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	switch r := reason(err); r {
	case ReasonSize, ReasonDoctype, ReasonDepth, ReasonElements, ReasonUTF8, ReasonSyntax, ReasonRoot:
	default:
		t.Fatalf("error %T %v has reason %q", err, err, r)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "installjob: ") || len(msg) > 300 {
		t.Fatalf("message %q", msg)
	}
}

func checkStrings(t *testing.T, what string, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if !utf8.ValidString(s) || s != strings.Trim(s, xmlSpace) {
			t.Fatalf("%s: %q is not valid, trimmed UTF-8", what, s)
		}
	}
}

func checkMSI(t *testing.T, j MSIJob) {
	t.Helper()
	checkStrings(t, "MSIJob", j.ID, j.ProductVersion, j.FileHash, j.CommandLine, j.FileName)
	checkStrings(t, "ContentURLs", j.ContentURLs...)
	for _, u := range j.ContentURLs {
		if u == "" {
			t.Fatal("empty ContentURL")
		}
	}
	if j.FileName != "" {
		if !plainName(j.FileName) {
			t.Fatalf("FileName %q is not a plain name", j.FileName)
		}
		found := false
		for _, u := range j.ContentURLs {
			found = found || fileName(u) == j.FileName
		}
		if !found {
			t.Fatalf("FileName %q comes from no ContentURL in %q", j.FileName, j.ContentURLs)
		}
	}
	if j.TimeoutMinutes < 0 || j.RetryCount < 0 || j.RetryIntervalMinutes < 0 {
		t.Fatalf("negative count in %+v", j)
	}
	if len(j.Warnings) > 3 {
		t.Fatalf("%d warnings, at most one per Enforcement number", len(j.Warnings))
	}
	for _, w := range j.Warnings {
		if w == "" || !utf8.ValidString(w) || len(w) > 200 {
			t.Fatalf("warning %q", w)
		}
	}
}

func checkOffice(t *testing.T, c OfficeConfig) {
	t.Helper()
	checkStrings(t, "OfficeConfig", c.Channel, c.Version, c.Edition)
	for what, list := range map[string][]string{"ProductIDs": c.ProductIDs, "Languages": c.Languages} {
		checkStrings(t, what, list...)
		for i, s := range list {
			if s == "" {
				t.Fatalf("%s: empty entry in %q", what, list)
			}
			for _, prev := range list[:i] {
				if strings.EqualFold(prev, s) {
					t.Fatalf("%s: %q and %q both present", what, prev, s)
				}
			}
		}
	}
}
