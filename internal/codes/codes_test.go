package codes

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/testkit"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1603", 1603, true},
		{"0010", 10, true},
		{"-0", 0, true},
		{"-2147023293", -2147023293, true},
		{"2147944003", -2147023293, true},
		{"0x80070643", -2147023293, true},
		{"0X80070643", -2147023293, true},
		{"0x80070643", -2147023293, true},
		{"0x8007064a", -2147023286, true},
		{"0x8007064A", -2147023286, true},
		{"0x643", 1603, true},
		{"0x0", 0, true},
		{"0x00000000", 0, true},
		{"4294967295", -1, true},
		{"0xffffffff", -1, true},
		{"2147483647", math.MaxInt32, true},
		{"2147483648", math.MinInt32, true},
		{"-2147483648", math.MinInt32, true},
		{"0x7fffffff", math.MaxInt32, true},
		{"", 0, false},
		{"-", 0, false},
		{"+5", 0, false},
		{"0x", 0, false},
		{"-0x1", 0, false},
		{"+0x1", 0, false},
		{"0x123456789", 0, false},
		{"0x1g", 0, false},
		{"4294967296", 0, false},
		{"99999999999999999999999", 0, false},
		{"-2147483649", 0, false},
		{"12a", 0, false},
		{" 12", 0, false},
		{"12 ", 0, false},
		{"1.5", 0, false},
		{"x10", 0, false},
		{"0x-1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := Parse([]byte(tt.in))
			if ok != tt.ok || (ok && got != tt.want) {
				t.Fatalf("Parse(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseSameHRESULTAllForms(t *testing.T) {
	forms := []string{"0x80070643", "2147944003", "-2147023293", "0X80070643"}
	var first int64
	for i, f := range forms {
		v, ok := Parse([]byte(f))
		if !ok {
			t.Fatalf("Parse(%q) not ok", f)
		}
		if i == 0 {
			first = v
		} else if v != first {
			t.Errorf("Parse(%q) = %d, Parse(%q) = %d", f, v, forms[0], first)
		}
	}
}

func TestWin32FromHRESULT(t *testing.T) {
	tests := []struct {
		v    int64
		want int64
		ok   bool
	}{
		{hr(0x80070643), 1603, true},
		{hr(0x80070005), 5, true},
		{hr(0x80070BC2), 3010, true},
		{hr(0x80004005), 0, false},
		{hr(0x86000002), 0, false},
		{1603, 0, false},
		{0, 0, false},
		{0x00070643, 0, false}, // severity bit clear: not a failure HRESULT
	}
	for _, tt := range tests {
		t.Run(string(AppendHex(nil, tt.v)), func(t *testing.T) {
			got, ok := Win32FromHRESULT(tt.v)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("Win32FromHRESULT(%#x) = %d, %v; want %d, %v", tt.v, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAppendHex(t *testing.T) {
	tests := []struct {
		v    int64
		want string
	}{
		{-2147023293, "0x80070643"},
		{0, "0x00000000"},
		{1603, "0x00000643"},
		{-1, "0xffffffff"},
		{hr(0x8000FFFF), "0x8000ffff"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := string(AppendHex([]byte("x="), tt.v))
			if got != "x="+tt.want {
				t.Fatalf("AppendHex(%d) = %q, want %q", tt.v, got, "x="+tt.want)
			}
			back, ok := Parse([]byte(tt.want))
			if !ok || back != tt.v {
				t.Fatalf("Parse(AppendHex(%d)) = %d, %v", tt.v, back, ok)
			}
		})
	}
}

func TestIsHRESULT(t *testing.T) {
	for v, want := range map[int64]bool{0: false, 1603: false, -1: true, math.MinInt32: true, math.MinInt32 - 1: false, -2147023293: true} {
		if got := IsHRESULT(v); got != want {
			t.Errorf("IsHRESULT(%d) = %v, want %v", v, got, want)
		}
	}
}

// TestRequiredEntries checks that every code the foundation issue lists has
// its own entry (Known), with the name the references give where it matters.
func TestRequiredEntries(t *testing.T) {
	type want struct {
		s    Space
		v    int64
		name string
	}
	var req []want
	for _, v := range []int64{0, 997, 13, 1460, 1602, 1603, 17000, 17001, 17002, 17003, 17004, 17005, 17006, 17007, 17100, hr(0x80004005), hr(0x8000FFFF)} {
		req = append(req, want{SpaceOfficeStatus, v, ""})
	}
	req = append(req, want{SpaceOfficeFinal, 70, ""}, want{SpaceOfficeFinal, 60, ""})
	for _, v := range []int64{10, 20, 25, 30, 40, 48, 50, 55, 60, 70} {
		req = append(req, want{SpaceMSIStatus, v, ""})
	}
	for _, v := range []int64{0, 13, 1460, 1601, 1602, 1603, 1605, 1606, 1612, 1614, 1618, 1619, 1620, 1624, 1625, 1633, 1638, 1639, 1641, 3010,
		17000, 17001, 17002, 17003, 17004, 17005, 17006, 17007, 17100, 1604, 1607, 1608, 1613, 1615, 1616, 1621, 1622, 1623,
		1626, 1627, 1628, 1629, 1630, 1631, 1632, 1634, 1635, 1636, 1637, 1640, 1642, 1643, 1644, 1645, 1646, 1647, 1648, 1649, 1650,
		2, 3, 5, 87, 112, 1223, 1392} {
		req = append(req, want{SpaceWin32, v, ""})
	}
	req = append(req,
		want{SpaceWin32, 1603, "ERROR_INSTALL_FAILURE"},
		want{SpaceWin32, 1618, "ERROR_INSTALL_ALREADY_RUNNING"},
		want{SpaceWin32, 3010, "ERROR_SUCCESS_REBOOT_REQUIRED"},
		want{SpaceWin32, 1641, "ERROR_SUCCESS_REBOOT_INITIATED"},
		want{SpaceHRESULT, 0, "S_OK"},
		want{SpaceHRESULT, hr(0x80004005), "E_FAIL"},
		want{SpaceHRESULT, hr(0x8000FFFF), "E_UNEXPECTED"},
		want{SpaceHRESULT, hr(0x80070005), "E_ACCESSDENIED"},
		want{SpaceHRESULT, hr(0x80070057), "E_INVALIDARG"},
		want{SpaceHRESULT, hr(0x8007000E), "E_OUTOFMEMORY"},
		want{SpaceHRESULT, hr(0x80004001), "E_NOTIMPL"},
		want{SpaceHRESULT, hr(0x80004004), "E_ABORT"},
		want{SpaceOMADM, 404, "Not found"},
		want{SpaceOMADM, 405, "Command not allowed"},
		want{SpaceOMADM, 406, "Optional feature not supported"},
		want{SpaceOMADM, 418, "Already exists"},
		want{SpaceOMADM, 500, "Command failed"},
		want{SpaceOMADM, 507, "Atomic failed"},
		want{SpaceOMADM, 516, "Atomic roll back failed"},
	)
	for _, v := range []int64{200, 202, 212, 213, 214, 215, 216} {
		req = append(req, want{SpaceOMADM, v, ""})
	}
	for v := int64(400); v <= 425; v++ {
		req = append(req, want{SpaceOMADM, v, ""})
	}
	for v := int64(500); v <= 516; v++ {
		if v == 509 || v == 515 { // reserved in SyncML RepPro: no name to give
			continue
		}
		req = append(req, want{SpaceOMADM, v, ""})
	}
	for _, w := range req {
		in := Classify(w.s, w.v)
		if !in.Known || in.Name == "" || in.Description == "" {
			t.Errorf("%s %d: Known=%v name=%q desc=%q, want an entry", w.s, w.v, in.Known, in.Name, in.Description)
			continue
		}
		if w.name != "" && in.Name != w.name {
			t.Errorf("%s %d: name %q, want %q", w.s, w.v, in.Name, w.name)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name  string
		s     Space
		v     int64
		out   Outcome
		cat   Category
		known bool
		cname string
	}{
		{"office 0", SpaceOfficeStatus, 0, Succeeded, CatNone, true, "ERROR_SUCCESS"},
		{"office 997", SpaceOfficeStatus, 997, InProgress, CatNone, true, ""},
		{"office 13 signature", SpaceOfficeStatus, 13, Failed, CatSignature, true, "ERROR_INVALID_DATA"},
		{"office 1460 network", SpaceOfficeStatus, 1460, Failed, CatNetwork, true, "ERROR_TIMEOUT"},
		{"office 1603 prerequisite", SpaceOfficeStatus, 1603, Failed, CatPrerequisite, true, "ERROR_INSTALL_FAILURE"},
		{"office 17003 conflict", SpaceOfficeStatus, 17003, Failed, CatConflict, true, "ERROR_ANOTHER_RUNNING_SCENARIO"},
		{"office E_FAIL", SpaceOfficeStatus, hr(0x80004005), Failed, CatPrerequisite, true, "E_FAIL"},
		{"office unlisted 3010 fails", SpaceOfficeStatus, 3010, Failed, CatUnknown, true, "ERROR_SUCCESS_REBOOT_REQUIRED"},
		{"office unlisted 1618 borrows", SpaceOfficeStatus, 1618, Failed, CatConflict, true, "ERROR_INSTALL_ALREADY_RUNNING"},
		{"office unlisted hresult borrows", SpaceOfficeStatus, hr(0x80070643), Failed, CatInstaller, true, "ERROR_INSTALL_FAILURE"},
		{"office unlisted http hresult", SpaceOfficeStatus, hr(0x80190194), Failed, CatNetwork, true, "HTTP_E_STATUS_NOT_FOUND"},
		{"office unlisted unknown", SpaceOfficeStatus, 12345, Failed, CatUnknown, false, ""},
		{"final 70", SpaceOfficeFinal, 70, Succeeded, CatNone, true, ""},
		{"final 60", SpaceOfficeFinal, 60, Failed, CatUnknown, true, ""},
		{"final other", SpaceOfficeFinal, 0, Unknown, CatNone, false, ""},
		{"msi 10", SpaceMSIStatus, 10, Pending, CatNone, true, "Initialized"},
		{"msi 20", SpaceMSIStatus, 20, InProgress, CatNone, true, "Download In Progress"},
		{"msi 25", SpaceMSIStatus, 25, Retrying, CatNetwork, true, "Pending Download Retry"},
		{"msi 30", SpaceMSIStatus, 30, Failed, CatNetwork, true, "Download Failed"},
		{"msi 40", SpaceMSIStatus, 40, InProgress, CatNone, true, "Download Completed"},
		{"msi 48", SpaceMSIStatus, 48, Pending, CatNone, true, "Pending User Session"},
		{"msi 50", SpaceMSIStatus, 50, InProgress, CatNone, true, "Enforcement In Progress"},
		{"msi 55", SpaceMSIStatus, 55, Retrying, CatNone, true, "Pending Enforcement Retry"},
		{"msi 60", SpaceMSIStatus, 60, Failed, CatUnknown, true, "Enforcement Failed"},
		{"msi 70", SpaceMSIStatus, 70, Succeeded, CatNone, true, "Enforcement Completed"},
		{"msi other", SpaceMSIStatus, 0, Unknown, CatNone, false, ""},
		{"win32 0", SpaceWin32, 0, Succeeded, CatNone, true, "ERROR_SUCCESS"},
		{"win32 3010", SpaceWin32, 3010, Succeeded, CatRebootRequired, true, "ERROR_SUCCESS_REBOOT_REQUIRED"},
		{"win32 1641", SpaceWin32, 1641, Succeeded, CatRebootRequired, true, "ERROR_SUCCESS_REBOOT_INITIATED"},
		{"win32 1618", SpaceWin32, 1618, Failed, CatConflict, true, "ERROR_INSTALL_ALREADY_RUNNING"},
		{"win32 1602", SpaceWin32, 1602, Failed, CatUserCancel, true, "ERROR_INSTALL_USEREXIT"},
		{"win32 1605", SpaceWin32, 1605, Failed, CatNotFound, true, "ERROR_UNKNOWN_PRODUCT"},
		{"win32 112", SpaceWin32, 112, Failed, CatDisk, true, "ERROR_DISK_FULL"},
		{"win32 1612", SpaceWin32, 1612, Failed, CatContent, true, "ERROR_INSTALL_SOURCE_ABSENT"},
		{"win32 1625", SpaceWin32, 1625, Failed, CatPolicy, true, "ERROR_INSTALL_PACKAGE_REJECTED"},
		{"win32 17002", SpaceWin32, 17002, Failed, CatInstaller, true, "ERROR_COMPLETING_SCENARIO"},
		{"win32 1603", SpaceWin32, 1603, Failed, CatInstaller, true, "ERROR_INSTALL_FAILURE"},
		{"win32 1619", SpaceWin32, 1619, Failed, CatContent, true, "ERROR_INSTALL_PACKAGE_OPEN_FAILED"},
		{"win32 1633", SpaceWin32, 1633, Failed, CatPrerequisite, true, "ERROR_INSTALL_PLATFORM_UNSUPPORTED"},
		{"win32 1638", SpaceWin32, 1638, Failed, CatConflict, true, "ERROR_PRODUCT_VERSION"},
		{"win32 1639", SpaceWin32, 1639, Failed, CatCommand, true, "ERROR_INVALID_COMMAND_LINE"},
		{"win32 unlisted", SpaceWin32, 4242, Failed, CatUnknown, false, ""},
		{"win32 given an hresult", SpaceWin32, -2147023293, Failed, CatInstaller, true, "ERROR_INSTALL_FAILURE"},
		{"hresult facility win32", SpaceHRESULT, -2147023293, Failed, CatInstaller, true, "ERROR_INSTALL_FAILURE"},
		{"hresult facility win32 1618", SpaceHRESULT, hr(0x80070652), Failed, CatConflict, true, "ERROR_INSTALL_ALREADY_RUNNING"},
		{"hresult facility win32 unlisted", SpaceHRESULT, hr(0x80071234), Failed, CatUnknown, false, ""},
		{"hresult own entry wins", SpaceHRESULT, hr(0x80070005), Failed, CatPolicy, true, "E_ACCESSDENIED"},
		{"hresult E_FAIL", SpaceHRESULT, hr(0x80004005), Failed, CatUnknown, true, "E_FAIL"},
		{"hresult E_ABORT", SpaceHRESULT, hr(0x80004004), Failed, CatUnknown, true, "E_ABORT"},
		{"hresult signature", SpaceHRESULT, hr(0x800B0100), Failed, CatSignature, true, "TRUST_E_NOSIGNATURE"},
		{"hresult S_OK", SpaceHRESULT, 0, Succeeded, CatNone, true, "S_OK"},
		{"hresult mdm client node not found", SpaceHRESULT, hr(0x86000002), Failed, CatNotFound, true, "CFGMGR_E_NODENOTFOUND"},
		{"hresult mdm client command not allowed", SpaceHRESULT, hr(0x86000011), Failed, CatCommand, true, "CFGMGR_E_COMMANDNOTALLOWED"},
		{"hresult mdm client unlisted", SpaceHRESULT, hr(0x8600001A), Failed, CatClient, false, ""},
		{"win32 given mdm client hresult", SpaceWin32, hr(0x86000002), Failed, CatNotFound, true, "CFGMGR_E_NODENOTFOUND"},
		{"office unlisted mdm client borrows", SpaceOfficeStatus, hr(0x86000018), Failed, CatCommand, true, "CFGMGR_E_XMLPARSEERROR"},
		{"hresult unlisted negative", SpaceHRESULT, hr(0x80041234), Failed, CatUnknown, false, ""},
		{"hresult http 404", SpaceHRESULT, -2145844844, Failed, CatNetwork, true, "HTTP_E_STATUS_NOT_FOUND"},
		{"hresult http unlisted 418", SpaceHRESULT, hr(0x801901A2), Failed, CatNetwork, false, ""},
		{"win32 given http hresult", SpaceWin32, -2145844844, Failed, CatNetwork, true, "HTTP_E_STATUS_NOT_FOUND"},
		{"hresult unlisted positive", SpaceHRESULT, 7, Succeeded, CatNone, false, ""},
		{"omadm 200", SpaceOMADM, 200, Succeeded, CatNone, true, "OK"},
		{"omadm 202", SpaceOMADM, 202, InProgress, CatNone, true, "Accepted for processing"},
		{"omadm 404", SpaceOMADM, 404, Failed, CatNotFound, true, "Not found"},
		{"omadm 418", SpaceOMADM, 418, Failed, CatConflict, true, "Already exists"},
		{"omadm 500", SpaceOMADM, 500, Failed, CatClient, true, "Command failed"},
		{"omadm 507", SpaceOMADM, 507, Failed, CatAtomic, true, "Atomic failed"},
		{"omadm unlisted 201", SpaceOMADM, 201, Succeeded, CatNone, false, ""},
		{"omadm unlisted 101", SpaceOMADM, 101, InProgress, CatNone, false, ""},
		{"omadm unlisted 301", SpaceOMADM, 301, Failed, CatUnknown, false, ""},
		{"omadm unlisted 426", SpaceOMADM, 426, Failed, CatCommand, false, ""},
		{"omadm unlisted 509", SpaceOMADM, 509, Failed, CatClient, false, ""},
		{"omadm unlisted 599", SpaceOMADM, 599, Failed, CatClient, false, ""},
		{"omadm unlisted 0", SpaceOMADM, 0, Unknown, CatNone, false, ""},
		{"unknown space", Space("nope"), 0, Unknown, CatNone, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Classify(tt.s, tt.v)
			if in.Outcome != tt.out || in.Category != tt.cat || in.Known != tt.known {
				t.Fatalf("Classify(%s, %d) = outcome %q category %q known %v; want %q %q %v",
					tt.s, tt.v, in.Outcome, in.Category, in.Known, tt.out, tt.cat, tt.known)
			}
			if tt.cname != "" && in.Name != tt.cname {
				t.Fatalf("Classify(%s, %d).Name = %q, want %q", tt.s, tt.v, in.Name, tt.cname)
			}
			if in.Value != tt.v {
				t.Fatalf("Classify(%s, %d).Value = %d", tt.s, tt.v, in.Value)
			}
		})
	}
}

// TestDesignOutcomes checks the DESIGN.md outcome rules over whole ranges,
// listed entries and defaults alike.
func TestDesignOutcomes(t *testing.T) {
	for v := int64(-5); v < 20000; v++ {
		o := Classify(SpaceOfficeStatus, v).Outcome
		switch {
		case v == 0 && o != Succeeded, v == 997 && o != InProgress, v != 0 && v != 997 && o != Failed:
			t.Fatalf("office status %d: outcome %s", v, o)
		}
		w := Classify(SpaceWin32, v)
		switch {
		case v == 0 && w.Outcome != Succeeded,
			(v == 3010 || v == 1641) && (w.Outcome != Succeeded || w.Category != CatRebootRequired),
			v != 0 && v != 3010 && v != 1641 && w.Outcome != Failed:
			t.Fatalf("win32 %d: %s/%s", v, w.Outcome, w.Category)
		}
		m := Classify(SpaceOMADM, v).Outcome
		switch {
		case v == 202 && m != InProgress,
			v >= 400 && v < 600 && m != Failed:
			t.Fatalf("omadm %d: %s", v, m)
		}
		if v >= 200 && v < 300 && v != 202 && v != 213 && v != 215 && v != 216 && m != Succeeded {
			t.Fatalf("omadm %d: %s", v, m)
		}
	}
}

func TestCatalogWellFormed(t *testing.T) {
	valid := map[Outcome]bool{Succeeded: true, Failed: true, InProgress: true, Pending: true, Retrying: true, Unknown: true}
	all := All()
	if len(all) != len(catalog) {
		t.Fatalf("All has %d entries, catalog %d", len(all), len(catalog))
	}
	for i, e := range all {
		if !e.Known || e.Name == "" || e.Description == "" || !valid[e.Outcome] {
			t.Errorf("entry %s %d %q: incomplete (%+v)", e.Space, e.Value, e.Name, e)
		}
		if e.Outcome == Failed && e.Category == CatNone {
			t.Errorf("entry %s %d %q: a failure needs a category", e.Space, e.Value, e.Name)
		}
		if (e.Outcome == Succeeded || e.Outcome == InProgress || e.Outcome == Pending) && e.Category != CatNone && e.Category != CatRebootRequired {
			t.Errorf("entry %s %d %q: %s with category %q", e.Space, e.Value, e.Name, e.Outcome, e.Category)
		}
		if e.Space == SpaceHRESULT || (e.Value < 0) {
			if e.Value < math.MinInt32 || e.Value > math.MaxInt32 {
				t.Errorf("entry %s %d: outside int32", e.Space, e.Value)
			}
		}
		if i > 0 {
			p := all[i-1]
			if p.Space == e.Space && p.Value >= e.Value {
				t.Errorf("All not sorted at %s %d", e.Space, e.Value)
			}
		}
		if got := Classify(e.Space, e.Value); got != e {
			t.Errorf("Classify(%s, %d) = %+v, want its entry %+v", e.Space, e.Value, got, e)
		}
	}
	// All returns a copy: changing it must not change the catalog.
	all[0].Name = "changed"
	if All()[0].Name == "changed" {
		t.Fatal("All returned the catalog's own slice")
	}
}

func TestBuildTablesRejectsDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate entry accepted")
		}
	}()
	buildTables([]entry{{SpaceWin32, 1, "A", "a", Failed, CatUnknown, "s", "a"}, {SpaceWin32, 1, "B", "b", Failed, CatUnknown, "s", "a"}})
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	cases := []struct {
		s Space
		v int64
	}{
		{SpaceWin32, 1603}, {SpaceHRESULT, -2147023293}, {SpaceOfficeStatus, 1618}, {SpaceOfficeStatus, 4242},
		{SpaceMSIStatus, 70}, {SpaceOMADM, 299}, {SpaceOfficeFinal, 60}, {SpaceWin32, -2147467259},
		{SpaceHRESULT, hr(0x8600001A)}, {SpaceOMADM, 426}, {SpaceOMADM, 599},
	}
	var sink Info
	for _, c := range cases {
		if n := testing.AllocsPerRun(100, func() { sink = Classify(c.s, c.v) }); n != 0 {
			t.Errorf("Classify(%s, %d) allocates %.1f times", c.s, c.v, n)
		}
	}
	in := [][]byte{[]byte("0x80070643"), []byte("-2147023293"), []byte("4294967295"), []byte("bad")}
	for _, b := range in {
		if n := testing.AllocsPerRun(100, func() { Parse(b) }); n != 0 {
			t.Errorf("Parse(%q) allocates %.1f times", b, n)
		}
	}
	buf := make([]byte, 0, 16)
	if n := testing.AllocsPerRun(100, func() { buf = AppendHex(buf[:0], -1) }); n != 0 {
		t.Errorf("AppendHex allocates %.1f times", n)
	}
	_ = sink
}

func TestMarkdownGolden(t *testing.T) {
	got := Markdown()
	// codes.md is generated from catalog.go: -update rewrites it.
	testkit.Golden(t, "codes.md", got)
	for _, name := range []string{"ERROR_INSTALL_FAILURE", "Enforcement Completed", "Atomic roll back failed", "0x80004005"} {
		if !strings.Contains(string(got), name) {
			t.Errorf("Markdown lacks %q", name)
		}
	}
}

// parseRef is the strconv-based reference the fuzz target checks Parse
// against.
func parseRef(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		h := s[2:]
		if len(h) == 0 || len(h) > 8 || strings.ContainsAny(h, "+-_") {
			return 0, false
		}
		u, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			return 0, false
		}
		return int64(int32(uint32(u))), true
	}
	if s[0] == '+' || strings.Contains(s, "_") {
		return 0, false
	}
	if s[0] == '-' {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < math.MinInt32 || len(s) < 2 || s[1] < '0' || s[1] > '9' {
			return 0, false
		}
		return n, true
	}
	u, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int64(int32(uint32(u))), true
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "1603", "-2147023293", "2147944003", "0x80070643", "0X8000FFFF", "4294967296", "-", "0x", "+1", "-0x1", "0x123456789", "00000000000000000000001603"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := Parse(b)
		rv, rok := parseRef(string(b))
		if ok != rok || v != rv {
			t.Fatalf("Parse(%q) = %d, %v; reference %d, %v", b, v, ok, rv, rok)
		}
		if ok {
			if v < math.MinInt32 || v > math.MaxInt32 {
				t.Fatalf("Parse(%q) = %d outside int32", b, v)
			}
			back, ok := Parse(AppendHex(nil, v))
			if !ok || back != v {
				t.Fatalf("hex round trip of %d gave %d, %v", v, back, ok)
			}
			_ = Classify(SpaceWin32, v)
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	cases := []struct {
		name string
		s    Space
		v    int64
	}{
		{"win32", SpaceWin32, 1603},
		{"hresult_win32", SpaceHRESULT, -2147023293},
		{"msi", SpaceMSIStatus, 50},
		{"omadm_default", SpaceOMADM, 299},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink Info
			for b.Loop() {
				sink = Classify(c.s, c.v)
			}
			_ = sink
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, s := range []string{"1603", "-2147023293", "0x80070643"} {
		in := []byte(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				Parse(in)
			}
		})
	}
}

// TestAdviceAndSource checks that the codes an on-call admin meets most have
// advice and a source, in every form a device sends them.
func TestAdviceAndSource(t *testing.T) {
	type sv struct {
		s Space
		v int64
	}
	var req []sv
	for _, v := range []int64{1603, 1618, 1619, 1620, 1625, 1633, 1638, 1639, 3010, 1641,
		17000, 17001, 17002, 17003, 17004, 17005, 17006, 17007, 17100, 1460, 12002, 12007, 12029, 112, 5} {
		req = append(req, sv{SpaceWin32, v})
		if v < 17000 && v != 112 && v != 5 {
			// The FACILITY_WIN32 form resolves to the same entry.
			req = append(req, sv{SpaceHRESULT, hr(0x80070000 | uint32(v))})
		}
	}
	for _, v := range []int64{17000, 17001, 17002, 17003, 17004, 17005, 17006, 17007, 17100, 1603, 13, 1460} {
		req = append(req, sv{SpaceOfficeStatus, v})
	}
	for _, v := range []int64{25, 30, 55, 60} {
		req = append(req, sv{SpaceMSIStatus, v})
	}
	for _, v := range []int64{404, 405, 418, 500, 507} {
		req = append(req, sv{SpaceOMADM, v})
	}
	for _, v := range []uint32{0x86000002, 0x80190194, 0x80190193, 0x801901F4, 0x80070005, 0x800B0100} {
		req = append(req, sv{SpaceHRESULT, hr(v)})
	}
	for _, r := range req {
		in := Classify(r.s, r.v)
		if in.Advice == "" || in.Source == "" || in.Name == "" {
			t.Errorf("%s %d: name %q source %q advice %q, want all set", r.s, r.v, in.Name, in.Source, in.Advice)
		}
		// MSI Enforcement Failed (60) says "see LastError": unknown by design.
		if in.Outcome == Failed && in.Category == CatUnknown && r.s != SpaceMSIStatus {
			t.Errorf("%s %d: category unknown for a code whose meaning is known", r.s, r.v)
		}
	}
	// The FACILITY_WIN32 form and the Win32 code give the same entry.
	a, b := Classify(SpaceHRESULT, hr(0x80070643)), Classify(SpaceWin32, 1603)
	if a.Name != b.Name || a.Category != b.Category || a.Advice != b.Advice || a.Source != b.Source {
		t.Errorf("0x80070643 %+v and 1603 %+v differ", a, b)
	}
	// Every entry has both, and uses a category of the documented vocabulary.
	cats := map[Category]bool{CatNone: true}
	for _, c := range Categories() {
		cats[c] = true
	}
	n := 0
	for _, e := range All() {
		if e.Advice == "" || e.Source == "" {
			t.Errorf("entry %s %d %q: no advice or source", e.Space, e.Value, e.Name)
		}
		if !cats[e.Category] {
			t.Errorf("entry %s %d: category %q not in Categories", e.Space, e.Value, e.Category)
		}
		n++
	}
	t.Logf("%d entries with advice and source", n)
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		s      Space
		v      int64
		wantS  Space
		wantV  int64
		sameNm bool
	}{
		{SpaceHRESULT, hr(0x80070643), SpaceWin32, 1603, true},
		{SpaceWin32, hr(0x80070643), SpaceWin32, 1603, true},
		{SpaceWin32, 1603, SpaceWin32, 1603, true},
		{SpaceHRESULT, hr(0x80070652), SpaceWin32, 1618, true},
		{SpaceHRESULT, hr(0x80070BC2), SpaceWin32, 3010, true},
		{SpaceHRESULT, hr(0x80071234), SpaceWin32, 0x1234, true},
		{SpaceHRESULT, hr(0x80070005), SpaceWin32, 5, false}, // E_ACCESSDENIED is ERROR_ACCESS_DENIED
		{SpaceHRESULT, hr(0x80190194), SpaceHRESULT, hr(0x80190194), true},
		{SpaceWin32, hr(0x80190194), SpaceHRESULT, hr(0x80190194), true},
		{SpaceHRESULT, hr(0x86000002), SpaceHRESULT, hr(0x86000002), true},
		{SpaceHRESULT, hr(0x80004005), SpaceHRESULT, hr(0x80004005), true},
		{SpaceHRESULT, 0, SpaceHRESULT, 0, true},
		{SpaceOfficeStatus, 1603, SpaceOfficeStatus, 1603, true},
		{SpaceOfficeStatus, hr(0x80070643), SpaceOfficeStatus, hr(0x80070643), true},
		{SpaceOMADM, 404, SpaceOMADM, 404, true},
		{SpaceMSIStatus, 30, SpaceMSIStatus, 30, true},
	}
	for _, tt := range tests {
		gs, gv := Canonical(tt.s, tt.v)
		if gs != tt.wantS || gv != tt.wantV {
			t.Errorf("Canonical(%s, %#x) = %s, %#x; want %s, %#x", tt.s, tt.v, gs, gv, tt.wantS, tt.wantV)
			continue
		}
		// Idempotent.
		if s2, v2 := Canonical(gs, gv); s2 != gs || v2 != gv {
			t.Errorf("Canonical not idempotent on %s %d: %s %d", gs, gv, s2, v2)
		}
		a, b := Classify(tt.s, tt.v), Classify(gs, gv)
		if a.Outcome != b.Outcome || a.Category != b.Category || (tt.sameNm && a.Name != b.Name) {
			t.Errorf("Classify(%s, %#x) = %s/%s/%q but canonical %s %d gives %s/%s/%q",
				tt.s, tt.v, a.Outcome, a.Category, a.Name, gs, gv, b.Outcome, b.Category, b.Name)
		}
	}
	// Round trip over every catalog entry: the canonical form keeps the
	// outcome and category.
	for _, e := range All() {
		gs, gv := Canonical(e.Space, e.Value)
		b := Classify(gs, gv)
		if b.Outcome != e.Outcome || b.Category != e.Category {
			t.Errorf("entry %s %d (%s): canonical %s %d is %s/%s, entry %s/%s", e.Space, e.Value, e.Name, gs, gv, b.Outcome, b.Category, e.Outcome, e.Category)
		}
	}
	var space Space
	if n := testing.AllocsPerRun(100, func() { space, _ = Canonical(SpaceHRESULT, hr(0x80070643)) }); n != 0 {
		t.Errorf("Canonical allocates %.1f times", n)
	}
	if space != SpaceWin32 {
		t.Errorf("Canonical(hresult 0x80070643) is in space %s, want %s", space, SpaceWin32)
	}
}

