// Package eventjson is the wire codec of install events (contract v1,
// package event), without reflection on the hot path: the decoder derives
// its table of fields from event.Fields once, at init.
//
// AppendJSON and the Encoder write the JSON object of an event byte for byte
// as encoding/json would, except that received_at always has exactly three
// fractional digits; they allocate nothing beyond growing dst. The Encoder
// is faster on consecutive events of one message, as ingest writes them.
// Decode, DecodeInto and the Decoder accept exactly what encoding/json
// accepts into an Event, with the same result, then apply the contract's
// checks (every error wraps ErrInvalid and is permanent); a Decoder costs one
// allocation per event, two with a product, once its intern table knows a
// fleet's repeated values (a command event's install document costs more).
//
// The keys and their order are those of event.Fields; the tests fail when
// the encoder or the decoder leaves one out.
package eventjson

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cspwatch/cspwatch/internal/event"
)

// AppendJSON appends the contract-v1 JSON object of e to dst. The output
// decodes with encoding/json to e (received_at at millisecond precision) and
// escapes strings as encoding/json does; unlike it, AppendJSON always writes
// received_at with exactly three fractional digits, as the contract says, and
// allocates nothing beyond growing dst.
func AppendJSON(dst []byte, e *event.Event) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = appendString(dst, e.EventID)
	dst = appendShared(dst, e)
	dst = appendRest(dst, e)
	if e.Product != nil {
		dst = appendProduct(dst, e.Product)
	}
	return appendObjects(dst, e)
}

// appendObjects appends the objects after product, those of command events,
// and closes the event object.
func appendObjects(dst []byte, e *event.Event) []byte {
	if e.MSIJob != nil {
		dst = appendMSIJob(dst, e.MSIJob)
	}
	if e.OfficeConfig != nil {
		dst = appendOfficeConfig(dst, e.OfficeConfig)
	}
	return append(dst, '}')
}

// Encoder appends the JSON of events exactly as AppendJSON does, faster
// when consecutive events come from one message: it keeps the JSON of the
// fields the events of a message share (schema_version, received_at, tenant,
// device_id, session_id, msg_id) and of the last product, and reuses each
// while its fields stay equal. Equality is checked by value for every event,
// a compare of those strings instead of escaping them, so the Encoder is
// right for any sequence of events, also the transient ones of
// normalize.Builder.BuildTransient whose bytes change in place. It copies
// what it keeps and holds no reference to the events. The zero Encoder is
// ready for use; an Encoder is not safe for concurrent use.
type Encoder struct {
	ok      bool
	version int
	at      time.Time
	// key holds tenant, device, session and msg id back to back; ends are
	// where each ends in key.
	key    []byte
	ends   [4]int
	shared []byte // appendShared's output for the key
	// prodKey, prodEnds and product are the same for the last product.
	prodOK   bool
	prodKey  []byte
	prodEnds [6]int
	product  []byte
}

// AppendJSON appends the contract-v1 JSON object of e to dst, byte for byte
// what AppendJSON(dst, e) appends, and allocates nothing beyond growing dst
// once the Encoder's buffers fit the shared fields and product.
func (c *Encoder) AppendJSON(dst []byte, e *event.Event) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = appendString(dst, e.EventID)
	if !c.same(e) {
		c.key = append(append(append(append(c.key[:0], e.Tenant...), e.DeviceID...), e.SessionID...), e.MsgID...)
		c.ends = [4]int{len(e.Tenant), len(e.Tenant) + len(e.DeviceID), len(e.Tenant) + len(e.DeviceID) + len(e.SessionID), len(c.key)}
		c.version, c.at, c.ok = e.SchemaVersion, e.ReceivedAt, true
		c.shared = appendShared(c.shared[:0], e)
	}
	dst = append(dst, c.shared...)
	dst = appendRest(dst, e)
	if p := e.Product; p != nil {
		// The events of one target share its product: its JSON is kept
		// like the shared fields.
		if !c.sameProduct(p) {
			c.prodKey = append(append(append(append(append(append(c.prodKey[:0],
				p.Name...), p.Version...), p.Publisher...), p.InstallDate...), p.InstallPath...), p.LastErrorDesc...)
			c.prodEnds[0] = len(p.Name)
			c.prodEnds[1] = c.prodEnds[0] + len(p.Version)
			c.prodEnds[2] = c.prodEnds[1] + len(p.Publisher)
			c.prodEnds[3] = c.prodEnds[2] + len(p.InstallDate)
			c.prodEnds[4] = c.prodEnds[3] + len(p.InstallPath)
			c.prodEnds[5] = c.prodEnds[4] + len(p.LastErrorDesc)
			c.prodOK = true
			c.product = appendProduct(c.product[:0], p)
		}
		dst = append(dst, c.product...)
	}
	return appendObjects(dst, e)
}

