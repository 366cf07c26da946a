package syncml

import (
	"bytes"
	"unicode/utf8"
)

// This file is the lexer's character data: references, line ends, and the
// assembly of one value from the text and CDATA pieces of its element.

// How the value being collected is held.
const (
	vNone    uint8 = iota // nothing yet
	vAlias                // data[va:vb]: one plain piece, aliased
	vScratch              // scratch[va:]: decoded or joined pieces
)

// plain reports whether data[a:b] holds neither '&' nor '\r', so that its
// text is itself and can alias the input.
func (l *lexer) plain(a, b int) bool {
	if l.nextAmp < a {
		l.nextAmp = nextByte(l.data, a, '&')
	}
	if l.nextCR < a {
		l.nextCR = nextByte(l.data, a, '\r')
	}
	return l.nextAmp >= b && l.nextCR >= b
}

func (l *lexer) hasAmp(a, b int) bool {
	if l.nextAmp < a {
		l.nextAmp = nextByte(l.data, a, '&')
	}
	return l.nextAmp < b
}

func (l *lexer) noCR(a, b int) bool {
	if l.nextCR < a {
		l.nextCR = nextByte(l.data, a, '\r')
	}
	return l.nextCR >= b
}

func nextByte(d []byte, a int, c byte) int {
	j := bytes.IndexByte(d[a:], c)
	if j < 0 {
		return len(d)
	}
	return a + j
}

// outside checks the text data[a:b] outside the root element, which may
// only be whitespace.
func (l *lexer) outside(a, b int) error {
	for i := a; i < b; i++ {
		if !isSpace(l.data[i]) {
			return errAt(ReasonMalformed, i, "text outside the root element")
		}
	}
	return nil
}

// beginValue starts collecting the value of an element whose content starts
// at q.
func (l *lexer) beginValue(q int) {
	l.vmode, l.vraw, l.pa, l.pb, l.vstart = vNone, false, 0, 0, q
}

// collect adds the text data[a:b] to the value being collected. The first
// text of a value, plain and not starting with whitespace, aliases the input
// after two compares.
func (l *lexer) collect(a, b int) error {
	if l.vmode == vNone && l.nextAmp >= b && l.nextCR >= b && !isSpace(l.data[a]) {
		l.vmode, l.va, l.vb = vAlias, a, b
		return nil
	}
	return l.segment(a, b, false)
}

// value finishes the value whose element's content ends at b: its text
// trimmed, or its raw inner markup trimmed when it held elements.
func (l *lexer) value(b int) []byte {
	var v []byte
	switch {
	case l.vraw:
		v = trim(l.data[l.vstart:b])
		l.vraw = false
	case l.vmode == vAlias:
		v = l.data[l.va:l.vb]
		for len(v) > 0 && isSpace(v[len(v)-1]) {
			v = v[:len(v)-1]
		}
	case l.vmode == vScratch:
		v = trim(l.scratch[l.va:])
	}
	l.vmode = vNone
	return v
}

// segment adds text (or CDATA content) data[a:b] to the value being
// collected. A single plain segment, the common case, aliases the input;
// whitespace-only segments before any content are dropped (they would be
// trimmed), one after content is held back in case more content follows.
func (l *lexer) segment(a, b int, cdata bool) error {
	data := l.data
	plain := cdata && l.noCR(a, b) || !cdata && l.plain(a, b)
	if plain && l.vmode != vScratch {
		ws := true
		for i := a; i < b; i++ {
			if !isSpace(data[i]) {
				ws = false
				break
			}
		}
		if ws {
			switch {
			case l.vmode == vNone:
				return nil
			case l.pa == l.pb:
				l.pa, l.pb, l.pcdata = a, b, cdata
				return nil
			}
		} else if l.vmode == vNone {
			for isSpace(data[a]) {
				a++
			}
			l.vmode, l.va, l.vb = vAlias, a, b
			return nil
		}
	}
	if l.vmode != vScratch {
		l.toScratch()
		if l.pa != l.pb {
			_ = l.appendText(l.pa, l.pb, l.pcdata) // whitespace only: cannot fail
			l.pa, l.pb = 0, 0
		}
	}
	return l.appendText(a, b, cdata)
}

