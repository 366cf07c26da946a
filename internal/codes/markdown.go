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
	SpaceHRESULT:      "unlisted: a FACILITY_WIN32 value (0x8007xxxx) takes its Win32 entry (and is that Win32 code for Canonical); a FACILITY_HTTP value (0x8019xxxx, low 16 bits the HTTP status) failed, category network; an MDM client value (0x8600xxxx, cfgmgr2err.h) failed, category client; otherwise negative failed, non-negative succeeded",
	SpaceOMADM:        "unlisted: 1xx in_progress, 2xx succeeded, 3xx-5xx failed (category unknown for 3xx, command for 4xx, client for 5xx), anything else unknown",
}

// categoryDocs explains each category in codes.md.
var categoryDocs = map[Category]string{
	CatPrerequisite:   "a pre-requisite or applicability check failed (OS, architecture, an existing product)",
	CatNetwork:        "download, time-out, connectivity, or an HTTP error from the content server",
	CatConflict:       "another install or scenario is running, or a product or node conflicts",
	CatDisk:           "out of disk space, a file in use, or the temp or log folder unusable",
	CatContent:        "the package or its content is bad, missing or cannot be opened",
	CatSignature:      "a signature, certificate or hash check failed",
	CatUserCancel:     "the user cancelled",
	CatRebootRequired: "succeeded; a restart is needed or was started",
	CatNotFound:       "the product, node or object does not exist",
	CatPolicy:         "blocked by policy or not permitted",
	CatAuth:           "authentication or authorisation failed",
	CatClient:         "the MDM client, a CSP or the installer service itself failed",
	CatCommand:        "the server's command, or the install command line it sent, was malformed or unsupported",
	CatInstaller:      "the installer ran and failed without a more specific code (1603, 17002); its log has the cause",
	CatAtomic:         "failed or rolled back because another command of the same Atomic failed",
	CatUnknown:        "a failure whose cause the code does not tell",
}

// Markdown renders the catalog as a Markdown document for people: one table
// per space, in the order of All. codes.md in this directory is its output,
// kept in sync by TestMarkdownGolden.
func Markdown() []byte {
	var b bytes.Buffer
	b.WriteString("# cspwatch code catalog\n\n")
	b.WriteString("Generated from internal/codes/catalog.go by `go test ./internal/codes -update`; do not edit by hand.\n")
	b.WriteString("Each code has a source (where its meaning comes from) and advice (what an on-call admin can do), in our own words.\n")
	b.WriteString("\n## Categories\n\nThe cause class of a failure; empty for success and progress codes.\n\n| category | meaning |\n|---|---|\n")
	for _, c := range Categories() {
		fmt.Fprintf(&b, "| %s | %s |\n", c, mdCell(categoryDocs[c]))
	}
	all := All()
	for _, s := range Spaces() {
		fmt.Fprintf(&b, "\n## %s (`%s`)\n\n%s.\n\n", spaceTitles[s], s, spaceDefaults[s])
		b.WriteString("| value | hex | name | outcome | category | description | source | advice |\n|---:|---|---|---|---|---|---|---|\n")
		for _, e := range all {
			if e.Space != s {
				continue
			}
			hex := ""
			if e.Value < 0 {
				hex = string(AppendHex(nil, e.Value))
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", e.Value, hex, mdCell(e.Name), e.Outcome, e.Category,
				mdCell(e.Description), mdCell(e.Source), mdCell(e.Advice))
		}
	}
	return b.Bytes()
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
