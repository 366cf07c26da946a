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
		parseOffice(p, rest)
	case eqFold(seg, "EnterpriseDesktopAppManagement"):
		parseMSI(p, rest)
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

func parseOffice(p *cspPath, rest []byte) {
	p.csp = event.CSPOffice
	seg, rest := next(rest)
	if !eqFold(seg, "Installation") {
		// The CSP root or an unknown child: under the CSP but no install node.
		return
	}
	parseOfficeTarget(p, rest)
}

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
	if len(extra) != 0 {
		return
	}
	switch {
	case len(node) == 0:
		p.nodeKnown = true
	case eqFold(node, "Status"):
		p.node, p.nodeKnown = "Status", true
	case eqFold(node, "FinalStatus"):
		p.node, p.nodeKnown = "FinalStatus", true
	case eqFold(node, "Install"):
		p.node, p.nodeKnown = "Install", true
	}
}

// msiNodes are the children of MSI/{ProductID}, by their canonical names.
var msiNodes = [...]string{
	"DownloadInstall", "InstallDate", "InstallPath", "LastError", "LastErrorDesc",
	"Name", "Publisher", "Status", "Version",
}

func parseMSI(p *cspPath, rest []byte) {
	p.csp = event.CSPMSI
	seg, rest := next(rest)
	if !eqFold(seg, "MSI") {
		return
	}
	parseMSITarget(p, rest)
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
	if len(extra) != 0 {
		return
	}
	if len(node) == 0 {
		p.nodeKnown = true
		return
	}
	// Devices send the canonical names; a switch on them is cheaper than
	// folding case against each.
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
		for _, n := range msiNodes {
			if eqFold(node, n) {
				p.node = n
				break
			}
		}
	}
	p.nodeKnown = p.node != ""
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

// appendTargetID appends the canonical form of a raw target segment:
// percent-decoded, braces removed, upper case when it is a GUID.
func appendTargetID(dst []byte, raw []byte) []byte {
	// Devices send GUIDs braced, percent-encoded braced or bare; none of
	// these needs decoding once the wrapping is off, as a GUID holds no '%'.
	g := raw
	switch {
	case len(raw) == 38 && raw[0] == '{' && raw[37] == '}':
		g = raw[1:37]
	case len(raw) == 42 && raw[0] == '%' && raw[1] == '7' && raw[2]|0x20 == 'b' &&
		raw[39] == '%' && raw[40] == '7' && raw[41]|0x20 == 'd':
		g = raw[3:39]
	}
	if isGUID(g) {
		start := len(dst)
		dst = append(dst, g...)
		upperGUID(dst[start:])
		return dst
	}
	start := len(dst)
	if bytes.IndexByte(raw, '%') < 0 {
		dst = append(dst, raw...)
	} else {
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]) {
				c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
				i += 2
			}
			dst = append(dst, c)
		}
	}
	id := dst[start:]
	if len(id) >= 2 && id[0] == '{' && id[len(id)-1] == '}' {
		copy(id, id[1:len(id)-1])
		dst = dst[:len(dst)-2]
		id = dst[start:]
	}
	if isGUID(id) {
		upperGUID(id)
	}
	return dst
}

// upperGUID turns the letters of a GUID (isGUID) to upper case. Of its
// bytes, only the lower-case letters have both 0x40 and 0x20 set; clearing
// 0x20 where 0x40 is set does it eight bytes at a time.
func upperGUID(id []byte) {
	const m = 0x4040404040404040
	for _, i := range [...]int{0, 8, 16, 24, 28} {
		x := binary.LittleEndian.Uint64(id[i:])
		binary.LittleEndian.PutUint64(id[i:], x&^(x&m>>1))
	}
}

// isGUID reports whether b has the 8-4-4-4-12 hex form.
func isGUID(b []byte) bool {
	if len(b) != 36 {
		return false
	}
	b = b[:36]
	if b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return false
	}
	// Eight bytes at a time, the dashes let through by position.
	const highs = 0x8080808080808080
	return hexBytes(binary.LittleEndian.Uint64(b[0:])) == highs &&
		hexBytes(binary.LittleEndian.Uint64(b[8:]))|0x80<<(5*8)|0x80 == highs &&
		hexBytes(binary.LittleEndian.Uint64(b[16:]))|0x80<<(7*8)|0x80<<(2*8) == highs &&
		hexBytes(binary.LittleEndian.Uint64(b[24:])) == highs &&
		hexBytes(binary.LittleEndian.Uint64(b[28:])) == highs
}

// hexBytes marks with 0x80 each byte of x that is a hex digit. Below 0x80,
// v+(0x80-lo) reaches the high bit exactly when v >= lo, and v+(0x7f-hi)
// when v > hi, without carrying into the next byte; setting 0x20 folds
// 'A'-'F', and only them, onto 'a'-'f'. Bytes from 0x80 up are masked off
// first and marked as not hex last.
func hexBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	v := x &^ highs
	y := v | ones*0x20
	digit := (v + ones*(0x80-'0')) &^ (v + ones*(0x7f-'9'))
	letter := (y + ones*(0x80-'a')) &^ (y + ones*(0x7f-'f'))
	return (digit | letter) &^ x & highs
}

// hexDigit marks the bytes isHex accepts.
var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

func isHex(c byte) bool {
	return hexDigit[c]
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
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