// growScratch gives scratch room for the whole input, so that appends never
// move it (see lexer.scratch).
func (l *lexer) growScratch() {
	if cap(l.scratch) < len(l.data) {
		l.scratch = make([]byte, 0, len(l.data))
	}
}

// toScratch moves the value collected so far into scratch.
func (l *lexer) toScratch() {
	l.growScratch()
	start := len(l.scratch)
	if l.vmode == vAlias {
		l.scratch = append(l.scratch, l.data[l.va:l.vb]...)
	}
	l.vmode, l.va = vScratch, start
}

// appendText decodes data[a:b] onto scratch: references (unless cdata) and
// line ends ("\r\n" and "\r" become "\n").
func (l *lexer) appendText(a, b int, cdata bool) error {
	data := l.data
	out := l.scratch
	for i := a; i < b; {
		c := data[i]
		switch {
		case c == '\r':
			out = append(out, '\n')
			i++
			if i < b && data[i] == '\n' {
				i++
			}
		case c == '&' && !cdata:
			r, n, err := l.ref(i, b)
			if err != nil {
				return err
			}
			out = utf8.AppendRune(out, r)
			i += n
		default:
			// Copy the run up to the next special byte in one go.
			k := i + 1
			for k < b && data[k] != '\r' && (cdata || data[k] != '&') {
				k++
			}
			out = append(out, data[i:k]...)
			i = k
		}
	}
	l.scratch = out
	return nil
}

// attrValue decodes and trims an attribute value that is kept.
func (l *lexer) attrValue(a, b int) ([]byte, error) {
	if l.plain(a, b) {
		return trim(l.data[a:b]), nil
	}
	l.growScratch()
	start := len(l.scratch)
	if err := l.appendText(a, b, false); err != nil {
		return nil, err
	}
	return trim(l.scratch[start:]), nil
}

// checkRefs validates the references in text that is not extracted.
func (l *lexer) checkRefs(a, b int) error {
	for i := a; i < b; i++ {
		if l.data[i] == '&' {
			_, n, err := l.ref(i, b)
			if err != nil {
				return err
			}
			i += n - 1
		}
	}
	return nil
}

// ref decodes the reference at data[i] == '&' that must end before b: a
// character reference or one of the five predefined entities (XML 1.0
// §4.1, §4.6). It returns the rune and the reference's length.
func (l *lexer) ref(i, b int) (rune, int, error) {
	data := l.data
	end := i + 1
	for end < b && end-i < 16 && data[end] != ';' {
		end++
	}
	if end >= b || data[end] != ';' {
		return 0, 0, errAt(ReasonMalformed, i, "'&' not starting a reference")
	}
	name := data[i+1 : end]
	n := end + 1 - i
	if len(name) == 0 {
		return 0, 0, errAt(ReasonMalformed, i, "empty reference")
	}
	if name[0] == '#' {
		var r rune
		digits := name[1:]
		hex := len(digits) > 0 && digits[0] == 'x'
		if hex {
			digits = digits[1:]
		}
		if len(digits) == 0 || len(digits) > 8 {
			return 0, 0, errAt(ReasonMalformed, i, "bad character reference")
		}
		for _, c := range digits {
			var d byte
			switch {
			case c >= '0' && c <= '9':
				d = c - '0'
			case hex && (c|0x20) >= 'a' && (c|0x20) <= 'f':
				d = (c | 0x20) - 'a' + 10
			default:
				return 0, 0, errAt(ReasonMalformed, i, "bad character reference")
			}
			if hex {
				r = r<<4 | rune(d)
			} else {
				r = r*10 + rune(d)
			}
		}
		if !xmlChar(r) {
			return 0, 0, errAt(ReasonMalformed, i, "character reference to a non-XML character")
		}
		return r, n, nil
	}
	switch string(name) {
	case "lt":
		return '<', n, nil
	case "gt":
		return '>', n, nil
	case "amp":
		return '&', n, nil
	case "apos":
		return '\'', n, nil
	case "quot":
		return '"', n, nil
	}
	return 0, 0, errAt(ReasonUnknownEntity, i, "unknown entity &"+string(name)+";")
}

// xmlChar reports whether r is a Char of the XML 1.0 production.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func trim(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}
