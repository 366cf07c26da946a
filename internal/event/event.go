// Package event defines the install event, contract v1 of DESIGN.md: the
// Event type and its constants, Fields (the table of every contract field in
// wire order, with its ClickHouse column), the NATS subject of an event, and
// the canonical form of a target id (AppendTargetID).
// It imports nothing of cspwatch: building events from SyncML is package
// normalize's, their JSON codec package eventjson's, and consumers (the
// aggregator, the store) depend on neither the scanner nor the normaliser.
//
// Fields may be added to Event; none is ever renamed or removed. A new field
// goes into Event (or one of its objects: Product, MSIJob, OfficeConfig) and
// Fields; the tests of event, eventjson and store then say what else must
// follow (the encoder, the decoder, the INSERT, a migration, the JSON
// Schema).
package event

import "time"

// SchemaVersion is the contract version written in every event.
const SchemaVersion = 1

// Time layout of received_at, for consumers that format it themselves.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Kinds of event.
const (
	KindAlert     = "alert"
	KindResult    = "result"
	KindStatus    = "status"
	KindInventory = "inventory"
	// KindCommand is a command the MDM server sent to a device (Add,
	// Replace, Exec, Get, Delete, or an Atomic or Sequence holding such),
	// read from the server's message rather than from the device's answer.
	KindCommand = "command"
)

// OutcomeRequested is the outcome of every command event: the server asked,
// and the device's answer (a status or result event) says what came of it.
const OutcomeRequested = "requested"

// Commands of command events: the SyncML element the server sent.
const (
	CommandAdd      = "Add"
	CommandReplace  = "Replace"
	CommandExec     = "Exec"
	CommandGet      = "Get"
	CommandDelete   = "Delete"
	CommandAtomic   = "Atomic"
	CommandSequence = "Sequence"
)

// Scopes.
const (
	ScopeDevice = "device"
	ScopeUser   = "user"
)

// CSP names as they appear in events.
const (
	CSPOffice = "Office"
	CSPMSI    = "EnterpriseDesktopAppManagement"
)

// Event is one normalised install event. Its JSON form is contract v1; the
// JSON Schema is schema/install_event.v1.schema.json.
type Event struct {
	EventID       string `json:"event_id"`
	SchemaVersion int    `json:"schema_version"`
	// ReceivedAt is when ingest accepted the request (UTC, millisecond precision).
	ReceivedAt time.Time `json:"received_at"`
	Tenant     string    `json:"tenant"`
	DeviceID   string    `json:"device_id"`
	SessionID  string    `json:"session_id"`
	MsgID      string    `json:"msg_id"`
	Kind       string    `json:"kind"`
	CmdID      int64     `json:"cmd_id"`
	CmdRef     int64     `json:"cmd_ref"`
	Scope      string    `json:"scope"`
	CSP        string    `json:"csp"`
	TargetID   string    `json:"target_id"`
	Node       string    `json:"node"`
	LocURI     string    `json:"loc_uri"`
	// Code is the numeric result; it is meaningful only where CodeSpace is
	// set (an inventory event or a chr node carries none and says 0). HRESULTs, whether sent as negative int32,
	// unsigned decimal or hex, are normalised to their signed 32-bit value so
	// one HRESULT always has one Code.
	Code      int64  `json:"code"`
	CodeHex   string `json:"code_hex,omitempty"`
	Win32Code int64  `json:"win32_code,omitempty"`
	CodeSpace string `json:"code_space,omitempty"`
	CodeName  string `json:"code_name,omitempty"`
	Outcome   string `json:"outcome"`
	Category  string `json:"category,omitempty"`
	AlertType string `json:"alert_type,omitempty"`
	Mark      string `json:"mark,omitempty"`
	Text      string `json:"text,omitempty"`
	// OriginalError is the msft:originalerror HRESULT as 0x-prefixed lower-case hex.
	OriginalError string `json:"original_error,omitempty"`
	// MDMReceivedAt is when the MDM server says it received the message (its
	// header, passed through as sent); empty when absent.
	MDMReceivedAt string `json:"mdm_received_at,omitempty"`
	// GenericAlert is the MDM-GenericAlert HTTP header of the session, when present.
	GenericAlert string `json:"mdm_generic_alert,omitempty"`
	// CmdIDRaw is the command's CmdID as sent (servers use UUIDs, which
	// CmdID reads as 0).
	CmdIDRaw string `json:"cmd_id_raw,omitempty"`
	// MsgRef is a Status's or Results's MsgRef as sent: the server message
	// the device answers.
	MsgRef string `json:"msg_ref,omitempty"`
	// CmdRefRaw is the CmdRef as sent; CmdRef is its numeric form, 0 when
	// it is not a number.
	CmdRefRaw string `json:"cmd_ref_raw,omitempty"`
	// Command is the server's command of a command event (CommandAdd, ...).
	Command string `json:"command,omitempty"`
	// PayloadError is why the document of an install Exec was rejected
	// (an installjob reason such as "doctype"); MSIJob and OfficeConfig
	// are then nil.
	PayloadError string        `json:"payload_error,omitempty"`
	Product      *Product      `json:"product,omitempty"`
	MSIJob       *MSIJob       `json:"msi_job,omitempty"`
	OfficeConfig *OfficeConfig `json:"office_config,omitempty"`
}

