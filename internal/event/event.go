// Package event defines the install event, contract v1 of DESIGN.md: the
// Event type and its constants, Fields (the table of every contract field in
// wire order, with its ClickHouse column), and the NATS subject of an event.
// It imports nothing of cspwatch: building events from SyncML is package
// normalize's, their JSON codec package eventjson's, and consumers (the
// aggregator, the store) depend on neither the scanner nor the normaliser.
//
// Fields may be added to Event; none is ever renamed or removed. A new field
// goes into Event (or Product) and Fields; the tests of event, eventjson and
// store then say what else must follow (the encoder, the decoder, the
// INSERT, a migration, the JSON Schema).
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
	GenericAlert string   `json:"mdm_generic_alert,omitempty"`
	Product      *Product `json:"product,omitempty"`
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
