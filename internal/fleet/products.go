package fleet

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// Kind says which CSP installs a product.
type Kind int

const (
	// MSI products install through EnterpriseDesktopAppManagement
	// (MSI/{ProductID}/DownloadInstall) and report a generic alert.
	MSI Kind = iota
	// Office installs through the Office CSP (Installation/{id}/install) and
	// reports through Status, FinalStatus and CurrentStatus.
	Office
)

// Product is an application the fleet installs.
type Product struct {
	Kind      Kind
	Name      string // the MSI ProductName as Windows reports it in MSI/{id}/Name
	Publisher string
	// Versions oldest first; the last is the one most devices get.
	Versions []string
	// IDs are the MSI ProductCodes (or Office installation ids), one per
	// version, upper-case GUIDs without braces. Empty: derived from name
	// and version, so a major upgrade gets a new ProductCode as MSI wants.
	IDs []string
	// InstallPath is where MSI/{id}/InstallPath points.
	InstallPath string
	// Share is the fraction of devices the product is assigned to.
	Share float64
	// UserShare is the fraction of assignments targeted at the user
	// (./User/Vendor/MSFT/...), the rest are per device.
	UserShare float64
}

// id returns the ProductCode of version v.
func (p *Product) id(v int) string {
	if v < len(p.IDs) && p.IDs[v] != "" {
		return strings.ToUpper(strings.Trim(p.IDs[v], "{}"))
	}
	return guidFrom(p.Name + "\x00" + p.Versions[v])
}

// guidFrom derives a stable, random-looking version-4 GUID from s.
func guidFrom(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// DefaultProducts is the default catalogue: Microsoft 365 Apps through the
// Office CSP and a dozen common line-of-business MSIs, two or three versions
// each.
func DefaultProducts() []Product {
	return []Product{
		{Kind: Office, Name: "Microsoft 365 Apps for enterprise", Publisher: "Microsoft Corporation",
			Versions: []string{"16.0.17328.20550", "16.0.17928.20156"}, Share: 0.55, UserShare: 0.1},
		{Kind: MSI, Name: "7-Zip 23.01 (x64 edition)", Publisher: "Igor Pavlov",
			Versions:    []string{"23.01.00.0", "24.08.00.0"},
			IDs:         []string{"23170F69-40C1-2702-2301-000001000000", "23170F69-40C1-2702-2408-000001000000"},
			InstallPath: `C:\Program Files\7-Zip\`, Share: 0.5, UserShare: 0.05},
		{Kind: MSI, Name: "Google Chrome", Publisher: "Google LLC",
			Versions:    []string{"129.0.6668.90", "130.0.6723.117", "131.0.6778.86"},
			InstallPath: `C:\Program Files\Google\Chrome\Application\`, Share: 0.6},
		{Kind: MSI, Name: "Mozilla Firefox ESR (x64 en-US)", Publisher: "Mozilla",
			Versions:    []string{"115.17.0", "128.5.0"},
			InstallPath: `C:\Program Files\Mozilla Firefox\`, Share: 0.2},
		{Kind: MSI, Name: "Adobe Acrobat Reader DC", Publisher: "Adobe Systems Incorporated",
			Versions:    []string{"24.003.20180", "24.004.20220", "24.005.20307"},
			InstallPath: `C:\Program Files\Adobe\Acrobat DC\`, Share: 0.45},
		{Kind: MSI, Name: "Zoom Workplace (64-bit)", Publisher: "Zoom Video Communications, Inc.",
			Versions:    []string{"6.2.5.50876", "6.2.11.53020"},
			InstallPath: `C:\Program Files\Zoom\`, Share: 0.3, UserShare: 0.3},
		{Kind: MSI, Name: "Microsoft Teams Meeting Add-in for Microsoft Office", Publisher: "Microsoft",
			Versions:    []string{"1.24.14501", "1.24.25301"},
			InstallPath: `C:\Program Files (x86)\Microsoft\TeamsMeetingAdd-in\`, Share: 0.35, UserShare: 0.2},
		{Kind: MSI, Name: "PowerShell 7-x64", Publisher: "Microsoft Corporation",
			Versions:    []string{"7.4.5.0", "7.4.6.0"},
			InstallPath: `C:\Program Files\PowerShell\7\`, Share: 0.15},
		{Kind: MSI, Name: "Node.js", Publisher: "Node.js Foundation",
			Versions:    []string{"20.18.0", "22.11.0"},
			InstallPath: `C:\Program Files\nodejs\`, Share: 0.08},
		{Kind: MSI, Name: "VLC media player", Publisher: "VideoLAN",
			Versions:    []string{"3.0.20.0", "3.0.21.0"},
			InstallPath: `C:\Program Files\VideoLAN\VLC\`, Share: 0.12},
		{Kind: MSI, Name: "Cisco Secure Client - AnyConnect VPN", Publisher: "Cisco Systems, Inc.",
			Versions:    []string{"5.1.4.74", "5.1.6.103"},
			InstallPath: `C:\Program Files (x86)\Cisco\Cisco Secure Client\`, Share: 0.3},
		{Kind: MSI, Name: "FortiClient VPN", Publisher: "Fortinet Technologies Inc",
			Versions:    []string{"7.2.4.0972", "7.4.1.1736"},
			InstallPath: `C:\Program Files\Fortinet\FortiClient\`, Share: 0.1},
		{Kind: MSI, Name: "Microsoft Azure CLI", Publisher: "Microsoft Corporation",
			Versions:    []string{"2.65.0", "2.66.0", "2.67.0"},
			InstallPath: `C:\Program Files\Microsoft SDKs\Azure\CLI2\`, Share: 0.06},
		{Kind: MSI, Name: "Dell Command | Update", Publisher: "Dell Inc.",
			Versions:    []string{"5.3.0", "5.4.0"},
			InstallPath: `C:\Program Files\Dell\CommandUpdate\`, Share: 0.25},
	}
}
