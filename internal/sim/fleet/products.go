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
	// File is the name of the .msi the server's MsiInstallJob downloads,
	// with {version} standing for the version. Empty: the name's letters
	// and digits, a dash, the version and ".msi". Unused for Office.
	File string
}

// fileName returns the .msi file of version v.
func (p *Product) fileName(v int) string {
	if p.Kind == Office {
		return ""
	}
	if p.File != "" {
		return strings.ReplaceAll(p.File, "{version}", p.Versions[v])
	}
	var b strings.Builder
	for _, c := range p.Name {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String() + "-" + p.Versions[v] + ".msi"
}

// ProductVersion is one row of the fleet's product table: one version of a
// product, as the server installs it and as devices report it.
type ProductVersion struct {
	Kind                     Kind
	Name, Publisher, Version string
	// ProductID is the version's MSI ProductCode (for Office, the
	// installation id) as events carry it in target_id: an upper-case GUID
	// without braces. Each version has its own, as a new MSI version is a
	// new product code. Devices and the server write it with or without
	// braces, percent-encoded or not, in either case.
	ProductID string
	// FileName is the .msi the server's MsiInstallJob downloads (the last
	// segment of its ContentURL, percent-decoded); empty for Office.
	FileName string
}

// Table lists every version of products (DefaultProducts when empty),
// product by product, oldest version first.
func Table(products []Product) []ProductVersion {
	if len(products) == 0 {
		products = DefaultProducts()
	}
	var out []ProductVersion
	for i := range products {
		p := &products[i]
		for v, ver := range p.Versions {
			out = append(out, ProductVersion{Kind: p.Kind, Name: p.Name, Publisher: p.Publisher, Version: ver,
				ProductID: p.id(v), FileName: p.fileName(v)})
		}
	}
	return out
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
		{Kind: MSI, Name: "7-Zip (x64 edition)", Publisher: "Igor Pavlov",
			Versions:    []string{"23.01.00.0", "24.08.00.0"},
			IDs:         []string{"23170F69-40C1-2702-2301-000001000000", "23170F69-40C1-2702-2408-000001000000"},
			InstallPath: `C:\Program Files\7-Zip\`,
			File:        "7z-{version}-x64.msi", Share: 0.5, UserShare: 0.05},
		{Kind: MSI, Name: "Google Chrome", Publisher: "Google LLC",
			Versions:    []string{"129.0.6668.90", "130.0.6723.117", "131.0.6778.86"},
			InstallPath: `C:\Program Files\Google\Chrome\Application\`,
			File:        "GoogleChromeStandaloneEnterprise64-{version}.msi", Share: 0.6},
		{Kind: MSI, Name: "Mozilla Firefox ESR (x64 en-US)", Publisher: "Mozilla",
			Versions:    []string{"115.17.0", "128.5.0"},
			InstallPath: `C:\Program Files\Mozilla Firefox\`,
			File:        "Firefox Setup {version}esr.msi", Share: 0.2},
		{Kind: MSI, Name: "Adobe Acrobat Reader DC", Publisher: "Adobe Systems Incorporated",
			Versions:    []string{"24.003.20180", "24.004.20220", "24.005.20307"},
			InstallPath: `C:\Program Files\Adobe\Acrobat DC\`,
			File:        "AcroRdrDCx64-{version}_MUI.msi", Share: 0.45},
		{Kind: MSI, Name: "Zoom Workplace (64-bit)", Publisher: "Zoom Video Communications, Inc.",
			Versions:    []string{"6.2.5.50876", "6.2.11.53020"},
			InstallPath: `C:\Program Files\Zoom\`,
			File:        "ZoomInstallerFull-{version}-x64.msi", Share: 0.3, UserShare: 0.3},
		{Kind: MSI, Name: "Microsoft Teams Meeting Add-in for Microsoft Office", Publisher: "Microsoft",
			Versions:    []string{"1.24.14501", "1.24.25301"},
			InstallPath: `C:\Program Files (x86)\Microsoft\TeamsMeetingAdd-in\`,
			File:        "MicrosoftTeamsMeetingAddinInstaller-{version}.msi", Share: 0.35, UserShare: 0.2},
		{Kind: MSI, Name: "PowerShell 7-x64", Publisher: "Microsoft Corporation",
			Versions:    []string{"7.4.5.0", "7.4.6.0"},
			InstallPath: `C:\Program Files\PowerShell\7\`,
			File:        "PowerShell-{version}-win-x64.msi", Share: 0.15},
		{Kind: MSI, Name: "Node.js", Publisher: "Node.js Foundation",
			Versions:    []string{"20.18.0", "22.11.0"},
			InstallPath: `C:\Program Files\nodejs\`,
			File:        "node-v{version}-x64.msi", Share: 0.08},
		{Kind: MSI, Name: "VLC media player", Publisher: "VideoLAN",
			Versions:    []string{"3.0.20.0", "3.0.21.0"},
			InstallPath: `C:\Program Files\VideoLAN\VLC\`,
			File:        "vlc-{version}-win64.msi", Share: 0.12},
		{Kind: MSI, Name: "Cisco Secure Client - AnyConnect VPN", Publisher: "Cisco Systems, Inc.",
			Versions:    []string{"5.1.4.74", "5.1.6.103"},
			InstallPath: `C:\Program Files (x86)\Cisco\Cisco Secure Client\`,
			File:        "cisco-secure-client-win-{version}-core-vpn-predeploy-k9.msi", Share: 0.3},
		{Kind: MSI, Name: "FortiClient VPN", Publisher: "Fortinet Technologies Inc",
			Versions:    []string{"7.2.4.0972", "7.4.1.1736"},
			InstallPath: `C:\Program Files\Fortinet\FortiClient\`,
			File:        "FortiClientVPN-{version}.msi", Share: 0.1},
		{Kind: MSI, Name: "Microsoft Azure CLI", Publisher: "Microsoft Corporation",
			Versions:    []string{"2.65.0", "2.66.0", "2.67.0"},
			InstallPath: `C:\Program Files\Microsoft SDKs\Azure\CLI2\`,
			File:        "azure-cli-{version}-x64.msi", Share: 0.06},
		{Kind: MSI, Name: "Dell Command | Update", Publisher: "Dell Inc.",
			Versions:    []string{"5.3.0", "5.4.0"},
			InstallPath: `C:\Program Files\Dell\CommandUpdate\`,
			File:        "Dell-Command-Update-Application_{version}_WIN64.msi", Share: 0.25},
	}
}
