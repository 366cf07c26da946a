package eventjson

// The JSON lexer of the decoder: whitespace, literals, strings and numbers,
// checked as encoding/json checks them, and the values the decoder skips.
// Every function takes the input and an offset into it and returns the
// offset after what it read; none allocates, except unquote growing dst.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

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

// isHex reports whether c is a hexadecimal digit, in either case.
func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}
