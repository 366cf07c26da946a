package normalize

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/cspwatch/cspwatch/internal/event"
)

// cspPath is what a LocURI says about an install: which CSP, which target,
// which node. All fields are either constants or slices of the LocURI, so
// parsing one allocates nothing.
type cspPath struct {
	scope string // event.ScopeDevice or event.ScopeUser
	csp   string // event.CSPOffice, event.CSPMSI, or "" when the LocURI is not under a supported CSP
	// target is the raw target segment (Office installation id, MSI ProductID
	// or upgrade code) as sent: possibly percent-encoded and braced.
	target []byte
	// node is the canonical name of the CSP node (Status, FinalStatus, ...),
	// or "" for the target node itself.
	node string
	// nodeKnown is false when the LocURI names a node the CSP does not define.
	nodeKnown bool
}

// parsePath reads a LocURI such as ./Device/Vendor/MSFT/Office/Installation/{id}/Status,
// ./User/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7B...%7D/LastError or
// ./Vendor/MSFT/... (device scope). Segment names are matched in any case, as
// devices send them; a query (?prop=...) is ignored. It reads each byte of
// the usual LocURI once or twice and allocates nothing.
func parsePath(loc []byte) (p cspPath) {
	parsePathTo(&p, loc)
	return p
}

// parsePathTo is parsePath writing to *p, which must be zero.
func parsePathTo(p *cspPath, loc []byte) {
	// Most devices spell the root as the CSP references do. None of these
	// roots holds a '?', so a query starts after them, where next stops
	// at it.
	for _, r := range &canonicalRoots {
		if bytes.HasPrefix(loc, r.prefix) {
			p.scope = r.scope
			parseCSP(p, loc[len(r.prefix):])
			return
		}
	}
	if i := bytes.IndexByte(loc, '?'); i >= 0 {
		loc = loc[:i]
	}
	loc = bytes.TrimPrefix(loc, dotSlash)
	loc = bytes.TrimPrefix(loc, slash)
	seg, rest := next(loc)
	scope := event.ScopeDevice
	switch {
	case eqFold(seg, "Device"):
		seg, rest = next(rest)
	case eqFold(seg, "User"):
		scope = event.ScopeUser
		seg, rest = next(rest)
	}
	if !eqFold(seg, "Vendor") {
		return
	}
	if seg, rest = next(rest); !eqFold(seg, "MSFT") {
		return
	}
	p.scope = scope
	parseCSP(p, rest)
}

// parseCSP reads the part of a LocURI after Vendor/MSFT/ into p, which
// holds the scope; it leaves p zero when the LocURI is not under a supported
// CSP.
func parseCSP(p *cspPath, rest []byte) {
	// The canonical spelling down to the target skips three segments at once.
	switch {
	case bytes.HasPrefix(rest, msiPrefix):
		p.csp = event.CSPMSI
		parseMSITarget(p, rest[len(msiPrefix):])
		return
	case bytes.HasPrefix(rest, officePrefix):
		p.csp = event.CSPOffice
		parseOfficeTarget(p, rest[len(officePrefix):])
		return
	}
	seg, rest := next(rest)
	switch {
	case eqFold(seg, "Office"):
		// The CSP root or a child other than Installation is under the
		// CSP but names no install node.
		p.csp = event.CSPOffice
		if seg, rest = next(rest); eqFold(seg, "Installation") {
			parseOfficeTarget(p, rest)
		}
	case eqFold(seg, "EnterpriseDesktopAppManagement"):
		p.csp = event.CSPMSI
		if seg, rest = next(rest); eqFold(seg, "MSI") {
			parseMSITarget(p, rest)
		}
	default:
		*p = cspPath{}
	}
}

// canonicalRoots are the roots as the CSP references spell them, with the
// scope each stands for.
var canonicalRoots = [...]struct {
	prefix []byte
	scope  string
}{
	{[]byte("./Device/Vendor/MSFT/"), event.ScopeDevice},
	{[]byte("./Vendor/MSFT/"), event.ScopeDevice},
	{[]byte("./User/Vendor/MSFT/"), event.ScopeUser},
}

var (
	msiPrefix    = []byte("EnterpriseDesktopAppManagement/MSI/")
	officePrefix = []byte("Office/Installation/")
)