func TestFacilityHTTP(t *testing.T) {
	tests := []struct {
		v      int64
		status int64
		name   string
	}{
		{-2145844844, 404, "HTTP_E_STATUS_NOT_FOUND"}, // the realworld LastError
		{hr(0x80190190), 400, "HTTP_E_STATUS_BAD_REQUEST"},
		{hr(0x80190191), 401, "HTTP_E_STATUS_DENIED"},
		{hr(0x80190193), 403, "HTTP_E_STATUS_FORBIDDEN"},
		{hr(0x80190197), 407, "HTTP_E_STATUS_PROXY_AUTH_REQ"},
		{hr(0x801901F4), 500, "HTTP_E_STATUS_SERVER_ERROR"},
		{hr(0x801901F7), 503, "HTTP_E_STATUS_SERVICE_UNAVAIL"},
		{hr(0x801901A2), 418, ""}, // no entry: decoded by facility alone
	}
	for _, tt := range tests {
		st, ok := HTTPStatusFromHRESULT(tt.v)
		if !ok || st != tt.status {
			t.Errorf("HTTPStatusFromHRESULT(%#x) = %d, %v; want %d", tt.v, st, ok, tt.status)
		}
		in := Classify(SpaceHRESULT, tt.v)
		if in.Outcome != Failed || in.Category != CatNetwork || in.Name != tt.name || in.Advice == "" || in.Source == "" {
			t.Errorf("Classify(hresult, %#x) = %+v", tt.v, in)
		}
		if tt.name == "" && (in.Known || in.Description == "") {
			t.Errorf("unlisted FACILITY_HTTP %#x: Known %v desc %q", tt.v, in.Known, in.Description)
		}
	}
	for _, v := range []int64{hr(0x80070643), 404, 0, hr(0x00190194), hr(0x86000002)} {
		if _, ok := HTTPStatusFromHRESULT(v); ok {
			t.Errorf("HTTPStatusFromHRESULT(%#x) ok", v)
		}
	}
}

