package event

import (
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the contract-v1 JSON object of e to dst. The output
// decodes with encoding/json to e (received_at at millisecond precision) and
// escapes strings as encoding/json does; unlike it, AppendJSON always writes
// received_at with exactly three fractional digits, as the contract says, and
// allocates nothing beyond growing dst.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = appendString(dst, e.EventID)
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
	dst = appendString(dst, e.MsgID)
	dst = append(dst, `,"kind":`...)
	dst = appendString(dst, e.Kind)
	dst = append(dst, `,"cmd_id":`...)
	dst = strconv.AppendInt(dst, e.CmdID, 10)
	dst = append(dst, `,"cmd_ref":`...)
	dst = strconv.AppendInt(dst, e.CmdRef, 10)
	dst = append(dst, `,"scope":`...)
	dst = appendString(dst, e.Scope)
	dst = append(dst, `,"csp":`...)
	dst = appendString(dst, e.CSP)
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
	if p := e.Product; p != nil {
		dst = append(dst, `,"product":{`...)
		n := len(dst)
		dst = appendOpt(dst, `,"name":`, p.Name)
		dst = appendOpt(dst, `,"version":`, p.Version)
		dst = appendOpt(dst, `,"publisher":`, p.Publisher)
		dst = appendOpt(dst, `,"install_date":`, p.InstallDate)
		dst = appendOpt(dst, `,"install_path":`, p.InstallPath)
		dst = appendOpt(dst, `,"last_error_desc":`, p.LastErrorDesc)
		if len(dst) > n {
			// Drop the comma the first field wrote after the brace.
			copy(dst[n:], dst[n+1:])
			dst = dst[:len(dst)-1]
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendTime appends t in UTC by TimeLayout, as AppendFormat does, without
// parsing the layout for every event.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		// AppendFormat's signs and widths for years outside four digits.
		return t.AppendFormat(dst, TimeLayout)
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
// It checks the eight at once: a byte of v-ones borrows into its high bit,
// with ^v masking bytes that had it set, only where v's byte is zero, and of
// x-ones*0x20 only where x's byte is below 0x20. '<' and '>' differ in one bit
// only, as do '"' and '&', so one test covers each pair.
func needsEscape(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lt := (x ^ ones*'>') | ones*2 // zero where x is '<' or '>', setting the bit they differ in
	lt ^= ones * 2
	qa := (x ^ ones*'&') | ones*4 // zero where x is '"' or '&'
	qa ^= ones * 4
	bs := x ^ ones*'\\'
	m := x | (x-ones*0x20)&^x | (lt-ones)&^lt | (qa-ones)&^qa | (bs-ones)&^bs
	return m&highs != 0
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

// SubjectPrefix is the NATS subject prefix of install events.
const SubjectPrefix = "cspwatch.install."

// AppendSubject appends cspwatch.install.<tenant>.<csp>.<outcome> for e, with
// <csp> one of office, msi or none, and every token sanitised to NATS subject
// rules: a byte other than an ASCII letter, digit, '-' or '_' becomes '_', and
// an empty token becomes '_'.
func (e *Event) AppendSubject(dst []byte) []byte {
	dst = append(dst, SubjectPrefix...)
	dst = AppendToken(dst, e.Tenant)
	dst = append(dst, '.')
	switch e.CSP {
	case CSPOffice:
		dst = append(dst, "office"...)
	case CSPMSI:
		dst = append(dst, "msi"...)
	default:
		dst = append(dst, "none"...)
	}
	dst = append(dst, '.')
	return AppendToken(dst, e.Outcome)
}

// AppendToken appends s as one NATS subject token (see AppendSubject).
func AppendToken(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '_')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '_')
		}
	}
	return dst
}

// ErrInvalid marks an event that decodes but breaks the contract; such a
// message will never become valid, so consumers dead-letter it.
var ErrInvalid = errors.New("invalid event")

// Time layout of received_at, for consumers that format it themselves.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"