// parseOfficeTarget reads the part of a LocURI after Office/Installation/.
func parseOfficeTarget(p *cspPath, rest []byte) {
	seg, rest := next(rest)
	if len(seg) == 0 {
		return
	}
	if len(rest) == 0 && eqFold(seg, "CurrentStatus") {
		p.node, p.nodeKnown = "CurrentStatus", true
		return
	}
	p.target = seg
	node, extra := next(rest)
	switch {
	case len(extra) != 0:
		return
	case len(node) == 0:
		p.nodeKnown = true
		return
	}
	// officeNodes as a switch (TestNodeSwitches): devices send the
	// canonical names, which the compiler matches by length and words.
	switch string(node) {
	case "Status":
		p.node = "Status"
	case "FinalStatus":
		p.node = "FinalStatus"
	case "Install":
		p.node = "Install"
	default:
		p.node = foldNodes(node, officeNodes[:])
	}
	p.nodeKnown = p.node != ""
}

// parseMSITarget reads the part of a LocURI after EnterpriseDesktopAppManagement/MSI/.
func parseMSITarget(p *cspPath, rest []byte) {
	seg, rest := next(rest)
	if len(seg) == 0 {
		return
	}
	if eqFold(seg, "UpgradeCode") {
		code, extra := next(rest)
		if len(code) != 0 && len(extra) == 0 {
			p.target, p.node, p.nodeKnown = code, "UpgradeCode", true
		}
		return
	}
	p.target = seg
	node, extra := next(rest)
	switch {
	case len(extra) != 0:
		return
	case len(node) == 0:
		p.nodeKnown = true
		return
	}
	// msiNodes as a switch (TestNodeSwitches): a loop comparing the node
	// with each name cost BenchmarkBuild several percent.
	switch string(node) {
	case "Status":
		p.node = "Status"
	case "LastError":
		p.node = "LastError"
	case "DownloadInstall":
		p.node = "DownloadInstall"
	case "Name":
		p.node = "Name"
	case "Version":
		p.node = "Version"
	case "Publisher":
		p.node = "Publisher"
	case "InstallDate":
		p.node = "InstallDate"
	case "InstallPath":
		p.node = "InstallPath"
	case "LastErrorDesc":
		p.node = "LastErrorDesc"
	default:
		p.node = foldNodes(node, msiNodes[:])
	}
	p.nodeKnown = p.node != ""
}

// The children of Office/Installation/{id} and of MSI/{ProductID}, by
// their canonical names. The parsers match them with a switch each, which
// TestNodeSwitches checks against these lists; foldName matches the other
// spellings.
var (
	officeNodes = [...]string{"Status", "FinalStatus", "Install"}
	msiNodes    = [...]string{
		"Status", "LastError", "DownloadInstall", "Name", "Version", "Publisher",
		"InstallDate", "InstallPath", "LastErrorDesc",
	}
)

// foldNodes is foldName; TestNodeSwitches replaces it to see that the
// switches find every canonical name without it.
var foldNodes = foldName

// foldName returns the name of names that b spells in any case, or "".
func foldName(b []byte, names []string) string {
	for _, n := range names {
		if eqFold(b, n) {
			return n
		}
	}
	return ""
}

// next splits the first segment off a slash-separated path. A '?' ends the
// path: it returns the segment before it and no rest.
func next(s []byte) (seg, rest []byte) {
	i := 0
	// Target segments are GUIDs of 36 to 42 bytes: look for the end eight
	// bytes at a time. '/' and '?' differ in bit 0x10 only, so setting it
	// and comparing with '?' finds both.
	// The lowest byte the zero test marks is the first '/' or '?' (marks
	// above it may be borrows).
	for ; i+8 <= len(s); i += 8 {
		const ones, highs = 0x0101010101010101, 0x8080808080808080
		x := binary.LittleEndian.Uint64(s[i:]) | ones*0x10 ^ ones*'?'
		if m := (x - ones) &^ x & highs; m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			if s[i] == '/' {
				return s[:i], s[i+1:]
			}
			return s[:i], nil
		}
	}
	for ; i < len(s); i++ {
		switch s[i] {
		case '/':
			return s[:i], s[i+1:]
		case '?':
			return s[:i], nil
		}
	}
	return s, nil
}

var dotSlash, slash = []byte("./"), []byte("/")

// eqFold reports whether b equals the ASCII name s in any case.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	if string(b) == s {
		// Most devices send the canonical case.
		return true
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