// Product holds the descriptive nodes the same message carried for the same
// target.
type Product struct {
	Name          string `json:"name,omitempty"`
	Version       string `json:"version,omitempty"`
	Publisher     string `json:"publisher,omitempty"`
	InstallDate   string `json:"install_date,omitempty"`
	InstallPath   string `json:"install_path,omitempty"`
	LastErrorDesc string `json:"last_error_desc,omitempty"`
}

// MSIJob is what the MsiInstallJob document of an Exec of
// EnterpriseDesktopAppManagement/MSI/{ProductID}/DownloadInstall asks the
// device to install; names follow the CSP's elements.
type MSIJob struct {
	// ID is MsiInstallJob's id attribute.
	ID string `json:"id,omitempty"`
	// ProductVersion is Product's Version attribute.
	ProductVersion string `json:"product_version,omitempty"`
	// ContentURLs are Download/ContentURLList/ContentURL, in order.
	ContentURLs []string `json:"content_urls,omitempty"`
	// FileName is the file name of the first ContentURL that has one.
	FileName string `json:"file_name,omitempty"`
	// FileHash is Validation/FileHash as sent.
	FileHash string `json:"file_hash,omitempty"`
	// CommandLine is Enforcement/CommandLine.
	CommandLine string `json:"command_line,omitempty"`
	// TimeoutMin, RetryCount and RetryIntervalMin are Enforcement/TimeOut,
	// RetryCount and RetryInterval (minutes, count, minutes).
	TimeoutMin       int64 `json:"timeout_min,omitempty"`
	RetryCount       int64 `json:"retry_count,omitempty"`
	RetryIntervalMin int64 `json:"retry_interval_min,omitempty"`
}

// OfficeConfig is what the Office Deployment Tool configuration of an Exec
// of Office/Installation/{id}/install asks Click-to-Run to do.
type OfficeConfig struct {
	// ProductIDs are the Add/Product IDs, in order, without repeats.
	ProductIDs []string `json:"product_ids,omitempty"`
	// Channel is Add's Channel (or Branch), Version its Version, Edition
	// its OfficeClientEdition ("32" or "64").
	Channel string `json:"channel,omitempty"`
	Version string `json:"version,omitempty"`
	Edition string `json:"edition,omitempty"`
	// Languages are the Product/Language IDs, in order, without repeats.
	Languages []string `json:"languages,omitempty"`
	// Remove reports a Remove element: the configuration also, or only,
	// uninstalls.
	Remove bool `json:"remove,omitempty"`
}

// CSPLabel is how administrators name a CSP in a table: "MSI" for
// EnterpriseDesktopAppManagement, "-" for none, any other as it is.
func CSPLabel(csp string) string {
	switch csp {
	case CSPMSI:
		return "MSI"
	case "":
		return "-"
	}
	return csp
}
