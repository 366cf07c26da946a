package normalize

import (
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/event"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		loc                      string
		scope, csp, target, node string
		known                    bool
	}{
		{"./Device/Vendor/MSFT/Office/Installation/0AA79349-F334-4859-96E8-B4AB43E9FEA0/Status", "device", event.CSPOffice, "0AA79349-F334-4859-96E8-B4AB43E9FEA0", "Status", true},
		{"./User/Vendor/MSFT/Office/Installation/abc/finalstatus", "user", event.CSPOffice, "abc", "FinalStatus", true},
		{"./Vendor/MSFT/Office/Installation/0aa79349-f334-4859-96e8-b4ab43e9fea0/install", "device", event.CSPOffice, "0aa79349-f334-4859-96e8-b4ab43e9fea0", "Install", true},
		{"./Device/Vendor/MSFT/Office/Installation/CurrentStatus", "device", event.CSPOffice, "", "CurrentStatus", true},
		{"./device/vendor/msft/office/installation/currentstatus", "device", event.CSPOffice, "", "CurrentStatus", true},
		{"./Device/Vendor/MSFT/Office/Installation/x/Bogus", "device", event.CSPOffice, "x", "", false},
		{"./Device/Vendor/MSFT/Office", "device", event.CSPOffice, "", "", false},
		{"./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7BAF9257BA-6BBD-4624-AA9B-0182D50292C3%7D/DownloadInstall", "device", event.CSPMSI, "%7BAF9257BA-6BBD-4624-AA9B-0182D50292C3%7D", "DownloadInstall", true},
		{"./User/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{af9257ba-6bbd-4624-aa9b-0182d50292c3}/lasterror", "user", event.CSPMSI, "{af9257ba-6bbd-4624-aa9b-0182d50292c3}", "LastError", true},
		{"./Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/X/LastErrorDesc", "device", event.CSPMSI, "X", "LastErrorDesc", true},
		{"./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/UpgradeCode/{1803A630-3C38-4D2B-9B9A-0CB37243539C}", "device", event.CSPMSI, "{1803A630-3C38-4D2B-9B9A-0CB37243539C}", "UpgradeCode", true},
		{"./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7B1803A630-3C38-4D2B-9B9A-0CB37243539C%7D", "device", event.CSPMSI, "%7B1803A630-3C38-4D2B-9B9A-0CB37243539C%7D", "", true},
		{"./Device/Vendor/MSFT/EnterpriseDesktopAppManagement?prop=Type", "device", event.CSPMSI, "", "", false},
		{"./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/A/B/C", "device", event.CSPMSI, "A", "", false},
		{"./DevDetail/SwV", "", "", "", "", false},
		{"./Vendor/MSFT/DMClient/Provider/X/EntDMID", "", "", "", "", false},
		{"https://mdm.example.com/omadm", "", "", "", "", false},
		{"", "", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.loc, func(t *testing.T) {
			p := parsePath([]byte(tc.loc))
			if p.csp != tc.csp || string(p.target) != tc.target || p.node != tc.node || p.nodeKnown != tc.known {
				t.Fatalf("parsePath = {csp %q target %q node %q known %v}, want {%q %q %q %v}",
					p.csp, p.target, p.node, p.nodeKnown, tc.csp, tc.target, tc.node, tc.known)
			}
			if tc.csp != "" && p.scope != tc.scope {
				t.Fatalf("scope = %q, want %q", p.scope, tc.scope)
			}
		})
	}
}

// TestProductField checks that productField, a switch, is productNodes.
func TestProductField(t *testing.T) {
	for i, n := range productNodes {
		if got := productField(n); got != i {
			t.Errorf("productField(%q) = %d, want %d", n, got, i)
		}
		if !descriptive(n) {
			t.Errorf("descriptive(%q) = false", n)
		}
	}
	for _, n := range append(msiNodes[:], officeNodes[:]...) {
		if productField(n) < 0 && descriptive(n) {
			t.Errorf("descriptive(%q) = true for a node that is not a product field", n)
		}
	}
	if productField("UpgradeCode") >= 0 || !descriptive("UpgradeCode") {
		t.Error("UpgradeCode is descriptive and no product field")
	}
}

// TestNodeSwitches checks that the switches of parseOfficeTarget and
// parseMSITarget know exactly the names of officeNodes and msiNodes, in any
// case.
func TestNodeSwitches(t *testing.T) {
	const guid = "{0AA79349-F334-4859-96E8-B4AB43E9FEA0}"
	folded := ""
	foldNodes = func(b []byte, names []string) string {
		folded = string(b)
		return foldName(b, names)
	}
	defer func() { foldNodes = foldName }()
	for _, tc := range []struct {
		names []string
		parse func(*cspPath, []byte)
	}{
		{officeNodes[:], parseOfficeTarget},
		{msiNodes[:], parseMSITarget},
	} {
		for _, n := range tc.names {
			for _, spelt := range []string{n, strings.ToLower(n), strings.ToUpper(n)} {
				folded = ""
				var p cspPath
				tc.parse(&p, []byte(guid+"/"+spelt))
				if p.node != n || !p.nodeKnown {
					t.Errorf("%q: node %q known %v, want %q", spelt, p.node, p.nodeKnown, n)
				}
				if spelt == n && folded != "" {
					t.Errorf("%q: the switch misses the canonical name", n)
				}
			}
			var p cspPath
			tc.parse(&p, []byte(guid+"/"+n+"x"))
			if p.node != "" || p.nodeKnown {
				t.Errorf("%q: node %q known %v, want none", n+"x", p.node, p.nodeKnown)
			}
		}
	}
}