// mdmClientHRESULTs are the MDM client's configuration manager failure
// HRESULTs (cfgmgr2err.h, CFGMGR_E_*) the catalog lists, with their names.
var mdmClientHRESULTs = []struct {
	v    uint32
	name string
}{
	{0x86000000, "CFGMGR_E_INVALIDNODEOPTIONS"},
	{0x86000001, "CFGMGR_E_INVALIDDATATYPE"},
	{0x86000002, "CFGMGR_E_NODENOTFOUND"},
	{0x86000003, "CFGMGR_E_ILLEGALOPERATIONINATRANSACTION"},
	{0x86000004, "CFGMGR_E_ILLEGALOPERATIONOUTSIDEATRANSACTION"},
	{0x86000005, "CFGMGR_E_ONEORMOREEXECUTIONFAILURES"},
	{0x86000006, "CFGMGR_E_ONEORMORECANCELFAILURES"},
	{0x86000008, "CFGMGR_E_COMMITFAILURE"},
	{0x86000009, "CFGMGR_E_ROLLBACKFAILURE"},
	{0x8600000A, "CFGMGR_E_ONEORMORECLEANUPFAILURES"},
	{0x8600000B, "CFGMGR_E_CONFIGNODESTATEOBJECTNOLONGERVALID"},
	{0x8600000C, "CFGMGR_E_CSPREGISTRATIONCORRUPT"},
	{0x8600000D, "CFGMGR_E_NODEFAILEDTOCANCEL"},
	{0x8600000E, "CFGMGR_E_DEPENDENTOPERATIONFAILURE"},
	{0x8600000F, "CFGMGR_E_CSPNODEILLEGALSTATE"},
	{0x86000010, "CFGMGR_E_REQUIRESINTERNALTRANSACTIONING"},
	{0x86000011, "CFGMGR_E_COMMANDNOTALLOWED"},
	{0x86000012, "CFGMGR_E_INTERCSPOPERATION"},
	{0x86000013, "CFGMGR_E_PROPERTYNOTSUPPORTED"},
	{0x86000014, "CFGMGR_E_INVALIDSEMANTICTYPE"},
	{0x86000015, "CFGMGR_E_FORBIDDENURISEGMENT"},
	{0x86000016, "CFGMGR_E_READWRITEACCESSDENIED"},
	{0x86000017, "CFGMGR_E_SECRETDATAACCESSDENIED"},
	{0x86000018, "CFGMGR_E_XMLPARSEERROR"},
	{0x86000019, "CFGMGR_E_COMMANDTIMEOUT"},
	{0x86000020, "CFGMGR_E_IMPERSONATIONERROR"},
	{0x86000021, "CFGMGR_E_WMIOPERATIONERROR"},
	{0x86000022, "CFGMGR_E_NOIMPERSONATIONTARGET"},
	{0x86000023, "RESOURCEMGR_E_RESOURCEALREADYOWNED"},
}