// sameProduct reports whether p's fields are those of c.product.
func (c *Encoder) sameProduct(p *event.Product) bool {
	k, n := c.prodKey, c.prodEnds
	return c.prodOK && string(k[:n[0]]) == p.Name && string(k[n[0]:n[1]]) == p.Version &&
		string(k[n[1]:n[2]]) == p.Publisher && string(k[n[2]:n[3]]) == p.InstallDate &&
		string(k[n[3]:n[4]]) == p.InstallPath && string(k[n[4]:n[5]]) == p.LastErrorDesc
}

// same reports whether e's shared fields are those of c.shared.
func (c *Encoder) same(e *event.Event) bool {
	k, n := c.key, c.ends
	// received_at is written from the instant alone, so Equal suffices.
	return c.ok && e.SchemaVersion == c.version && e.ReceivedAt.Equal(c.at) &&
		string(k[:n[0]]) == e.Tenant && string(k[n[0]:n[1]]) == e.DeviceID &&
		string(k[n[1]:n[2]]) == e.SessionID && string(k[n[2]:n[3]]) == e.MsgID
}

// appendShared appends the fields from schema_version to msg_id, those all
// the events of a message share.
func appendShared(dst []byte, e *event.Event) []byte {
	dst = append(dst, `,"schema_version":`...)
	dst = strconv.AppendInt(dst, int64(e.SchemaVersion), 10)
	dst = append(dst, `,"received_at":"`...)
	dst = appendTime(dst, e.ReceivedAt)
	dst = append(dst, `","tenant":`...)
	dst = appendString(dst, e.Tenant)
	dst = append(dst, `,"device_id":`...)
	dst = appendString(dst, e.DeviceID)
	dst = append(dst, `,"session_id":`...)
	dst = appendString(dst, e.SessionID)
	dst = append(dst, `,"msg_id":`...)
	return appendString(dst, e.MsgID)
}

