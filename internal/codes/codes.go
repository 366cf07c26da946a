// Package codes is the catalog of result codes an install event can carry:
// Office CSP status values, Office FinalStatus, EnterpriseDesktopAppManagement
// MSI status values, Windows Installer / Win32 error codes, HRESULTs and
// OMA-DM status codes, each with a name, a description, the outcome it means
// and a cause category.
//
// Lookups are O(1) and do not allocate.
package codes

// Space names the table that gives a code its meaning. The values are the
// code_space strings of contract v1.
type Space string

const (
	SpaceOfficeStatus Space = "office_status" // Office CSP Installation/{id}/Status
	SpaceOfficeFinal  Space = "office_final"  // Office CSP Installation/{id}/FinalStatus
	SpaceMSIStatus    Space = "msi_status"    // EnterpriseDesktopAppManagement MSI/{id}/Status
	SpaceWin32        Space = "win32"         // Windows Installer and Win32 error codes
	SpaceHRESULT      Space = "hresult"       // HRESULTs (FACILITY_WIN32 ones resolve to their Win32 code)
	SpaceOMADM        Space = "omadm"         // OMA-DM status codes of Status commands
)

// Outcome is what a code says about the install. The values are the outcome
// strings of contract v1.
type Outcome string

const (
	Succeeded  Outcome = "succeeded"
	Failed     Outcome = "failed"
	InProgress Outcome = "in_progress"
	Pending    Outcome = "pending"
	Retrying   Outcome = "retrying"
	Unknown    Outcome = "unknown"
)

// Category is the class of cause behind a code, for grouping failures.
type Category string

const (
	CatNone           Category = ""                // success and progress codes carry no cause
	CatPrerequisite   Category = "prerequisite"    // a pre-requisite or applicability check failed
	CatNetwork        Category = "network"         // download, time-out, connectivity
	CatConflict       Category = "conflict"        // another install or scenario is running, a product conflicts
	CatDisk           Category = "disk"            // out of disk space, file in use, access to files
	CatContent        Category = "content"         // the package or its content is bad or missing
	CatSignature      Category = "signature"       // a signature or hash check failed
	CatUserCancel     Category = "user_cancel"     // the user cancelled
	CatRebootRequired Category = "reboot_required" // succeeded, a restart is needed or was started
	CatNotFound       Category = "not_found"       // the product, node or object does not exist
	CatPolicy         Category = "policy"          // blocked by policy or not permitted
	CatAuth           Category = "auth"            // authentication or authorisation failed
	CatClient         Category = "client"          // the MDM client, a CSP or the installer service itself failed
	CatCommand        Category = "command"         // the server's command (or the install command line it sent) was malformed or unsupported
	CatInstaller      Category = "installer"       // the installer ran and failed without a more specific code (1603, 17002): its log has the cause
	CatAtomic         Category = "atomic"          // failed or rolled back because another command of the same Atomic failed
	CatUnknown        Category = "unknown"         // a failure whose cause the code does not tell
)

// Info is the catalog's knowledge of one code in one space.
type Info struct {
	Space Space
	// Value is the code; HRESULTs are held as their signed 32-bit value.
	Value       int64
	Name        string
	Description string
	Outcome     Outcome
	Category    Category
	// Source says where the meaning comes from ("Windows Installer error
	// codes", "Office CSP", "OMA-DM 1.2 status codes", ...).
	Source string
	// Advice is a short remediation an on-call admin can act on.
	Advice string
	// Known reports whether the code has its own catalog entry; when false,
	// Outcome and Category are the space's default for an unlisted value.
	Known bool
}
