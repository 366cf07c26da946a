package installjob

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// MSIJob is what an MsiInstallJob document asks the device to install. The
// document is the Item/Data of an Exec on the EnterpriseDesktopAppManagement
// CSP node MSI/{ProductID}/DownloadInstall; field meanings follow that CSP's
// reference. Absent parts leave their fields zero: the CSP itself requires
// most of them, but reporting what was sent is more useful than rejecting it.
type MSIJob struct {
	// ID is the root's id attribute, the application identifier (for an
	// MSI, normally the product code in braces).
	ID string
	// ProductVersion is Product's Version attribute.
	ProductVersion string
	// ContentURLs are the non-empty Download/ContentURLList/ContentURL
	// values in document order: alternative locations of the same .msi.
	ContentURLs []string
	// FileName is the last path segment of the first ContentURL that has
	// one (query and fragment removed, '/' or '\' as separator),
	// percent-decoded and trimmed, e.g. "Orca.msi". It is always valid
	// UTF-8 without control characters or separators; a segment that would
	// decode to such is kept percent-encoded.
	FileName string
	// FileHash is Validation/FileHash, the SHA-256 of the .msi in hex, as
	// sent.
	FileHash string
	// CommandLine is Enforcement/CommandLine, the msiexec options.
	CommandLine string
	// TimeoutMinutes is Enforcement/TimeOut: minutes before the installer
	// considers the installation may have failed.
	TimeoutMinutes int
	// RetryCount is Enforcement/RetryCount.
	RetryCount int
	// RetryIntervalMinutes is Enforcement/RetryInterval: minutes between
	// retries.
	RetryIntervalMinutes int
	// Warnings name values that were present but unusable (a TimeOut that
	// is not a non-negative integer, say); the corresponding field is 0.
	// Nil when there are none.
	Warnings []string
}

// ParseMSIJob parses an MsiInstallJob document (EnterpriseDesktopAppManagement
// CSP, Exec of MSI/{ProductID}/DownloadInstall). data is Item/Data as the
// SyncML scanner delivers it; a byte order mark, surrounding white space, an
// XML declaration, a namespace on the root and one further level of entity
// escaping ("&lt;MsiInstallJob ...") are tolerated.
//
// A rejected document returns an *Error. The cost is bounded by MaxSize,
// MaxDepth and MaxElements: a linear pre-scan without allocation, then an
// etree tree of at most MaxElements elements. ParseMSIJob does not retain
// data and is safe for concurrent use.
func ParseMSIJob(data []byte) (MSIJob, error) {
	root, err := prepare(data, "MsiInstallJob")
	if err != nil {
		return MSIJob{}, err
	}
	j := MSIJob{ID: attr(root, "id")}
	p := child(root, "Product")
	j.ProductVersion = attr(p, "Version")
	if list := child(child(p, "Download"), "ContentURLList"); list != nil {
		for _, c := range list.ChildElements() {
			if strings.EqualFold(c.Tag, "ContentURL") {
				if u := text(c); u != "" {
					j.ContentURLs = append(j.ContentURLs, u)
				}
			}
		}
	}
	for _, u := range j.ContentURLs {
		if j.FileName = fileName(u); j.FileName != "" {
			break
		}
	}
	j.FileHash = text(child(child(p, "Validation"), "FileHash"))
	enf := child(p, "Enforcement")
	j.CommandLine = text(child(enf, "CommandLine"))
	j.TimeoutMinutes = j.count(enf, "TimeOut")
	j.RetryCount = j.count(enf, "RetryCount")
	j.RetryIntervalMinutes = j.count(enf, "RetryInterval")
	return j, nil
}

// count reads Enforcement/name as a non-negative integer. An absent or empty
// element is 0 silently: the installer then applies its default. Anything
// else that is not a number is 0 with a warning, because the device will
// reject or misread it and the operator should be able to see why.
func (j *MSIJob) count(enf *etree.Element, name string) int {
	e := child(enf, name)
	v := text(e)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		j.Warnings = append(j.Warnings, fmt.Sprintf("Enforcement/%s: %q is not a non-negative integer", name, truncate(v, 40)))
		return 0
	}
	return n
}

// fileName returns the last path segment of a ContentURL, or "" when it has
// none. It is lexical, not url.Parse: ContentURLs in the wild include UNC
// paths and drive letters that url.Parse misreads or rejects.
func fileName(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			return "" // authority only
		}
		u = rest[slash:]
	}
	// Surrounding blanks are trimmed, decoded or not: Windows drops trailing
	// ones from file names, and a name is shown and stored, not opened.
	seg := strings.Trim(u[strings.LastIndexAny(u, `/\`)+1:], xmlSpace)
	if dec, err := url.PathUnescape(seg); err == nil {
		if dec = strings.Trim(dec, xmlSpace); plainName(dec) {
			return dec
		}
	}
	if plainName(seg) {
		return seg
	}
	return ""
}

// plainName reports whether s is safe to show and store as a file name.
func plainName(s string) bool {
	if s == "" || s == "." || s == ".." || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return false
		}
	}
	return true
}
