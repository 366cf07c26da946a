package eventjson

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
)

// Decode parses one contract-v1 JSON event and checks it: malformed JSON, a
// schema_version other than 1, or a missing event_id, tenant, device_id,
// kind or received_at is an error. Every error Decode returns wraps
// ErrInvalid and is permanent. It accepts exactly what encoding/json accepts
// into an Event, with the same result (see Decoder); it allocates one string
// for the fields that are not interned and one Product when the event has
// one.
func Decode(data []byte) (event.Event, error) {
	var e event.Event
	err := DecodeInto(data, &e)
	return e, err
}

// DecodeInto is Decode into *e, which it overwrites: on error *e is the zero
// Event. It borrows a Decoder from a pool; a goroutine decoding many events
// is better served by a Decoder of its own.
func DecodeInto(data []byte, e *event.Event) error {
	d := decoderPool.Get().(*Decoder)
	err := d.DecodeInto(data, e)
	decoderPool.Put(d)
	return err
}

// ErrInvalid marks an event that decodes but breaks the contract; such a
// message will never become valid, so consumers dead-letter it.
var ErrInvalid = errors.New("invalid event")

var decoderPool = sync.Pool{New: func() any { return new(Decoder) }}

// Decoder decodes contract-v1 events without reflection. It accepts any JSON
// object encoding/json would decode into an Event and yields the same Event:
// fields in any order, keys matched exactly or else case-insensitively as
// encoding/json does, unknown fields skipped (but validated), null leaving a
// field as it is, the last of repeated keys winning, string escapes
// including surrogate pairs, invalid UTF-8 inside strings replaced by U+FFFD.
// Everything encoding/json rejects (syntax, a value of the wrong type, an
// integer with a fraction or out of range, nesting deeper than 10,000) it
// rejects too, though with its own error text.
//
// Cost: one pass over the input, one string allocation per event shared by
// the fields that are not interned (event_id, device_id, text, cmd_id_raw,
// ...), one Product when the event carries one. A command event's msi_job
// or office_config costs its struct and a string (and slice) per field set:
// they are few, one per install command. Values of the small repeated sets
// (kind, scope, csp, node, outcome, code space and name, category, mark,
// alert type, tenant, target, product name and version, ...) are interned
// in a table of at most internMax entries per Decoder, so a repeated value
// costs no allocation and no memory of its own.
//
// A Decoder is not safe for concurrent use; the zero value is ready.
type Decoder struct {
	// arena collects the bytes of the non-interned string fields of the
	// event being decoded; one string conversion at the end backs them all.
	arena []byte
	// tmp holds an unescaped key or value.
	tmp    []byte
	slots  [numStrFields]slot
	anySet bool
	intern map[string]string
	// last is each interned field's previous value: consecutive events
	// mostly repeat tenant, kind, scope, csp, node and the like, and a
	// comparison is cheaper than a map lookup.
	last [numStrFields]string
}

// slot records where a string field's value lies in arena.
type slot struct {
	off, end int32
	set      bool
}

// Interning bounds: a table that fills up is cleared and reseeded, so a
// stream of distinct values (a misuse of a field) costs at most internMax
// strings and never grows without bound.
const (
	internMax    = 4096
	internMaxLen = 160
)

