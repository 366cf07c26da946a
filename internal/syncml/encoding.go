package syncml

import "unicode/utf8"

// decodeBOM strips a UTF-8 BOM, transcodes UTF-16 (with a BOM, or detected
// from a leading '<' paired with a zero byte, XML 1.0 Appendix F) into
// l.wide, and checks that the result is valid UTF-8.
func (l *lexer) decodeBOM(data []byte) ([]byte, error) {
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		data = data[3:]
	} else if len(data) >= 2 {
		switch {
		case data[0] == 0xFF && data[1] == 0xFE:
			return l.utf16(data[2:], false)
		case data[0] == 0xFE && data[1] == 0xFF:
			return l.utf16(data[2:], true)
		case data[0] == '<' && data[1] == 0:
			return l.utf16(data, false)
		case data[0] == 0 && data[1] == '<':
			return l.utf16(data, true)
		}
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return nil, errAt(ReasonInvalidUTF8, off, "invalid UTF-8")
	}
	return data, nil
}

// utf16 transcodes the UTF-16 body b (big or little endian) into l.wide,
// which it grows to 1.5 times len(b) at most.
func (l *lexer) utf16(b []byte, big bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, errAt(ReasonEncoding, len(b), "odd length UTF-16 body")
	}
	need := len(b) / 2 * 3
	if cap(l.wide) < need {
		l.wide = make([]byte, 0, need)
	}
	out := l.wide[:0]
	for i := 0; i < len(b); i += 2 {
		var u rune
		if big {
			u = rune(b[i])<<8 | rune(b[i+1])
		} else {
			u = rune(b[i+1])<<8 | rune(b[i])
		}
		if u < 0x80 {
			out = append(out, byte(u))
			continue
		}
		if u >= 0xD800 && u < 0xE000 {
			if u >= 0xDC00 || i+3 >= len(b) {
				return nil, errAt(ReasonEncoding, len(out), "unpaired UTF-16 surrogate")
			}
			var lo rune
			if big {
				lo = rune(b[i+2])<<8 | rune(b[i+3])
			} else {
				lo = rune(b[i+3])<<8 | rune(b[i+2])
			}
			if lo < 0xDC00 || lo >= 0xE000 {
				return nil, errAt(ReasonEncoding, len(out), "unpaired UTF-16 surrogate")
			}
			u = 0x10000 + (u-0xD800)<<10 + (lo - 0xDC00)
			i += 2
		}
		out = utf8.AppendRune(out, u)
	}
	l.wide = out
	return out, nil
}
