package event

import (
	"bytes"
	"encoding/binary"
)

// AppendTargetID appends the canonical form of a target id to dst: raw as a
// LocURI's target segment or a product file spells it, percent-decoded,
// braces removed, upper case when it is a GUID, so that {6f7cb29f-...} and
// %7B6F7CB29F-...%7D name one target. Ingest reads the target_id of events
// with it and the product catalog its ids, so the two always agree. It
// allocates nothing beyond growing dst, and reads a braced or bare GUID
// eight bytes at a time.
func AppendTargetID(dst, raw []byte) []byte {
	// Devices send GUIDs braced, percent-encoded braced or bare; none of
	// these needs decoding once the wrapping is off, as a GUID holds no '%'.
	g := raw
	switch {
	case len(raw) == 38 && raw[0] == '{' && raw[37] == '}':
		g = raw[1:37]
	case len(raw) == 42 && raw[0] == '%' && raw[1] == '7' && raw[2]|0x20 == 'b' &&
		raw[39] == '%' && raw[40] == '7' && raw[41]|0x20 == 'd':
		g = raw[3:39]
	}
	if isGUID(g) {
		start := len(dst)
		dst = append(dst, g...)
		upperGUID(dst[start:])
		return dst
	}
	return appendTargetIDSlow(dst, raw)
}

// TargetID is AppendTargetID for a string, for callers off the hot path
// (the product catalog).
func TargetID(id string) string {
	return string(AppendTargetID(nil, []byte(id)))
}

// appendTargetIDSlow is AppendTargetID for any raw: the definition, which
// AppendTargetID's fast path for GUIDs must agree with (TestTargetIDFastPath).
func appendTargetIDSlow(dst, raw []byte) []byte {
	start := len(dst)
	if bytes.IndexByte(raw, '%') < 0 {
		dst = append(dst, raw...)
	} else {
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]) {
				c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
				i += 2
			}
			dst = append(dst, c)
		}
	}
	id := dst[start:]
	if len(id) >= 2 && id[0] == '{' && id[len(id)-1] == '}' {
		copy(id, id[1:len(id)-1])
		dst = dst[:len(dst)-2]
		id = dst[start:]
	}
	if isGUID(id) {
		upperGUID(id)
	}
	return dst
}

// upperGUID turns the letters of a GUID (isGUID) to upper case. Of its
// bytes, only the lower-case letters have both 0x40 and 0x20 set; clearing
// 0x20 where 0x40 is set does it eight bytes at a time.
func upperGUID(id []byte) {
	const m = 0x4040404040404040
	for _, i := range [...]int{0, 8, 16, 24, 28} {
		x := binary.LittleEndian.Uint64(id[i:])
		binary.LittleEndian.PutUint64(id[i:], x&^(x&m>>1))
	}
}

// isGUID reports whether b has the 8-4-4-4-12 hex form.
func isGUID(b []byte) bool {
	if len(b) != 36 {
		return false
	}
	b = b[:36]
	if b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return false
	}
	// Eight bytes at a time, the dashes let through by position.
	const highs = 0x8080808080808080
	return hexBytes(binary.LittleEndian.Uint64(b[0:])) == highs &&
		hexBytes(binary.LittleEndian.Uint64(b[8:]))|0x80<<(5*8)|0x80 == highs &&
		hexBytes(binary.LittleEndian.Uint64(b[16:]))|0x80<<(7*8)|0x80<<(2*8) == highs &&
		hexBytes(binary.LittleEndian.Uint64(b[24:])) == highs &&
		hexBytes(binary.LittleEndian.Uint64(b[28:])) == highs
}

// hexBytes marks with 0x80 each byte of x that is a hex digit. Below 0x80,
// v+(0x80-lo) reaches the high bit exactly when v >= lo, and v+(0x7f-hi)
// when v > hi, without carrying into the next byte; setting 0x20 folds
// 'A'-'F', and only them, onto 'a'-'f'. Bytes from 0x80 up are masked off
// first and marked as not hex last.
func hexBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	v := x &^ highs
	y := v | ones*0x20
	digit := (v + ones*(0x80-'0')) &^ (v + ones*(0x7f-'9'))
	letter := (y + ones*(0x80-'a')) &^ (y + ones*(0x7f-'f'))
	return (digit | letter) &^ x & highs
}

// isHex reports whether c is a hexadecimal digit, in either case.
func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
