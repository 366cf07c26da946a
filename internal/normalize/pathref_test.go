package normalize

// This file keeps the LocURI parsing of commit e41c9f7, plain and slow, as the
// reference the fast one in path.go must agree with (FuzzPathReference). The
// leaf helper that did not change (eqFold) is path.go's own; target ids are
// package event's, which checks its fast path against its definition.

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/event"
)

// refParsePath reads a LocURI such as ./Device/Vendor/MSFT/Office/Installation/{id}/Status,
// ./User/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7B...%7D/LastError or
// ./Vendor/MSFT/... (device scope). Segment names are matched in any case, as
// devices send them; a query (?prop=...) is ignored.
func refParsePath(loc []byte) (p cspPath) {
	if i := bytes.IndexByte(loc, '?'); i >= 0 {
		loc = loc[:i]
	}
	// Most devices spell the root as the CSP references do.
	switch {
	case bytes.HasPrefix(loc, refDeviceRoot):
		return refParseCSP(cspPath{scope: event.ScopeDevice}, loc[len(refDeviceRoot):])
	case bytes.HasPrefix(loc, refVendorRoot):
		return refParseCSP(cspPath{scope: event.ScopeDevice}, loc[len(refVendorRoot):])
	case bytes.HasPrefix(loc, refUserRoot):
		return refParseCSP(cspPath{scope: event.ScopeUser}, loc[len(refUserRoot):])
	}
	loc = bytes.TrimPrefix(loc, dotSlash)
	loc = bytes.TrimPrefix(loc, slash)
	seg, rest := refNext(loc)
	p.scope = event.ScopeDevice
	switch {
	case eqFold(seg, "Device"):
		seg, rest = refNext(rest)
	case eqFold(seg, "User"):
		p.scope = event.ScopeUser
		seg, rest = refNext(rest)
	}
	if !eqFold(seg, "Vendor") {
		return cspPath{}
	}
	if seg, rest = refNext(rest); !eqFold(seg, "MSFT") {
		return cspPath{}
	}
	return refParseCSP(p, rest)
}

var (
	refDeviceRoot = []byte("./Device/Vendor/MSFT/")
	refVendorRoot = []byte("./Vendor/MSFT/")
	refUserRoot   = []byte("./User/Vendor/MSFT/")
)

// refParseCSP reads the part of a LocURI after Vendor/MSFT/.
func refParseCSP(p cspPath, rest []byte) cspPath {
	seg, rest := refNext(rest)
	switch {
	case eqFold(seg, "Office"):
		return refParseOffice(p, rest)
	case eqFold(seg, "EnterpriseDesktopAppManagement"):
		return refParseMSI(p, rest)
	}
	return cspPath{}
}

func refParseOffice(p cspPath, rest []byte) cspPath {
	p.csp = event.CSPOffice
	seg, rest := refNext(rest)
	if !eqFold(seg, "Installation") {
		// The CSP root or an unknown child: under the CSP but no install node.
		return p
	}
	seg, rest = refNext(rest)
	if len(seg) == 0 {
		return p
	}
	if len(rest) == 0 && eqFold(seg, "CurrentStatus") {
		p.node, p.nodeKnown = "CurrentStatus", true
		return p
	}
	p.target = seg
	node, extra := refNext(rest)
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

// refMsiNodes are the children of MSI/{ProductID}, by their canonical names.
var refMsiNodes = [...]string{
	"DownloadInstall", "InstallDate", "InstallPath", "LastError", "LastErrorDesc",
	"Name", "Publisher", "Status", "Version",
}

func refParseMSI(p cspPath, rest []byte) cspPath {
	p.csp = event.CSPMSI
	seg, rest := refNext(rest)
	if !eqFold(seg, "MSI") {
		return p
	}
	seg, rest = refNext(rest)
	if len(seg) == 0 {
		return p
	}
	if eqFold(seg, "UpgradeCode") {
		code, extra := refNext(rest)
		if len(code) != 0 && len(extra) == 0 {
			p.target, p.node, p.nodeKnown = code, "UpgradeCode", true
		}
		return p
	}
	p.target = seg
	node, extra := refNext(rest)
	if len(extra) != 0 {
		return p
	}
	if len(node) == 0 {
		p.nodeKnown = true
		return p
	}
	for _, n := range refMsiNodes {
		if eqFold(node, n) {
			p.node, p.nodeKnown = n, true
			break
		}
	}
	return p
}

// refNext splits the first segment off a slash-separated path.
func refNext(s []byte) (seg, rest []byte) {
	// Segments are short: a loop beats IndexByte's call.
	for i, c := range s {
		if c == '/' {
			return s[:i], s[i+1:]
		}
	}
	return s, nil
}

// FuzzPathReference: the fast LocURI parsing agrees with the reference
// above on every input.
func FuzzPathReference(f *testing.F) {
	for _, loc := range pathSeeds {
		f.Add(loc)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		checkPathReference(t, loc)
	})
}

// TestPathReference runs the agreement check over the seeds, every prefix
// of them, and their case and escape variants.
func TestPathReference(t *testing.T) {
	for _, loc := range pathSeeds {
		for _, v := range []string{loc, strings.ToLower(loc), strings.ToUpper(loc),
			strings.ReplaceAll(loc, "{", "%7b"), strings.ReplaceAll(loc, "/", "?/")} {
			for i := 0; i <= len(v); i++ {
				checkPathReference(t, v[:i])
				checkPathReference(t, v[i:])
			}
		}
	}
}

var pathSeeds = []string{
	"./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7Baf9257ba-6bbd-4624-aa9b-0182d50292c3%7D/Status",
	"./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{AF9257BA-6BBD-4624-AA9B-0182D50292C3}/DownloadInstall",
	"./User/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/AF9257BA-6BBD-4624-AA9B-0182D50292C3/LastErrorDesc",
	"./Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/UpgradeCode/{1803A630-3C38-4D2B-9B9A-0CB37243539C}",
	"./User/Vendor/MSFT/Office/Installation/CurrentStatus",
	"./Vendor/MSFT/Office/Installation/{0aa79349-f334-4859-96e8-b4ab43e9fea0}/Status?list=Struct",
	"./Device/Vendor/MSFT/Office/Installation/%7B0aa79349-f334-4859-96e8-b4ab43e9fea0%7d/FinalStatus",
	"./device/vendor/msft/office/installation/my%20install/install",
	"/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{x}/Name",
	"./DevDetail/SwV",
}

func checkPathReference(t *testing.T, loc string) {
	t.Helper()
	got, want := parsePath([]byte(loc)), refParsePath([]byte(loc))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parsePath(%q) = %+v, reference %+v", loc, got, want)
	}
}