// TestIssue12FieldCodes checks the codes issue #12 names as the ones seen
// most in the field, plus every MDM client HRESULT the catalog lists: each
// has its own entry with a name, advice and a source, and a failure among
// them has a cause category (neither unknown nor none).
func TestIssue12FieldCodes(t *testing.T) {
	type tc struct {
		name string
		s    Space
		v    int64
		want string // the entry's name, when the test pins it
	}
	var tests []tc
	add := func(s Space, v int64, want string) {
		label := string(s) + "/" + strconv.FormatInt(v, 10)
		if v < 0 {
			label = string(s) + "/" + string(AppendHex(nil, v))
		}
		tests = append(tests, tc{label, s, v, want})
	}
	// Windows Installer.
	for _, v := range []int64{1603, 1618, 1619, 1620, 1625, 1633, 1638, 1639, 3010, 1641} {
		add(SpaceWin32, v, "")
		add(SpaceHRESULT, hr(0x80070000|uint32(v)), "") // the FACILITY_WIN32 form devices also send
	}
	// Click-to-Run, in the generic alert (win32) and the Office CSP Status.
	for _, v := range []int64{17000, 17001, 17002, 17003, 17004, 17005, 17006, 17007, 17100} {
		add(SpaceWin32, v, "")
		add(SpaceOfficeStatus, v, "")
	}
	// OMA-DM statuses.
	for _, v := range []int64{404, 405, 418, 500, 507} {
		add(SpaceOMADM, v, "")
	}
	// The MDM client's 0x86000xxx family, in the hresult space and as a
	// negative value reported in the win32 space.
	for _, c := range mdmClientHRESULTs {
		add(SpaceHRESULT, hr(c.v), c.name)
		add(SpaceWin32, hr(c.v), c.name)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Classify(tt.s, tt.v)
			if !in.Known {
				t.Fatalf("Classify(%s, %d): no catalog entry", tt.s, tt.v)
			}
			if in.Name == "" || in.Advice == "" || in.Source == "" {
				t.Errorf("name %q advice %q source %q: want all set", in.Name, in.Advice, in.Source)
			}
			if tt.want != "" && in.Name != tt.want {
				t.Errorf("name %q, want %q", in.Name, tt.want)
			}
			if in.Outcome == Failed && (in.Category == CatUnknown || in.Category == CatNone) {
				t.Errorf("failed with category %q: want a cause", in.Category)
			}
		})
	}
	// The family is complete: every listed MDM client HRESULT is in the test
	// list above, so an entry added to the catalog gets tested too.
	listed := map[int64]bool{}
	for _, c := range mdmClientHRESULTs {
		listed[hr(c.v)] = true
	}
	for _, e := range All() {
		if e.Space == SpaceHRESULT && uint32(e.Value)&facilityMask == facilityCfgMgr && !listed[e.Value] {
			t.Errorf("catalog lists MDM client HRESULT %s (%s) that mdmClientHRESULTs lacks", AppendHex(nil, e.Value), e.Name)
		}
	}
}

// A Win32 success code reported as an Office Status is a failure by the
// Office rule, and its advice must not say it succeeded.
func TestOfficeStatusSuccessCodeIsNotAdvisedAsSuccess(t *testing.T) {
	for _, v := range []int64{3010, 1641} {
		in := Classify(SpaceOfficeStatus, v)
		if in.Outcome != Failed || in.Category != CatUnknown || strings.Contains(in.Advice, "succeeded but") || in.Advice == "" {
			t.Errorf("office_status %d: %+v", v, in)
		}
	}
}
