package syncml

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/testkit"
)

func corpusFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	return files
}

// TestCorpusGolden parses every corpus message and compares the dump with
// its golden file; testkit's -update flag rewrites the golden files.
func TestCorpusGolden(t *testing.T) {
	s := NewScanner(Limits{})
	for _, f := range corpusFiles(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			golden := strings.TrimSuffix(f, ".xml") + ".golden"
			testkit.Golden(t, golden, []byte(dump(m)))
		})
	}
}

// TestServerExecDataForms checks that an Exec's MsiInstallJob yields the
// same document whether the server entity-escaped it, wrapped it in CDATA or
// wrote it as child elements.
func TestServerExecDataForms(t *testing.T) {
	const job = `<MsiInstallJob id="{AF9257BA-6BBD-4624-AA9B-0182D0C2E9A5}"><Product Version="1.0.0.0"><Download><ContentURLList>` +
		`<ContentURL>http://dp.example.test/Orca.msi</ContentURL><ContentURL>https://dp2.example.test/packages/Orca.msi</ContentURL>` +
		`</ContentURLList></Download><Validation><FileHash>4525065777EF18B9444ABF71DD4B48E5F64F4F0E1E029995FB8DA441CDE4296E</FileHash>` +
		`</Validation><Enforcement><CommandLine>/quiet</CommandLine><TimeOut>5</TimeOut><RetryCount>3</RetryCount>` +
		`<RetryInterval>5</RetryInterval></Enforcement></Product></MsiInstallJob>`
	s := NewScanner(Limits{})
	for _, f := range []string{"17_server_msi_exec_escaped.xml", "18_server_msi_exec_cdata.xml", "24_server_msi_exec_raw_children.xml"} {
		data, err := os.ReadFile(filepath.Join("testdata/corpus", f))
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var exec *Command
		for i := range m.Commands {
			if m.Commands[i].Kind == KindExec {
				exec = &m.Commands[i]
			}
		}
		if exec == nil || len(exec.Items) != 1 {
			t.Fatalf("%s: no Exec with one item:\n%s", f, dump(m))
		}
		it := &exec.Items[0]
		if string(it.Data) != job || !strings.HasSuffix(string(it.Target), "/MSI/%7B6F7CB29F-1319-4816-B345-0856916EB801%7D/DownloadInstall") ||
			string(it.Format) != "xml" || string(it.Type) != "text/plain" || exec.Parent != -1 {
			t.Errorf("%s: Exec\n%s", f, dump(m))
		}
	}
}
