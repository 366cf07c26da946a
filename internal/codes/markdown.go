package codes

import (
	"bytes"
	"fmt"
	"strings"
)

// spaceTitles heads each space's section in Markdown.
var spaceTitles = map[Space]string{
	SpaceOfficeStatus: "Office CSP Installation/{id}/Status",
	SpaceOfficeFinal:  "Office CSP Installation/{id}/FinalStatus",
	SpaceMSIStatus:    "EnterpriseDesktopAppManagement MSI/{ProductID}/Status",
	SpaceWin32:        "Windows Installer and Win32 codes",
	SpaceHRESULT:      "HRESULTs",
	SpaceOMADM:        "OMA-DM status codes",
}

// spaceDefaults says, for people, what an unlisted value of each space means.
var spaceDefaults = map[Space]string{
	SpaceOfficeStatus: "unlisted: 0 succeeded, 997 in_progress, any other failed (name and category borrowed from the Win32 or HRESULT table when known)",
	SpaceOfficeFinal:  "unlisted: unknown",
	SpaceMSIStatus:    "unlisted: unknown",
	SpaceWin32:        "unlisted: 0 succeeded, any other failed (category unknown); a negative value is classified as an HRESULT",
	SpaceHRESULT:      "unlisted: a FACILITY_WIN32 value (0x8007xxxx) takes its Win32 entry; otherwise negative failed, non-negative succeeded",
	SpaceOMADM:        "unlisted: 1xx in_progress, 2xx succeeded, 3xx-5xx failed, anything else unknown",
}

// Markdown renders the catalog as a Markdown document for people: one table
// per space, in the order of All. codes.md in this directory is its output,
// kept in sync by TestMarkdownGolden.
func Markdown() []byte {
	var b bytes.Buffer
	b.WriteString("# cspwatch code catalog\n\n")
	b.WriteString("Generated from internal/codes/catalog.go by `go test ./internal/codes -update`; do not edit by hand.\n")
	b.WriteString("Categories: prerequisite, network, conflict, disk, content, signature, user_cancel, reboot_required,\n")
	b.WriteString("not_found, policy, auth, client, command, unknown (empty for success and progress codes).\n")
	all := All()
	for _, s := range Spaces() {
		fmt.Fprintf(&b, "\n## %s (`%s`)\n\n%s.\n\n", spaceTitles[s], s, spaceDefaults[s])
		b.WriteString("| value | hex | name | outcome | category | description |\n|---:|---|---|---|---|---|\n")
		for _, e := range all {
			if e.Space != s {
				continue
			}
			hex := ""
			if e.Value < 0 {
				hex = string(AppendHex(nil, e.Value))
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", e.Value, hex, mdCell(e.Name), e.Outcome, e.Category, mdCell(e.Description))
		}
	}
	return b.Bytes()
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