// internSeed are values known in advance, so the table starts useful.
var internSeed = []string{
	event.KindAlert, event.KindResult, event.KindStatus, event.KindInventory, event.KindCommand,
	event.OutcomeRequested, event.CommandAdd, event.CommandReplace, event.CommandExec, event.CommandGet,
	event.CommandDelete, event.CommandAtomic, event.CommandSequence,
	event.ScopeDevice, event.ScopeUser, event.CSPOffice, event.CSPMSI,
	// normalize.InstallAlertType, which this package cannot import without
	// internal/syncml (TestInternSeed keeps the two equal).
	"com.microsoft.mdm.win32csp_install",
	string(codes.SpaceOfficeStatus), string(codes.SpaceOfficeFinal), string(codes.SpaceMSIStatus),
	string(codes.SpaceWin32), string(codes.SpaceHRESULT), string(codes.SpaceOMADM),
	string(codes.Succeeded), string(codes.Failed), string(codes.InProgress), string(codes.Pending),
	string(codes.Retrying), string(codes.Unknown),
	string(codes.CatPrerequisite), string(codes.CatNetwork), string(codes.CatConflict), string(codes.CatDisk),
	string(codes.CatContent), string(codes.CatSignature), string(codes.CatUserCancel),
	string(codes.CatRebootRequired), string(codes.CatNotFound), string(codes.CatPolicy), string(codes.CatAuth),
	string(codes.CatClient), string(codes.CatCommand), string(codes.CatInstaller), string(codes.CatAtomic),
	string(codes.CatUnknown),
	"Status", "FinalStatus", "CurrentStatus", "Install", "UpgradeCode",
	"DownloadInstall", "InstallDate", "InstallPath", "LastError", "LastErrorDesc", "Name", "Publisher", "Version",
	"informational", "critical", "warning", "fatal", "major", "minor",
}

// String fields, by the slot that holds them while decoding.
const (
	sEventID = iota
	sTenant
	sDeviceID
	sSessionID
	sMsgID
	sKind
	sScope
	sCSP
	sTargetID
	sNode
	sLocURI
	sCodeHex
	sCodeSpace
	sCodeName
	sOutcome
	sCategory
	sAlertType
	sMark
	sText
	sOriginalError
	sMDMReceivedAt
	sGenericAlert
	sCmdIDRaw
	sMsgRef
	sCmdRefRaw
	sCommand
	sPayloadError
	sProductName // the product fields come last: a null product clears them
	sProductVersion
	sProductPublisher
	sProductInstallDate
	sProductInstallPath
	sProductLastErrorDesc
	numStrFields
)

// Other fields, numbered after the string fields.
const (
	fSchemaVersion = numStrFields + iota
	fReceivedAt
	fCmdID
	fCmdRef
	fCode
	fWin32Code
	fProduct
	fMSIJob
	fOfficeConfig
	// The fields of msi_job and office_config, set as they are decoded:
	// command events are few, so their strings are allocated each.
	fJobID
	fJobProductVersion
	fJobContentURLs
	fJobFileName
	fJobFileHash
	fJobCommandLine
	fJobTimeoutMin
	fJobRetryCount
	fJobRetryIntervalMin
	fOfficeProductIDs
	fOfficeChannel
	fOfficeVersion
	fOfficeEdition
	fOfficeLanguages
	fOfficeRemove
	fUnknown
)

// interned says which string fields repeat across events and go through the
// intern table; the others (unique or nearly so) go to the arena.
var interned = [numStrFields]bool{
	sTenant: true, sSessionID: true, sMsgID: true, sKind: true, sScope: true, sCSP: true,
	sTargetID: true, sNode: true, sLocURI: true, sCodeHex: true, sCodeSpace: true, sCodeName: true,
	sOutcome: true, sCategory: true, sAlertType: true, sMark: true, sOriginalError: true,
	sGenericAlert: true, sMsgRef: true, sCommand: true, sPayloadError: true, sProductName: true, sProductVersion: true, sProductPublisher: true,
	sProductInstallDate: true, sProductInstallPath: true, sProductLastErrorDesc: true,
}

