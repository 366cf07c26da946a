package syncml

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// fuzzMinimizeLimit bounds the fuzz engine's minimisation of each new
// coverage input. The default, 60 s, lets one worker spend up to a minute on
// a single input: the minimiser tries O(n²) deletions of a corpus-sized input
// at ~20k execs/s, and reports its execs only when it finishes, so the
// progress line sits at "0/sec" for the whole time (and a minimisation cut
// off by -fuzztime drops its count). A count rather than a duration, because
// a duration limit races the coordinator's own timer, which then kills and
// restarts the worker. 5000 execs take well under a second here.
const fuzzMinimizeLimit = "5000x"

// TestMain applies fuzzMinimizeLimit unless -fuzzminimizetime is given.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", fuzzMinimizeLimit); err != nil {
			panic("syncml tests: " + err.Error())
		}
	}
	os.Exit(m.Run())
}

// FuzzParse checks that Parse never panics, returns a *Error when it
// rejects, gives the same answer on a reused Scanner, and agrees with the
// etree reference on every input both accept.
func FuzzParse(f *testing.F) {
	for _, pat := range []string{"testdata/corpus/*.xml", "testdata/hostile/*"} {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	reused := NewScanner(Limits{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := NewScanner(Limits{}).Parse(data)
		var first string
		if err == nil {
			first = dump(m)
		} else {
			var se *Error
			if !errors.As(err, &se) || se.Reason == "" {
				t.Fatalf("Parse returned %T %v, want *Error with a reason", err, err)
			}
		}
		m2, err2 := reused.Parse(data)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("reused scanner: %v, fresh scanner: %v", err2, err)
		}
		if err == nil && dump(m2) != first {
			t.Fatalf("reused scanner gives a different message:\n%s\nfresh:\n%s", dump(m2), first)
		}
		checkAgainstReference(t, data, m, err)
	})
}

// FuzzParseBody mutates only the content of SyncBody inside a valid
// envelope, so that most inputs are accepted and reach the differential
// comparison of values (entities, CDATA, raw markup, nesting, attributes).
func FuzzParseBody(f *testing.F) {
	for _, body := range []string{
		`<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>`,
		`<Alert><CmdID>2</CmdID><Data>1224</Data><Item><Source><LocURI>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7BA%7D/DownloadInstall</LocURI></Source><Meta><Type xmlns="syncml:metinf">Reversed-Domain-Name:com.microsoft.mdm.win32csp_install</Type><Format xmlns="syncml:metinf">int</Format><Mark>critical</Mark></Meta><Data>1603</Data></Item></Alert>`,
		`<Results><Meta><Format>xml</Format></Meta><Item><Data> a &amp; <![CDATA[<b>]]> &#x41;<!--c-->z </Data></Item></Results>`,
		`<Results><Item><Data><s a='1'>x &lt; y</s>tail</Data></Item></Results>`,
		`<Atomic><Sequence><Status><TargetRef>a</TargetRef><TargetRef>b</TargetRef><Data x:originalerror="0x1">500</Data></Status></Sequence></Atomic><Final/>`,
		`<Alert><Item><Type>T</Type><Meta><Type>M</Type></Meta><Format>int</Format></Item></Alert>` + "\r\n<Replace><Item><Data>x\r\ny</Data></Item></Replace>",
		// Server commands: containers with their own CmdID and Meta before
		// and after what they hold, UUID CmdIDs, Exec payloads in each form.
		`<Atomic><CmdID>5d0e1f7a-3c2b-4a19-8e6d-2f4b7c9a0e13</CmdID><Replace><CmdID>a81f44c2</CmdID><Meta><Format>int</Format></Meta><Item><Target><LocURI>./a</LocURI></Target><Data>8</Data></Item></Replace><Sequence><Add><Item/></Add></Sequence><Meta><Type>t</Type></Meta><CmdID>2</CmdID></Atomic><Sync/>`,
		`<Exec><CmdID>6</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7B6F%7D/DownloadInstall</LocURI></Target><Data>&lt;MsiInstallJob id=&quot;{A}&quot;&gt;&lt;Product Version=&quot;1.0&quot;/&gt;&lt;/MsiInstallJob&gt;</Data><Meta><Type xmlns="syncml:metinf">text/plain</Type><Format xmlns="syncml:metinf">xml</Format></Meta></Item></Exec>`,
		`<Sequence><Exec><Item><Data><![CDATA[<Configuration><Add OfficeClientEdition="64"/></Configuration>]]></Data></Item></Exec><Get><Item><Target><LocURI>./s</LocURI></Target></Item></Get><Delete/><Atomic/></Sequence>`,
		`<Exec><Item><Data> <MsiInstallJob id="{A}"><Product>&amp;</Product></MsiInstallJob> </Data></Item></Exec><Final/>`,
	} {
		f.Add(body)
	}
	s := NewScanner(Limits{})
	f.Fuzz(func(t *testing.T, body string) {
		in := []byte(msg(body))
		m, err := s.Parse(in)
		checkAgainstReference(t, in, m, err)
	})
}
