package syncml

import (
	"bytes"
	"encoding/binary"
)

// lexer reads the XML of one message: names, attributes, end tags, comments,
// CDATA sections, processing instructions, and text with its references
// decoded (text.go), over UTF-8 input (encoding.go). It knows nothing of
// SyncML: the Scanner drives it from element to element and decides, from
// the grammar, what each element means and which text is kept.
//
// Offsets are into data; a method that reads markup at data[p] returns the
// offset just after it.
type lexer struct {
	data []byte
	// scratch holds decoded text (entity references, CDATA joined to text,
	// normalised line ends). It is sized to the input before the first write,
	// and decoded text is never longer than the markup it comes from, so
	// appends never move it and earlier values stay valid.
	scratch []byte
	// wide holds the UTF-8 transcoding of a UTF-16 input.
	wide []byte

	// nextAmp and nextCR cache the position of the next '&' and '\r' at or
	// after the scan position (len(data) when none), so that a text segment is
	// known to be plain with two comparisons instead of a pass over its bytes.
	nextAmp, nextCR int

	maxName int // longest element name: min(maxName, Limits.MaxAttrLen)
	maxAttr int // Limits.MaxAttrLen

	// The one value being collected (value elements never nest: the children
	// of a value element are skipped).
	vmode  uint8
	vraw   bool
	vstart int // offset of the value element's content
	va, vb int // alias bounds in data (vmode==vAlias) or scratch start (vScratch)
	pa, pb int // a pending whitespace-only segment after aliased text
	pcdata bool

	attrVal  []byte // the attribute captured by the last start tag
	attrSeen bool
}

// reset prepares l for a new message; data is set by the caller.
func (l *lexer) reset() {
	l.scratch = l.scratch[:0]
	l.nextAmp, l.nextCR = -1, -1
	l.vmode, l.vraw = vNone, false
	l.attrSeen, l.attrVal = false, nil
}

// nameTab classifies bytes of element and attribute names: 0 ends a name,
// 1 is a name byte, 2 is the namespace colon. Bytes >= 0x80 are accepted as
// name bytes (the input is valid UTF-8); the finer Unicode classes of the XML
// name production are not checked.
var nameTab = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	t['-'], t['.'], t['_'] = 1, 1, 1
	t[':'] = 2
	for c := 0x80; c < 0x100; c++ {
		t[c] = 1
	}
	return t
}()

func nameStart(c byte) bool {
	return c == '_' || c >= 0x80 || (c|0x20) >= 'a' && (c|0x20) <= 'z'
}