// appendRest appends the fields after msg_id and closes the object.
func appendRest(dst []byte, e *event.Event) []byte {
	// The fields that hold package event's constants take their JSON whole.
	switch e.Kind {
	case event.KindAlert:
		dst = append(dst, `,"kind":"alert"`...)
	case event.KindResult:
		dst = append(dst, `,"kind":"result"`...)
	case event.KindStatus:
		dst = append(dst, `,"kind":"status"`...)
	default:
		dst = append(dst, `,"kind":`...)
		dst = appendString(dst, e.Kind)
	}
	dst = append(dst, `,"cmd_id":`...)
	dst = strconv.AppendInt(dst, e.CmdID, 10)
	dst = append(dst, `,"cmd_ref":`...)
	dst = strconv.AppendInt(dst, e.CmdRef, 10)
	switch e.Scope {
	case event.ScopeDevice:
		dst = append(dst, `,"scope":"device"`...)
	default:
		dst = append(dst, `,"scope":`...)
		dst = appendString(dst, e.Scope)
	}
	switch e.CSP {
	case event.CSPMSI:
		dst = append(dst, `,"csp":"EnterpriseDesktopAppManagement"`...)
	case event.CSPOffice:
		dst = append(dst, `,"csp":"Office"`...)
	default:
		dst = append(dst, `,"csp":`...)
		dst = appendString(dst, e.CSP)
	}
	dst = append(dst, `,"target_id":`...)
	dst = appendString(dst, e.TargetID)
	dst = append(dst, `,"node":`...)
	dst = appendString(dst, e.Node)
	dst = append(dst, `,"loc_uri":`...)
	dst = appendString(dst, e.LocURI)
	dst = append(dst, `,"code":`...)
	dst = strconv.AppendInt(dst, e.Code, 10)
	dst = appendOpt(dst, `,"code_hex":`, e.CodeHex)
	if e.Win32Code != 0 {
		dst = append(dst, `,"win32_code":`...)
		dst = strconv.AppendInt(dst, e.Win32Code, 10)
	}
	dst = appendOpt(dst, `,"code_space":`, e.CodeSpace)
	dst = appendOpt(dst, `,"code_name":`, e.CodeName)
	dst = append(dst, `,"outcome":`...)
	dst = appendString(dst, e.Outcome)
	dst = appendOpt(dst, `,"category":`, e.Category)
	dst = appendOpt(dst, `,"alert_type":`, e.AlertType)
	dst = appendOpt(dst, `,"mark":`, e.Mark)
	dst = appendOpt(dst, `,"text":`, e.Text)
	dst = appendOpt(dst, `,"original_error":`, e.OriginalError)
	dst = appendOpt(dst, `,"mdm_received_at":`, e.MDMReceivedAt)
	dst = appendOpt(dst, `,"mdm_generic_alert":`, e.GenericAlert)
	dst = appendOpt(dst, `,"cmd_id_raw":`, e.CmdIDRaw)
	dst = appendOpt(dst, `,"msg_ref":`, e.MsgRef)
	dst = appendOpt(dst, `,"cmd_ref_raw":`, e.CmdRefRaw)
	dst = appendOpt(dst, `,"command":`, e.Command)
	dst = appendOpt(dst, `,"payload_error":`, e.PayloadError)
	return dst
}

// appendProduct appends the product field of an event with product p.
func appendProduct(dst []byte, p *event.Product) []byte {
	dst = append(dst, `,"product":{`...)
	n := len(dst)
	dst = appendOpt(dst, `,"name":`, p.Name)
	dst = appendOpt(dst, `,"version":`, p.Version)
	dst = appendOpt(dst, `,"publisher":`, p.Publisher)
	dst = appendOpt(dst, `,"install_date":`, p.InstallDate)
	dst = appendOpt(dst, `,"install_path":`, p.InstallPath)
	dst = appendOpt(dst, `,"last_error_desc":`, p.LastErrorDesc)
	return closeObject(dst, n)
}

// closeObject closes the object whose fields start at dst[n:], each written
// with a leading comma: it drops the first field's.
func closeObject(dst []byte, n int) []byte {
	if len(dst) > n {
		copy(dst[n:], dst[n+1:])
		dst = dst[:len(dst)-1]
	}
	return append(dst, '}')
}

// appendMSIJob appends the msi_job field of an event with job j.
func appendMSIJob(dst []byte, j *event.MSIJob) []byte {
	dst = append(dst, `,"msi_job":{`...)
	n := len(dst)
	dst = appendOpt(dst, `,"id":`, j.ID)
	dst = appendOpt(dst, `,"product_version":`, j.ProductVersion)
	dst = appendOptStrings(dst, `,"content_urls":`, j.ContentURLs)
	dst = appendOpt(dst, `,"file_name":`, j.FileName)
	dst = appendOpt(dst, `,"file_hash":`, j.FileHash)
	dst = appendOpt(dst, `,"command_line":`, j.CommandLine)
	dst = appendOptInt(dst, `,"timeout_min":`, j.TimeoutMin)
	dst = appendOptInt(dst, `,"retry_count":`, j.RetryCount)
	dst = appendOptInt(dst, `,"retry_interval_min":`, j.RetryIntervalMin)
	return closeObject(dst, n)
}