func strField(e *event.Event, f int) *string {
	switch f {
	case sEventID:
		return &e.EventID
	case sTenant:
		return &e.Tenant
	case sDeviceID:
		return &e.DeviceID
	case sSessionID:
		return &e.SessionID
	case sMsgID:
		return &e.MsgID
	case sKind:
		return &e.Kind
	case sScope:
		return &e.Scope
	case sCSP:
		return &e.CSP
	case sTargetID:
		return &e.TargetID
	case sNode:
		return &e.Node
	case sLocURI:
		return &e.LocURI
	case sCodeHex:
		return &e.CodeHex
	case sCodeSpace:
		return &e.CodeSpace
	case sCodeName:
		return &e.CodeName
	case sOutcome:
		return &e.Outcome
	case sCategory:
		return &e.Category
	case sAlertType:
		return &e.AlertType
	case sMark:
		return &e.Mark
	case sText:
		return &e.Text
	case sOriginalError:
		return &e.OriginalError
	case sMDMReceivedAt:
		return &e.MDMReceivedAt
	case sGenericAlert:
		return &e.GenericAlert
	case sCmdIDRaw:
		return &e.CmdIDRaw
	case sMsgRef:
		return &e.MsgRef
	case sCmdRefRaw:
		return &e.CmdRefRaw
	case sCommand:
		return &e.Command
	case sPayloadError:
		return &e.PayloadError
	}
	p := e.Product
	switch f {
	case sProductName:
		return &p.Name
	case sProductVersion:
		return &p.Version
	case sProductPublisher:
		return &p.Publisher
	case sProductInstallDate:
		return &p.InstallDate
	case sProductInstallPath:
		return &p.InstallPath
	case sProductLastErrorDesc:
		return &p.LastErrorDesc
	}
	panic("eventjson: no string field " + strconv.Itoa(f))
}

// eventField maps a lower-case key to its field.
func eventField(key []byte) int {
	switch string(key) {
	case "event_id":
		return sEventID
	case "schema_version":
		return fSchemaVersion
	case "received_at":
		return fReceivedAt
	case "tenant":
		return sTenant
	case "device_id":
		return sDeviceID
	case "session_id":
		return sSessionID
	case "msg_id":
		return sMsgID
	case "kind":
		return sKind
	case "cmd_id":
		return fCmdID
	case "cmd_ref":
		return fCmdRef
	case "scope":
		return sScope
	case "csp":
		return sCSP
	case "target_id":
		return sTargetID
	case "node":
		return sNode
	case "loc_uri":
		return sLocURI
	case "code":
		return fCode
	case "code_hex":
		return sCodeHex
	case "win32_code":
		return fWin32Code
	case "code_space":
		return sCodeSpace
	case "code_name":
		return sCodeName
	case "outcome":
		return sOutcome
	case "category":
		return sCategory
	case "alert_type":
		return sAlertType
	case "mark":
		return sMark
	case "text":
		return sText
	case "original_error":
		return sOriginalError
	case "mdm_received_at":
		return sMDMReceivedAt
	case "mdm_generic_alert":
		return sGenericAlert
	case "cmd_id_raw":
		return sCmdIDRaw
	case "msg_ref":
		return sMsgRef
	case "cmd_ref_raw":
		return sCmdRefRaw
	case "command":
		return sCommand
	case "payload_error":
		return sPayloadError
	case "product":
		return fProduct
	case "msi_job":
		return fMSIJob
	case "office_config":
		return fOfficeConfig
	}
	return fUnknown
}

// msiJobField maps a lower-case key of the msi_job object to its field.
func msiJobField(key []byte) int {
	switch string(key) {
	case "id":
		return fJobID
	case "product_version":
		return fJobProductVersion
	case "content_urls":
		return fJobContentURLs
	case "file_name":
		return fJobFileName
	case "file_hash":
		return fJobFileHash
	case "command_line":
		return fJobCommandLine
	case "timeout_min":
		return fJobTimeoutMin
	case "retry_count":
		return fJobRetryCount
	case "retry_interval_min":
		return fJobRetryIntervalMin
	}
	return fUnknown
}

// officeField maps a lower-case key of the office_config object to its field.
func officeField(key []byte) int {
	switch string(key) {
	case "product_ids":
		return fOfficeProductIDs
	case "channel":
		return fOfficeChannel
	case "version":
		return fOfficeVersion
	case "edition":
		return fOfficeEdition
	case "languages":
		return fOfficeLanguages
	case "remove":
		return fOfficeRemove
	}
	return fUnknown
}