// sameName compares two names; element names are short, and two
// overlapping 4-byte loads (inlined) beat a call to memequal.
func sameName(a, b []byte) bool {
	if n := len(a); n >= 4 && n <= 8 && n == len(b) {
		return binary.LittleEndian.Uint32(a) == binary.LittleEndian.Uint32(b) &&
			binary.LittleEndian.Uint32(a[n-4:]) == binary.LittleEndian.Uint32(b[n-4:])
	}
	return string(a) == string(b)
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// metinf is the namespace declaration Windows clients put on every Meta
// child; the Scanner skips it whole before the general attribute loop.
const metinf = ` xmlns="syncml:metinf"`

// name reads the element name of the start tag at data[p] == '<'. It
// returns the offset after the name and the offset of its namespace colon
// (-1 without a prefix).
func (l *lexer) name(p int) (q, colon int, err error) {
	data := l.data
	n := len(data)
	q = p + 1
	if !nameStart(data[q]) {
		return 0, 0, errAt(ReasonMalformed, p, "bad element name")
	}
	colon = -1
	q++
	for {
		for q < n && nameTab[data[q]] == 1 {
			q++
		}
		if q >= n || data[q] != ':' {
			break
		}
		if colon >= 0 {
			return 0, 0, errAt(ReasonMalformed, p, "element name with two colons")
		}
		colon = q
		q++
	}
	if q >= n {
		return 0, 0, errAt(ReasonTruncated, p, "input ends in a start tag")
	}
	if q-p-1 > l.maxName {
		return 0, 0, errAt(ReasonTooLarge, p, "element name longer than the limit")
	}
	if colon == q-1 {
		return 0, 0, errAt(ReasonMalformed, p, "empty local name")
	}
	return q, colon, nil
}

// tagEnd reads the end of a start tag at data[q], '>' or "/>", and reports
// whether the element closes itself. A truncation is reported at offset at.
func (l *lexer) tagEnd(q, at int) (int, bool, error) {
	if l.data[q] == '>' {
		return q + 1, false, nil
	}
	if q+1 >= len(l.data) {
		return 0, false, errAt(ReasonTruncated, at, "input ends in a start tag")
	}
	if l.data[q+1] != '>' {
		return 0, false, errAt(ReasonMalformed, q, "expected '>' after '/'")
	}
	return q + 2, true, nil
}

// attrs reads the attributes of a start tag from data[q] (a space) to its
// end, and reports whether the element closes itself. It checks every
// attribute and keeps, in attrVal, the decoded and trimmed value of the
// first one that want names (see captures): xmlns on an unprefixed root,
// xmlns:prefix on a root named prefix:name (name and colon are the offsets
// of the element's name and colon), *:originalerror or originalerror on a
// Data element.
func (l *lexer) attrs(q int, want uint8, name, colon int) (int, bool, error) {
	data := l.data
	n := len(data)
	for {
		sp := q
		for q < n && isSpace(data[q]) {
			q++
		}
		if q >= n {
			return 0, false, errAt(ReasonTruncated, q, "input ends in a start tag")
		}
		switch data[q] {
		case '>':
			return q + 1, false, nil
		case '/':
			return l.tagEnd(q, q)
		}
		if sp == q {
			return 0, false, errAt(ReasonMalformed, q, "attributes must be separated by whitespace")
		}
		// Attribute name.
		a := q
		if !nameStart(data[q]) {
			return 0, false, errAt(ReasonMalformed, q, "bad attribute name")
		}
		acolon := -1
		q++
		for q < n {
			t := nameTab[data[q]]
			if t == 0 {
				break
			}
			if t == 2 {
				if acolon >= 0 {
					return 0, false, errAt(ReasonMalformed, a, "attribute name with two colons")
				}
				acolon = q
			}
			q++
		}
		aEnd := q
		if acolon == aEnd-1 {
			return 0, false, errAt(ReasonMalformed, a, "empty local name")
		}
		if aEnd-a > l.maxAttr {
			return 0, false, errAt(ReasonTooLarge, a, "attribute name longer than the limit")
		}
		for q < n && isSpace(data[q]) {
			q++
		}
		if q >= n {
			return 0, false, errAt(ReasonTruncated, q, "input ends in a start tag")
		}
		if data[q] != '=' {
			return 0, false, errAt(ReasonMalformed, q, "expected '=' after attribute name")
		}
		q++
		for q < n && isSpace(data[q]) {
			q++
		}
		if q >= n {
			return 0, false, errAt(ReasonTruncated, q, "input ends in a start tag")
		}
		quote := data[q]
		if quote != '"' && quote != '\'' {
			return 0, false, errAt(ReasonMalformed, q, "attribute value not quoted")
		}
		q++
		lim := n
		if q+l.maxAttr+1 < lim {
			lim = q + l.maxAttr + 1
		}
		// One pass finds the closing quote and rejects '<'; attribute values
		// are short, so a byte loop beats two IndexByte calls.
		va := q
		for q < lim && data[q] != quote {
			if data[q] == '<' {
				return 0, false, errAt(ReasonMalformed, q, "'<' in an attribute value")
			}
			q++
		}
		if q >= lim {
			if lim < n {
				return 0, false, errAt(ReasonTooLarge, va, "attribute value longer than the limit")
			}
			return 0, false, errAt(ReasonTruncated, va, "unterminated attribute value")
		}
		vb := q
		q++
		keep := false
		switch {
		case l.attrSeen:
			// The first matching attribute wins.
		case want == capXmlns:
			if colon < 0 {
				keep = acolon < 0 && string(data[a:aEnd]) == "xmlns"
			} else {
				keep = acolon == a+5 && string(data[a:acolon]) == "xmlns" &&
					bytes.Equal(data[acolon+1:aEnd], data[name:colon])
			}
		case want == capOriginalError:
			local := data[a:aEnd]
			keep = true
			if acolon >= 0 {
				local = data[acolon+1 : aEnd]
				keep = string(data[a:acolon]) != "xmlns"
			}
			keep = keep && string(local) == "originalerror"
		}
		if keep {
			v, err := l.attrValue(va, vb)
			if err != nil {
				return 0, false, err
			}
			l.attrVal, l.attrSeen = v, true
		} else if l.hasAmp(va, vb) {
			if err := l.checkRefs(va, vb); err != nil {
				return 0, false, err
			}
		}
		if q >= n {
			return 0, false, errAt(ReasonTruncated, q, "input ends in a start tag")
		}
	}
}

// endName reads the end tag at data[p] ("</"), which must close the open
// element called name, and returns the offset after its '>'.
func (l *lexer) endName(p int, name []byte) (int, error) {
	data := l.data
	n := len(data)
	q := p + 2
	rest := data[q:]
	if len(rest) <= len(name) {
		if bytes.HasPrefix(name, rest) {
			return 0, errAt(ReasonTruncated, p, "input ends in an end tag")
		}
		return 0, errAt(ReasonMalformed, p, "mismatched end tag")
	}
	if !bytes.Equal(rest[:len(name)], name) {
		return 0, errAt(ReasonMalformed, p, "mismatched end tag")
	}
	q += len(name)
	if c := data[q]; c != '>' {
		if !isSpace(c) {
			return 0, errAt(ReasonMalformed, p, "mismatched end tag")
		}
		for q < n && isSpace(data[q]) {
			q++
		}
		if q >= n {
			return 0, errAt(ReasonTruncated, p, "input ends in an end tag")
		}
		if data[q] != '>' {
			return 0, errAt(ReasonMalformed, q, "expected '>' in end tag")
		}
	}
	return q + 1, nil
}

// bang reads the markup at data[p] == '<', data[p+1] == '!': a comment, a
// CDATA section or (rejected) DTD markup. inRoot says whether an element is
// open (CDATA is rejected outside the root); collect, whether a CDATA
// section's content belongs to the value being collected.
func (l *lexer) bang(p int, inRoot, collect bool) (int, error) {
	data := l.data
	rest := data[p+2:]
	switch {
	case len(rest) >= 2 && rest[0] == '-' && rest[1] == '-':
		k := bytes.Index(data[p+4:], []byte("--"))
		if k < 0 {
			return 0, errAt(ReasonTruncated, p, "unterminated comment")
		}
		e := p + 4 + k + 2
		if e >= len(data) {
			return 0, errAt(ReasonTruncated, p, "unterminated comment")
		}
		if data[e] != '>' {
			return 0, errAt(ReasonMalformed, e-2, `"--" inside a comment`)
		}
		return e + 1, nil
	case bytes.HasPrefix(rest, []byte("[CDATA[")):
		if !inRoot {
			return 0, errAt(ReasonMalformed, p, "CDATA outside the root element")
		}
		a := p + 9
		k := bytes.Index(data[a:], []byte("]]>"))
		if k < 0 {
			return 0, errAt(ReasonTruncated, p, "unterminated CDATA section")
		}
		if collect && k > 0 {
			if err := l.segment(a, a+k, true); err != nil {
				return 0, err
			}
		}
		return a + k + 3, nil
	case len(rest) > 0 && (rest[0]|0x20) >= 'a' && (rest[0]|0x20) <= 'z':
		return 0, errAt(ReasonDoctype, p, "DTD markup (DOCTYPE, ENTITY) is not accepted")
	case len(rest) < 7 && (bytes.HasPrefix([]byte("[CDATA["), rest) || bytes.HasPrefix([]byte("--"), rest)):
		return 0, errAt(ReasonTruncated, p, "input ends in markup")
	}
	return 0, errAt(ReasonMalformed, p, "bad markup after '<!'")
}

// procInst skips a processing instruction or the XML declaration at
// data[p] == '<', data[p+1] == '?'.
func (l *lexer) procInst(p int) (int, error) {
	data := l.data
	if p+2 >= len(data) {
		return 0, errAt(ReasonTruncated, p, "input ends in markup")
	}
	if !nameStart(data[p+2]) {
		return 0, errAt(ReasonMalformed, p, "bad processing instruction target")
	}
	k := bytes.Index(data[p+2:], []byte("?>"))
	if k < 0 {
		return 0, errAt(ReasonTruncated, p, "unterminated processing instruction")
	}
	return p + 2 + k + 2, nil
}