// appendOfficeConfig appends the office_config field of an event with
// configuration c.
func appendOfficeConfig(dst []byte, c *event.OfficeConfig) []byte {
	dst = append(dst, `,"office_config":{`...)
	n := len(dst)
	dst = appendOptStrings(dst, `,"product_ids":`, c.ProductIDs)
	dst = appendOpt(dst, `,"channel":`, c.Channel)
	dst = appendOpt(dst, `,"version":`, c.Version)
	dst = appendOpt(dst, `,"edition":`, c.Edition)
	dst = appendOptStrings(dst, `,"languages":`, c.Languages)
	if c.Remove {
		dst = append(dst, `,"remove":true`...)
	}
	return closeObject(dst, n)
}

// appendTime appends t in UTC by TimeLayout, as AppendFormat does, without
// parsing the layout for every event.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		// AppendFormat's signs and widths for years outside four digits.
		return t.AppendFormat(dst, event.TimeLayout)
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6 // truncated, as AppendFormat does
	return append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

func appendOptInt(dst []byte, key string, v int64) []byte {
	if v == 0 {
		return dst
	}
	dst = append(dst, key...)
	return strconv.AppendInt(dst, v, 10)
}

// appendOptStrings appends key and the array of ss, unless ss is empty.
func appendOptStrings(dst []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return dst
	}
	dst = append(dst, key...)
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

func appendOpt(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendString(dst, s)
}

const hexDigits = "0123456789abcdef"

// load64 reads the eight bytes of s at i, little-endian.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// needsEscape reports whether one of the eight bytes of x is not safe: a
// control byte, '"', '\\', '<', '>', '&', or a byte of a multi-byte rune.
// It checks the eight at once, by subtractions whose borrows set a byte's
// high bit. Below the lowest unsafe byte nothing borrows, since every safe
// byte is at least 0x20 and differs from the specials; at that byte, x-0x20
// wraps if it is a control byte, v-1 wraps where v's byte is zero, and a byte
// from 0x80 up keeps its high bit in lt, qa and bs, one of lt-1 and qa-1 at
// least. With every byte safe, no result byte reaches 0x80. '<' and '>'
// differ in one bit only, as do '"' and '&': setting that bit makes one test
// of each pair.
func needsEscape(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lt := (x | ones*2) ^ ones*'>' // zero where x is '<' or '>'
	qa := (x | ones*4) ^ ones*'&' // zero where x is '"' or '&'
	bs := x ^ ones*'\\'
	return ((x-ones*0x20)|(lt-ones)|(qa-ones)|(bs-ones))&highs != 0
}

// safe marks the ASCII bytes a JSON string holds unescaped, with the same
// HTML-safe choices as encoding/json (<, > and & escaped).
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaping as encoding/json does,
// invalid UTF-8 becoming U+FFFD.
func appendString(dst []byte, s string) []byte {
	// Most values need no escaping and dst, reused, has room: check and
	// copy in one go.
	n := len(dst)
	if cap(dst)-n >= len(s)+2 && plain(s) {
		dst = dst[:n+len(s)+2]
		dst[n] = '"'
		copy(dst[n+1:], s)
		dst[n+1+len(s)] = '"'
		return dst
	}
	return appendEscaped(dst, s)
}

// plain reports whether s holds only bytes a JSON string holds unescaped.
func plain(s string) bool {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= utf8.RuneSelf || !safe[c] {
				return false
			}
		}
		return true
	}
	i := 0
	for ; i+16 <= len(s); i += 16 {
		if needsEscape(load64(s, i)) || needsEscape(load64(s, i+8)) {
			return false
		}
	}
	if i+8 <= len(s) {
		if needsEscape(load64(s, i)) {
			return false
		}
		i += 8
	}
	// The last eight bytes overlap the last block checked.
	return i == len(s) || !needsEscape(load64(s, len(s)-8))
}

// appendEscaped is appendString for s that needs escaping or dst that must
// grow.
func appendEscaped(dst []byte, s string) []byte {
	dst = append(dst, '"')
	// Most values need no escaping: skip them eight bytes at a time.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if needsEscape(load64(s, i)) {
			break
		}
	}
	if i < len(s) && len(s)-i < 8 && len(s) >= 8 && !needsEscape(load64(s, len(s)-8)) {
		// No block needed escaping, nor do the last eight bytes, which overlap
		// the last block checked.
		i = len(s)
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