// productField maps a lower-case key of the product object to its field.
func productField(key []byte) int {
	switch string(key) {
	case "name":
		return sProductName
	case "version":
		return sProductVersion
	case "publisher":
		return sProductPublisher
	case "install_date":
		return sProductInstallDate
	case "install_path":
		return sProductInstallPath
	case "last_error_desc":
		return sProductLastErrorDesc
	}
	return fUnknown
}

// lookup finds the field of key as encoding/json does: the exact name, or
// else the name that equals key under Unicode simple case folding (so
// "Event_ID" and "\u212aind", with a Kelvin sign, are fields too).
func (d *Decoder) lookup(key []byte, fields func([]byte) int) int {
	if f := fields(key); f != fUnknown {
		return f
	}
	if len(key) > 64 {
		return fUnknown // longer than any field name could fold from
	}
	var buf [64]byte
	folded := buf[:0]
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			folded = append(folded, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(key[i:])
		i += n
		r = foldRune(r)
		if r >= utf8.RuneSelf {
			return fUnknown // every field name is ASCII
		}
		c = byte(r)
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		folded = append(folded, c)
	}
	return fields(folded)
}

// foldRune returns the smallest rune of r's simple case folding orbit, as
// encoding/json folds names.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// DecodeInto decodes data into *e, which it overwrites, and checks it as
// Decode does; on error *e is the zero Event.
func (d *Decoder) DecodeInto(data []byte, e *event.Event) error {
	*e = event.Event{}
	if err := d.decode(data, e); err != nil {
		*e = event.Event{}
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := validate(e); err != nil {
		*e = event.Event{}
		return err
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	return nil
}

// validate applies the contract's checks to a decoded event.
func validate(e *event.Event) error {
	switch {
	case e.SchemaVersion != event.SchemaVersion:
		return fmt.Errorf("%w: schema_version %d, want %d", ErrInvalid, e.SchemaVersion, event.SchemaVersion)
	case e.EventID == "":
		return fmt.Errorf("%w: no event_id", ErrInvalid)
	case e.Tenant == "":
		return fmt.Errorf("%w: no tenant", ErrInvalid)
	case e.DeviceID == "":
		return fmt.Errorf("%w: no device_id", ErrInvalid)
	case e.Kind != event.KindAlert && e.Kind != event.KindResult && e.Kind != event.KindStatus && e.Kind != event.KindInventory &&
		e.Kind != event.KindCommand:
		return fmt.Errorf("%w: kind %q", ErrInvalid, e.Kind)
	case e.ReceivedAt.IsZero():
		return fmt.Errorf("%w: no received_at", ErrInvalid)
	}
	return nil
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

var errEOF = errors.New("unexpected end of JSON input")

// syntaxError describes malformed JSON at an offset.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return "json: " + e.msg + " at offset " + strconv.Itoa(e.off) }

func errAt(data []byte, i int, what string) error {
	if i >= len(data) {
		return errEOF
	}
	return &syntaxError{msg: fmt.Sprintf("invalid character %q %s", data[i], what), off: i}
}

// typeError is a valid JSON value of the wrong type for where it stands.
type typeError struct {
	want string
	off  int
}

func (e *typeError) Error() string {
	return "json: value at offset " + strconv.Itoa(e.off) + " is not " + e.want
}

func (d *Decoder) decode(data []byte, e *event.Event) error {
	d.arena = d.arena[:0]
	d.slots = [numStrFields]slot{}
	d.anySet = false
	if d.intern == nil {
		d.resetIntern()
	}
	i := skipWS(data, 0)
	if i >= len(data) {
		return errEOF
	}
	var err error
	switch data[i] {
	case '{':
		if i, err = d.object(data, i, 1, e, 0); err != nil {
			return err
		}
	case 'n':
		// null decodes to nothing; validation then rejects the empty event.
		if i, err = literal(data, i, "null"); err != nil {
			return err
		}
	default:
		if _, err := skipValue(data, i, 0); err != nil {
			return err
		}
		return &typeError{want: "an object", off: i}
	}
	if i = skipWS(data, i); i < len(data) {
		return errAt(data, i, "after top-level value")
	}
	if d.anySet {
		s := string(d.arena)
		for f := range d.slots {
			if sl := d.slots[f]; sl.set {
				*strField(e, f) = s[sl.off:sl.end]
			}
		}
	}
	return nil
}

// object decodes the object at data[i] (a '{') into e, or into the nested
// object of e that obj names (fProduct, fMSIJob, fOfficeConfig; 0 for the
// event itself), and returns the offset after it. depth is the object's
// nesting depth, 1 for the event.
func (d *Decoder) object(data []byte, i, depth int, e *event.Event, obj int) (int, error) {
	fields := eventField
	switch obj {
	case fProduct:
		fields = productField
	case fMSIJob:
		fields = msiJobField
	case fOfficeConfig:
		fields = officeField
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return 0, errAt(data, i, "looking for beginning of object key string")
		}
		end, esc, err := scanString(data, i)
		if err != nil {
			return 0, err
		}
		key := data[i+1 : end-1]
		if esc {
			d.tmp = unquote(d.tmp[:0], key)
			key = d.tmp
		}
		f := d.lookup(key, fields)
		i = skipWS(data, end)
		if i >= len(data) || data[i] != ':' {
			return 0, errAt(data, i, "after object key")
		}
		if i = skipWS(data, i+1); i >= len(data) {
			return 0, errEOF
		}
		if i, err = d.value(data, i, depth, e, f); err != nil {
			return 0, err
		}
		i = skipWS(data, i)
		if i >= len(data) {
			return 0, errEOF
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errAt(data, i, "after object key:value pair")
		}
	}
}

// value decodes the value at data[i] into field f and returns the offset
// after it.
func (d *Decoder) value(data []byte, i, depth int, e *event.Event, f int) (int, error) {
	c := data[i]
	if c == 'n' {
		// null leaves a field as it is, except that it takes an object or
		// an array away.
		next, err := literal(data, i, "null")
		if err != nil {
			return 0, err
		}
		switch f {
		case fProduct:
			e.Product = nil
			for p := sProductName; p < numStrFields; p++ {
				d.slots[p].set = false
			}
		case fMSIJob:
			e.MSIJob = nil
		case fOfficeConfig:
			e.OfficeConfig = nil
		case fJobContentURLs:
			e.MSIJob.ContentURLs = nil
		case fOfficeProductIDs:
			e.OfficeConfig.ProductIDs = nil
		case fOfficeLanguages:
			e.OfficeConfig.Languages = nil
		}
		return next, nil
	}
	switch {
	case f < numStrFields:
		if c != '"' {
			break
		}
		return d.stringValue(data, i, e, f)
	case f == fUnknown:
		return skipValue(data, i, depth)
	case f == fReceivedAt:
		if c != '"' {
			break
		}
		end, _, err := scanString(data, i)
		if err != nil {
			return 0, err
		}
		// As encoding/json does through time.Time.UnmarshalJSON: the bytes
		// between the quotes as they are, escapes not undone.
		if err := e.ReceivedAt.UnmarshalJSON(data[i:end]); err != nil {
			return 0, err
		}
		return end, nil
	case f == fProduct:
		if c != '{' {
			break
		}
		if e.Product == nil {
			e.Product = new(event.Product)
		}
		return d.object(data, i, depth+1, e, fProduct)
	case f == fMSIJob:
		if c != '{' {
			break
		}
		if e.MSIJob == nil {
			e.MSIJob = new(event.MSIJob)
		}
		return d.object(data, i, depth+1, e, fMSIJob)
	case f == fOfficeConfig:
		if c != '{' {
			break
		}
		if e.OfficeConfig == nil {
			e.OfficeConfig = new(event.OfficeConfig)
		}
		return d.object(data, i, depth+1, e, fOfficeConfig)
	case f == fJobContentURLs || f == fOfficeProductIDs || f == fOfficeLanguages:
		if c != '[' {
			break
		}
		var dst *[]string
		switch f {
		case fJobContentURLs:
			dst = &e.MSIJob.ContentURLs
		case fOfficeProductIDs:
			dst = &e.OfficeConfig.ProductIDs
		case fOfficeLanguages:
			dst = &e.OfficeConfig.Languages
		}
		return d.stringArray(data, i, depth, dst)
	case f == fOfficeRemove:
		var next int
		var err error
		switch c {
		case 't':
			next, err = literal(data, i, "true")
		case 'f':
			next, err = literal(data, i, "false")
		default:
			next = -1
		}
		if next < 0 {
			break
		}
		if err != nil {
			return 0, err
		}
		e.OfficeConfig.Remove = c == 't'
		return next, nil
	case f >= fJobID && f <= fOfficeRemove && f != fJobTimeoutMin && f != fJobRetryCount && f != fJobRetryIntervalMin:
		// The string fields of msi_job and office_config.
		if c != '"' {
			break
		}
		v, end, err := d.str(data, i)
		if err != nil {
			return 0, err
		}
		switch f {
		case fJobID:
			e.MSIJob.ID = v
		case fJobProductVersion:
			e.MSIJob.ProductVersion = v
		case fJobFileName:
			e.MSIJob.FileName = v
		case fJobFileHash:
			e.MSIJob.FileHash = v
		case fJobCommandLine:
			e.MSIJob.CommandLine = v
		case fOfficeChannel:
			e.OfficeConfig.Channel = v
		case fOfficeVersion:
			e.OfficeConfig.Version = v
		case fOfficeEdition:
			e.OfficeConfig.Edition = v
		}
		return end, nil
	default: // the integers
		if c != '-' && (c < '0' || c > '9') {
			break
		}
		n, end, err := parseInt(data, i)
		if err != nil {
			return 0, err
		}
		switch f {
		case fSchemaVersion:
			if int64(int(n)) != n {
				return 0, &typeError{want: "an int", off: i}
			}
			e.SchemaVersion = int(n)
		case fCmdID:
			e.CmdID = n
		case fCmdRef:
			e.CmdRef = n
		case fCode:
			e.Code = n
		case fWin32Code:
			e.Win32Code = n
		case fJobTimeoutMin:
			e.MSIJob.TimeoutMin = n
		case fJobRetryCount:
			e.MSIJob.RetryCount = n
		case fJobRetryIntervalMin:
			e.MSIJob.RetryIntervalMin = n
		}
		return end, nil
	}
	if _, err := skipValue(data, i, depth); err != nil {
		return 0, err
	}
	return 0, &typeError{want: "of the field's type", off: i}
}

// stringValue decodes the string at data[i] into string field f.
func (d *Decoder) stringValue(data []byte, i int, e *event.Event, f int) (int, error) {
	end, esc, err := scanString(data, i)
	if err != nil {
		return 0, err
	}
	v := data[i+1 : end-1]
	if esc {
		d.tmp = unquote(d.tmp[:0], v)
		v = d.tmp
	}
	if interned[f] && len(v) <= internMaxLen {
		s := d.last[f]
		if string(v) != s {
			var ok bool
			if s, ok = d.intern[string(v)]; !ok {
				if len(d.intern) >= internMax {
					d.resetIntern()
				}
				s = string(v)
				d.intern[s] = s
			}
			d.last[f] = s
		}
		*strField(e, f) = s
		d.slots[f].set = false
		return end, nil
	}
	off := len(d.arena)
	d.arena = append(d.arena, v...)
	d.slots[f] = slot{off: int32(off), end: int32(len(d.arena)), set: true}
	d.anySet = true
	return end, nil
}

// str decodes the string at data[i] into a string of its own.
func (d *Decoder) str(data []byte, i int) (string, int, error) {
	end, esc, err := scanString(data, i)
	if err != nil {
		return "", 0, err
	}
	v := data[i+1 : end-1]
	if esc {
		d.tmp = unquote(d.tmp[:0], v)
		v = d.tmp
	}
	return string(v), end, nil
}

// stringArray decodes the array at data[i] (a '[') into *dst as
// encoding/json decodes an array into a []string: into the slice as it is,
// element by element (null leaves an element as it is, also one the slice
// exposes again from its capacity), growing it as append does, then
// truncated to the array's length; an empty array makes an empty slice that
// is not nil.
func (d *Decoder) stringArray(data []byte, i, depth int, dst *[]string) (int, error) {
	if depth+1 > maxDepth {
		return 0, &syntaxError{msg: "exceeded max depth", off: i}
	}
	s := *dst
	n := 0
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == ']' {
		*dst = []string{}
		return i + 1, nil
	}
	for {
		if i >= len(data) {
			return 0, errEOF
		}
		if n >= len(s) {
			if n < cap(s) {
				s = s[:n+1]
			} else {
				s = append(s, "")
			}
		}
		switch data[i] {
		case '"':
			v, end, err := d.str(data, i)
			if err != nil {
				return 0, err
			}
			s[n] = v
			i = end
		case 'n':
			end, err := literal(data, i, "null")
			if err != nil {
				return 0, err
			}
			i = end
		default:
			if _, err := skipValue(data, i, depth+1); err != nil {
				return 0, err
			}
			return 0, &typeError{want: "a string", off: i}
		}
		n++
		if i = skipWS(data, i); i >= len(data) {
			return 0, errEOF
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case ']':
			*dst = s[:n]
			return i + 1, nil
		default:
			return 0, errAt(data, i, "after array element")
		}
	}
}

func (d *Decoder) resetIntern() {
	if d.intern == nil {
		d.intern = make(map[string]string, 256)
	} else {
		clear(d.intern)
	}
	for _, s := range internSeed {
		d.intern[s] = s
	}
}

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func literal(data []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(data) {
			return 0, errEOF
		}
		if data[i+k] != lit[k] {
			return 0, errAt(data, i+k, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// strClass classifies string bytes: 0 plain ASCII, 1 needs a look (quote,
// backslash, control character or non-ASCII).
var strClass = func() (t [256]uint8) {
	for c := range 256 {
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			t[c] = 1
		}
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special8 reports whether any of the eight bytes in x is a quote, a
// backslash, a control character or not ASCII.
func special8(x uint64) bool {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return ((q-lsb)&^q|(b-lsb)&^b|(x-lsb*0x20)&^x|x)&msb != 0
}

// scanString checks the string starting at data[i] (a '"') and returns the
// offset after its closing quote and whether it needs unquoting: it holds an
// escape or bytes that are not ASCII (invalid UTF-8 becomes U+FFFD).
func scanString(data []byte, i int) (end int, esc bool, err error) {
	i++
	for {
		// Eight bytes at a time while none is special: most strings are
		// plain ASCII, and this loop is most of the decoder's time.
		for i+8 <= len(data) && !special8(binary.LittleEndian.Uint64(data[i:])) {
			i += 8
		}
		for i < len(data) && strClass[data[i]] == 0 {
			i++
		}
		if i >= len(data) {
			return 0, false, errEOF
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(data) {
				return 0, false, errEOF
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(data) {
						return 0, false, errEOF
					}
					if !isHex(data[i+k]) {
						return 0, false, errAt(data, i+k, "in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				return 0, false, errAt(data, i+1, "in string escape code")
			}
		case c < 0x20:
			return 0, false, errAt(data, i, "in string literal")
		default: // non-ASCII: valid UTF-8 is kept as it is, the rest replaced
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				esc = true
			}
			i += n
		}
	}
}

// unquote appends the string s (the bytes between the quotes, checked by
// scanString) with its escapes undone, as encoding/json does: a \u escape of
// a lone or mismatched surrogate and each byte of invalid UTF-8 become
// U+FFFD.
func unquote(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						dst = utf8.AppendRune(dst, dec)
						r += 6
						continue
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, n := utf8.DecodeRune(s[r:])
			if rr == utf8.RuneError && n == 1 {
				dst = utf8.AppendRune(dst, unicode.ReplacementChar)
			} else {
				dst = append(dst, s[r:r+n]...)
			}
			r += n
		}
	}
	return dst
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// parseInt reads the JSON number at data[i] as an int64. A number with a
// fraction or an exponent, or out of range, is an error, as encoding/json
// makes it for an integer field.
func parseInt(data []byte, i int) (int64, int, error) {
	start := i
	neg := false
	if data[i] == '-' {
		neg = true
		if i++; i >= len(data) {
			return 0, 0, errEOF
		}
	}
	if data[i] < '0' || data[i] > '9' {
		return 0, 0, errAt(data, i, "in numeric literal")
	}
	// Accumulate as a negative number, whose range includes MinInt64.
	var n int64
	const cutoff = -(1 << 63) / 10
	if data[i] == '0' {
		i++
	} else {
		for ; i < len(data) && '0' <= data[i] && data[i] <= '9'; i++ {
			dgt := int64(data[i] - '0')
			if n < cutoff || n*10 < -(1<<63)+dgt {
				return 0, 0, rangeError(data, start)
			}
			n = n*10 - dgt
		}
	}
	if i < len(data) && (data[i] == '.' || data[i] == 'e' || data[i] == 'E') {
		if _, err := skipNumber(data, start); err != nil {
			return 0, 0, err
		}
		return 0, 0, &typeError{want: "an integer", off: start}
	}
	if !neg {
		if n == -(1 << 63) {
			return 0, 0, rangeError(data, start)
		}
		n = -n
	}
	return n, i, nil
}

func rangeError(data []byte, start int) error {
	if _, err := skipNumber(data, start); err != nil {
		return err
	}
	return &typeError{want: "a 64-bit integer", off: start}
}

// skipNumber checks the JSON number at data[i] and returns the offset after
// it.
func skipNumber(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
	}
	digits := func() (int, error) {
		if i >= len(data) {
			return 0, errEOF
		}
		if data[i] < '0' || data[i] > '9' {
			return 0, errAt(data, i, "in numeric literal")
		}
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		return i, nil
	}
	if i < len(data) && data[i] == '0' {
		i++
	} else if _, err := digits(); err != nil {
		return 0, err
	}
	if i < len(data) && data[i] == '.' {
		i++
		if _, err := digits(); err != nil {
			return 0, err
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if _, err := digits(); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// skipValue checks the JSON value at data[i], nested at depth (that of the
// object or array holding it), and returns the offset after it.
func skipValue(data []byte, i, depth int) (int, error) {
	if i >= len(data) {
		return 0, errEOF
	}
	switch c := data[i]; c {
	case '"':
		end, _, err := scanString(data, i)
		return end, err
	case 't':
		return literal(data, i, "true")
	case 'f':
		return literal(data, i, "false")
	case 'n':
		return literal(data, i, "null")
	case '{', '[':
		if depth+1 > maxDepth {
			return 0, &syntaxError{msg: "exceeded max depth", off: i}
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipWS(data, i+1)
		if i < len(data) && data[i] == closing {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i >= len(data) || data[i] != '"' {
					return 0, errAt(data, i, "looking for beginning of object key string")
				}
				if i, _, err = scanString(data, i); err != nil {
					return 0, err
				}
				if i = skipWS(data, i); i >= len(data) || data[i] != ':' {
					return 0, errAt(data, i, "after object key")
				}
				i = skipWS(data, i+1)
			}
			if i, err = skipValue(data, i, depth+1); err != nil {
				return 0, err
			}
			if i = skipWS(data, i); i >= len(data) {
				return 0, errEOF
			}
			switch data[i] {
			case ',':
				i = skipWS(data, i+1)
			case closing:
				return i + 1, nil
			default:
				return 0, errAt(data, i, "after value in object or array")
			}
		}
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return skipNumber(data, i)
		}
		return 0, errAt(data, i, "looking for beginning of value")
	}
}

// hexDigit marks the bytes isHex accepts.
var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

func isHex(c byte) bool {
	return hexDigit[c]
}
