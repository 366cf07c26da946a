package event

import (
	"bytes"
)

// cspPath is what a LocURI says about an install: which CSP, which target,
// which node. All fields are either constants or slices of the LocURI, so
// parsing one allocates nothing.
type cspPath struct {
	scope string // ScopeDevice or ScopeUser
	csp   string // CSPOffice, CSPMSI, or "" when the LocURI is not under a supported CSP
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
// devices send them; a query (?prop=...) is ignored.
func parsePath(loc []byte) (p cspPath) {
	if i := bytes.IndexByte(loc, '?'); i >= 0 {
		loc = loc[:i]
	}
	// Most devices spell the root as the CSP references do.
	switch {
	case bytes.HasPrefix(loc, deviceRoot):
		return parseCSP(cspPath{scope: ScopeDevice}, loc[len(deviceRoot):])
	case bytes.HasPrefix(loc, vendorRoot):
		return parseCSP(cspPath{scope: ScopeDevice}, loc[len(vendorRoot):])
	case bytes.HasPrefix(loc, userRoot):
		return parseCSP(cspPath{scope: ScopeUser}, loc[len(userRoot):])
	}
	loc = bytes.TrimPrefix(loc, dotSlash)
	loc = bytes.TrimPrefix(loc, slash)
	seg, rest := next(loc)
	p.scope = ScopeDevice
	switch {
	case eqFold(seg, "Device"):
		seg, rest = next(rest)
	case eqFold(seg, "User"):
		p.scope = ScopeUser
		seg, rest = next(rest)
	}
	if !eqFold(seg, "Vendor") {
		return cspPath{}
	}
	if seg, rest = next(rest); !eqFold(seg, "MSFT") {
		return cspPath{}
	}
	return parseCSP(p, rest)
}

var (
	deviceRoot = []byte("./Device/Vendor/MSFT/")
	vendorRoot = []byte("./Vendor/MSFT/")
	userRoot   = []byte("./User/Vendor/MSFT/")
)

// parseCSP reads the part of a LocURI after Vendor/MSFT/.
func parseCSP(p cspPath, rest []byte) cspPath {
	seg, rest := next(rest)
	switch {
	case eqFold(seg, "Office"):
		return parseOffice(p, rest)
	case eqFold(seg, "EnterpriseDesktopAppManagement"):
		return parseMSI(p, rest)
	}
	return cspPath{}
}

func parseOffice(p cspPath, rest []byte) cspPath {
	p.csp = CSPOffice
	seg, rest := next(rest)
	if !eqFold(seg, "Installation") {
		// The CSP root or an unknown child: under the CSP but no install node.
		return p
	}
	seg, rest = next(rest)
	if len(seg) == 0 {
		return p
	}
	if len(rest) == 0 && eqFold(seg, "CurrentStatus") {
		p.node, p.nodeKnown = "CurrentStatus", true
		return p
	}
	p.target = seg
	node, extra := next(rest)
	if len(extra) != 0 {
		return p
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
	return p
}

// msiNodes are the children of MSI/{ProductID}, by their canonical names.
var msiNodes = [...]string{
	"DownloadInstall", "InstallDate", "InstallPath", "LastError", "LastErrorDesc",
	"Name", "Publisher", "Status", "Version",
}

func parseMSI(p cspPath, rest []byte) cspPath {
	p.csp = CSPMSI
	seg, rest := next(rest)
	if !eqFold(seg, "MSI") {
		return p
	}
	seg, rest = next(rest)
	if len(seg) == 0 {
		return p
	}
	if eqFold(seg, "UpgradeCode") {
		code, extra := next(rest)
		if len(code) != 0 && len(extra) == 0 {
			p.target, p.node, p.nodeKnown = code, "UpgradeCode", true
		}
		return p
	}
	p.target = seg
	node, extra := next(rest)
	if len(extra) != 0 {
		return p
	}
	if len(node) == 0 {
		p.nodeKnown = true
		return p
	}
	for _, n := range msiNodes {
		if eqFold(node, n) {
			p.node, p.nodeKnown = n, true
			break
		}
	}
	return p
}

// next splits the first segment off a slash-separated path.
func next(s []byte) (seg, rest []byte) {
	// Segments are short: a loop beats IndexByte's call.
	for i, c := range s {
		if c == '/' {
			return s[:i], s[i+1:]
		}
	}
	return s, nil
}

// appendTargetID appends the canonical form of a raw target segment:
// percent-decoded, braces removed, upper case when it is a GUID.
func appendTargetID(dst []byte, raw []byte) []byte {
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
		for i, c := range id {
			if c >= 'a' {
				id[i] = c - 'a' + 'A'
			}
		}
	}
	return dst
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
	for i, c := range b {
		if !hexDigit[c] && i != 8 && i != 13 && i != 18 && i != 23 {
			return false
		}
	}
	return true
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
