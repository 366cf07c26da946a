package syncml

import (
	"bytes"
	"encoding/binary"
	"slices"
	"unicode/utf8"
)

// Scanner extracts SyncML messages. A Scanner is not safe for concurrent use;
// keep one per goroutine (or in a sync.Pool) and reuse it: after warm-up,
// Parse does not allocate.
//
// The zero Scanner is usable and applies DefaultLimits.
type Scanner struct {
	Limits Limits
	msg    Message

	data  []byte
	stack []frame
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

	elements int
	maxName  int // longest element name: min(maxName, Limits.MaxAttrLen)
	sawRoot  bool
	rootDone bool
	sawHdr   bool

	// The one value being collected (value elements never nest: the children
	// of a value element are skipped).
	vmode    uint8
	vraw     bool
	vstart   int // offset of the value element's content
	va, vb   int // alias bounds in data (vmode==vAlias) or scratch start (vScratch)
	pa, pb   int // a pending whitespace-only segment after aliased text
	pcdata   bool
	cur      int // index of the current command
	parent   int // index of the innermost open Atomic or Sequence, -1 outside
	item     int // index of the current item in the current command
	tRefSet  bool
	sRefSet  bool
	dFormat  []byte
	dType    []byte
	dMark    []byte
	vdst     *[]byte // where the value being collected goes
	sink     []byte  // vdst for values that are not kept (a second TargetRef)
	attrVal  []byte  // the attribute captured by the last start tag
	attrSeen bool
}

// frame is one open element in 8 bytes, so that even a nesting limit raised
// to the input size keeps the stack within a few times the input.
type frame struct {
	name int32 // offset of the qualified name
	nlen uint16
	role uint8
}

// Roles say what an open element means for extraction. Roles at or above
// rEnd do something when their element ends (so that one compare decides it
// on the end-tag path); roles at or above rVal are value elements whose text
// becomes one field.
const (
	rSkip uint8 = iota
	rRoot
	rHdr
	rHdrTarget
	rHdrSource
	rBody     // SyncBody
	rCmd      // a command that holds items: Status, Results, Alert, Add, ...
	rCmdMeta  // a command's Meta
	rContMeta // an Atomic's or Sequence's Meta
	rItemSource
	rItemTarget
	rItemMeta

	rCont // Atomic, Sequence: closes the container
	rItem // sets the item's Meta defaults

	rVal
)

const rEnd = rCont

// Value roles, from rVal up; end stores the value through Scanner.vdst.
const (
	vVerDTD uint8 = rVal + iota
	vVerProto
	vSessionID
	vMsgID
	vHdrTarget
	vHdrSource
	vCmdID
	vContCmdID
	vMsgRef
	vCmdRef
	vCmd
	vTargetRef
	vSourceRef
	vCmdData
	vCmdFormat
	vCmdType
	vItemSource
	vItemTarget
	vItemData
	vItemFormat
	vItemType
	vItemMark
	vDirFormat
	vDirType
	vDirMark
)

const (
	vNone uint8 = iota
	vAlias
	vScratch
)

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

// NewScanner returns a Scanner with the given limits; zero fields take
// DefaultLimits.
func NewScanner(l Limits) *Scanner {
	s := &Scanner{Limits: l}
	s.limits()
	return s
}

func (s *Scanner) limits() {
	if s.Limits.MaxDepth <= 0 {
		s.Limits.MaxDepth = DefaultLimits.MaxDepth
	}
	if s.Limits.MaxElements <= 0 {
		s.Limits.MaxElements = DefaultLimits.MaxElements
	}
	if s.Limits.MaxAttrLen <= 0 {
		s.Limits.MaxAttrLen = DefaultLimits.MaxAttrLen
	}
	if s.Limits.MaxCommands <= 0 {
		s.Limits.MaxCommands = DefaultLimits.MaxCommands
	}
	s.maxName = min(maxName, s.Limits.MaxAttrLen)
}

// Parse scans one SyncML message (UTF-8, optionally with a BOM, or UTF-16
// with a BOM). The returned Message and every slice in it are valid until the
// next Parse on s. A rejected message yields a *Error.
//
// Cost: one utf8.Valid pass plus one forward pass over the input; memory
// beyond the Message is at most the input size for decoded text (only when
// text holds references, CDATA or carriage returns), 1.5x the input for a
// UTF-16 body, and Limits.MaxDepth frames.
func (s *Scanner) Parse(data []byte) (*Message, error) {
	s.limits()
	s.reset()
	data, err := s.decodeBOM(data)
	if err != nil {
		return nil, err
	}
	if len(data) > maxInput {
		return nil, errAt(ReasonTooLarge, 0, "input of 2 GiB or more")
	}
	s.data = data
	if err := s.scan(); err != nil {
		s.data = nil
		return nil, err
	}
	s.data = nil
	if !s.sawHdr {
		return nil, &Error{Reason: ReasonNoHeader, Offset: len(data), Detail: "no SyncHdr"}
	}
	if len(s.msg.Header.Source) == 0 {
		return nil, &Error{Reason: ReasonNoDevice, Offset: len(data), Detail: "SyncHdr/Source/LocURI missing or empty"}
	}
	return &s.msg, nil
}

// maxInput and maxName keep offsets and name lengths within a frame's fields.
const (
	maxInput = 1<<31 - 1
	maxName  = 1<<16 - 1
)

// Parse scans one message with a new Scanner and DefaultLimits. It is for
// tools and tests; the hot path reuses a Scanner.
func Parse(data []byte) (*Message, error) {
	return NewScanner(DefaultLimits).Parse(data)
}

func (s *Scanner) reset() {
	m := &s.msg
	cmds := m.Commands[:0]
	*m = Message{Commands: cmds}
	s.stack = s.stack[:0]
	if cap(s.stack) < s.Limits.MaxDepth+1 && s.Limits.MaxDepth < 1<<12 {
		s.stack = make([]frame, 0, s.Limits.MaxDepth+1)
	}
	s.scratch = s.scratch[:0]
	s.nextAmp, s.nextCR = -1, -1
	s.elements = 0
	s.sawRoot, s.rootDone, s.sawHdr = false, false, false
	s.vmode, s.vraw = vNone, false
	s.cur, s.item, s.parent = -1, -1, -1
	// A rejected message can stop anywhere, so per-element state is reset
	// here too, not only where it is consumed.
	s.attrSeen, s.attrVal, s.sink, s.vdst = false, nil, nil, nil
	s.dFormat, s.dType, s.dMark = nil, nil, nil
	s.tRefSet, s.sRefSet = false, false
}

// errAt is kept out of line: inlined, its allocation would bloat every hot
// function with code that runs only on rejection.
//
//go:noinline
func errAt(r Reason, off int, detail string) error {
	return &Error{Reason: r, Offset: off, Detail: detail}
}

// decodeBOM strips a UTF-8 BOM, transcodes UTF-16 (with a BOM, or detected
// from a leading '<' paired with a zero byte) into s.wide, and checks that
// the result is valid UTF-8.
func (s *Scanner) decodeBOM(data []byte) ([]byte, error) {
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		data = data[3:]
	} else if len(data) >= 2 {
		switch {
		case data[0] == 0xFF && data[1] == 0xFE:
			return s.utf16(data[2:], false)
		case data[0] == 0xFE && data[1] == 0xFF:
			return s.utf16(data[2:], true)
		case data[0] == '<' && data[1] == 0:
			return s.utf16(data, false)
		case data[0] == 0 && data[1] == '<':
			return s.utf16(data, true)
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

func (s *Scanner) utf16(b []byte, big bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, errAt(ReasonEncoding, len(b), "odd length UTF-16 body")
	}
	need := len(b) / 2 * 3
	if cap(s.wide) < need {
		s.wide = make([]byte, 0, need)
	}
	out := s.wide[:0]
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
	s.wide = out
	return out, nil
}

// plain reports whether data[a:b] holds neither '&' nor '\r', so that its
// text is itself and can alias the input.
func (s *Scanner) plain(a, b int) bool {
	if s.nextAmp < a {
		s.nextAmp = nextByte(s.data, a, '&')
	}
	if s.nextCR < a {
		s.nextCR = nextByte(s.data, a, '\r')
	}
	return s.nextAmp >= b && s.nextCR >= b
}

func (s *Scanner) hasAmp(a, b int) bool {
	if s.nextAmp < a {
		s.nextAmp = nextByte(s.data, a, '&')
	}
	return s.nextAmp < b
}

func nextByte(d []byte, a int, c byte) int {
	j := bytes.IndexByte(d[a:], c)
	if j < 0 {
		return len(d)
	}
	return a + j
}

// scan is the single forward pass. It jumps between '<' with IndexByte and
// dispatches on the byte after it.
func (s *Scanner) scan() error {
	data := s.data
	n := len(data)
	p := 0
	for p < n {
		if data[p] != '<' {
			// Indentation between tags is the most common text: skip it
			// with a short loop, and only outside values, where it means
			// nothing.
			if d := len(s.stack); d > 0 && (s.stack[d-1].role < rVal || s.vraw) {
				k := p
				for k < n && k-p < 32 && (data[k] == ' ' || data[k] == '\n' || data[k] == '\t') {
					k++
				}
				if k < n && data[k] == '<' {
					p = k
					goto markup
				}
			}
			j := bytes.IndexByte(data[p:], '<')
			if j < 0 {
				if err := s.text(p, n); err != nil {
					return err
				}
				break
			}
			if err := s.text(p, p+j); err != nil {
				return err
			}
			p += j
		}
	markup:
		if p+1 >= n {
			return errAt(ReasonTruncated, p, "input ends in markup")
		}
		var err error
		switch data[p+1] {
		case '/':
			// The common end tag "</name>" closing the innermost element is
			// handled here; anything else goes to endTag for the diagnosis.
			if d := len(s.stack); d > 0 {
				top := s.stack[d-1]
				e := p + 2 + int(top.nlen)
				if e < n && data[e] == '>' && sameName(data[p+2:e], data[top.name:int(top.name)+int(top.nlen)]) {
					s.stack = s.stack[:d-1]
					if top.role >= rEnd {
						s.end(top.role, p)
					}
					if d == 1 {
						s.rootDone = true
					}
					p = e + 1
					continue
				}
			}
			p, err = s.endTag(p)
		case '!':
			p, err = s.bang(p)
		case '?':
			p, err = s.procInst(p)
		default:
			p, err = s.startTag(p)
		}
		if err != nil {
			return err
		}
	}
	if len(s.stack) > 0 {
		return errAt(ReasonTruncated, n, "unclosed element")
	}
	if !s.sawRoot {
		return errAt(ReasonEmpty, n, "no root element")
	}
	return nil
}

// text handles the character data data[a:b] (b > a).
func (s *Scanner) text(a, b int) error {
	if b <= a {
		return nil
	}
	if len(s.stack) == 0 {
		for i := a; i < b; i++ {
			if !isSpace(s.data[i]) {
				return errAt(ReasonMalformed, i, "text outside the root element")
			}
		}
		return nil
	}
	top := &s.stack[len(s.stack)-1]
	if top.role >= rVal && !s.vraw {
		// Fast path: the first text of a value, plain and not starting with
		// whitespace, aliases the input.
		if s.vmode == vNone && s.nextAmp >= b && s.nextCR >= b && !isSpace(s.data[a]) {
			s.vmode, s.va, s.vb = vAlias, a, b
			return nil
		}
		return s.segment(a, b, false)
	}
	if s.hasAmp(a, b) {
		return s.checkRefs(a, b)
	}
	return nil
}

// segment adds text (or CDATA content) data[a:b] to the value being
// collected. A single plain segment, the common case, aliases the input;
// whitespace-only segments before any content are dropped (they would be
// trimmed), one after content is held back in case more content follows.
func (s *Scanner) segment(a, b int, cdata bool) error {
	data := s.data
	plain := cdata && s.noCR(a, b) || !cdata && s.plain(a, b)
	if plain && s.vmode != vScratch {
		ws := true
		for i := a; i < b; i++ {
			if !isSpace(data[i]) {
				ws = false
				break
			}
		}
		if ws {
			switch {
			case s.vmode == vNone:
				return nil
			case s.pa == s.pb:
				s.pa, s.pb, s.pcdata = a, b, cdata
				return nil
			}
		} else if s.vmode == vNone {
			for isSpace(data[a]) {
				a++
			}
			s.vmode, s.va, s.vb = vAlias, a, b
			return nil
		}
	}
	if s.vmode != vScratch {
		s.toScratch()
		if s.pa != s.pb {
			_ = s.appendText(s.pa, s.pb, s.pcdata) // whitespace only: cannot fail
			s.pa, s.pb = 0, 0
		}
	}
	return s.appendText(a, b, cdata)
}

func (s *Scanner) noCR(a, b int) bool {
	if s.nextCR < a {
		s.nextCR = nextByte(s.data, a, '\r')
	}
	return s.nextCR >= b
}

// toScratch moves the value collected so far into scratch.
func (s *Scanner) toScratch() {
	if cap(s.scratch) < len(s.data) {
		s.scratch = make([]byte, 0, len(s.data))
	}
	start := len(s.scratch)
	if s.vmode == vAlias {
		s.scratch = append(s.scratch, s.data[s.va:s.vb]...)
	}
	s.vmode, s.va = vScratch, start
}

// appendText decodes data[a:b] onto scratch: references (unless cdata) and
// line ends ("\r\n" and "\r" become "\n").
func (s *Scanner) appendText(a, b int, cdata bool) error {
	data := s.data
	out := s.scratch
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
			r, n, err := s.ref(i, b)
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
	s.scratch = out
	return nil
}

// checkRefs validates the references in text that is not extracted.
func (s *Scanner) checkRefs(a, b int) error {
	for i := a; i < b; i++ {
		if s.data[i] == '&' {
			_, n, err := s.ref(i, b)
			if err != nil {
				return err
			}
			i += n - 1
		}
	}
	return nil
}

// ref decodes the reference at data[i] == '&' that must end before b. It
// returns the rune and the reference's length.
func (s *Scanner) ref(i, b int) (rune, int, error) {
	data := s.data
	end := i + 1
	for end < b && end-i < 16 && data[end] != ';' {
		end++
	}
	if end >= b || data[end] != ';' {
		if end-i >= 16 {
			return 0, 0, errAt(ReasonMalformed, i, "'&' not starting a reference")
		}
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

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// bang handles "<!": comments, CDATA sections and (rejected) DTD markup.
func (s *Scanner) bang(p int) (int, error) {
	data := s.data
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
		if len(s.stack) == 0 {
			return 0, errAt(ReasonMalformed, p, "CDATA outside the root element")
		}
		a := p + 9
		k := bytes.Index(data[a:], []byte("]]>"))
		if k < 0 {
			return 0, errAt(ReasonTruncated, p, "unterminated CDATA section")
		}
		top := &s.stack[len(s.stack)-1]
		if top.role >= rVal && !s.vraw && k > 0 {
			if err := s.segment(a, a+k, true); err != nil {
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

// procInst skips a processing instruction or the XML declaration.
func (s *Scanner) procInst(p int) (int, error) {
	data := s.data
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

// startTag handles "<name attrs>" and "<name attrs/>".
func (s *Scanner) startTag(p int) (int, error) {
	data := s.data
	n := len(data)
	depth := len(s.stack)
	parent := rSkip
	if depth > 0 {
		parent = s.stack[depth-1].role
	}
	q := p + 1
	colon := -1
	role := rSkip
	if f := s.fast(parent, q); f != nil {
		// A known child of a known parent: its name and its role in one
		// compare, no name loop and no string switch.
		q += int(f.n)
		// The limits as slowName checks them, written out: a shared helper
		// returning their errors is too costly to inline on this path.
		if depth >= s.Limits.MaxDepth {
			return 0, errAt(ReasonTooDeep, p, "nesting deeper than the limit")
		}
		s.elements++
		if s.elements > s.Limits.MaxElements {
			return 0, errAt(ReasonTooManyElements, p, "more elements than the limit")
		}
		role = f.role
		if f.kind != 0 && !s.command(f.kind) {
			return 0, errCommands(p)
		}
		s.enter(role)
	} else {
		var err error
		if q, colon, role, err = s.slowName(p, depth, parent); err != nil {
			return 0, err
		}
	}
	nameEnd := q
	// Attributes.
	self := false
	c := data[q]
	switch {
	case c == '>':
		q++
	case c == '/':
		if q+1 >= n {
			return 0, errAt(ReasonTruncated, p, "input ends in a start tag")
		}
		if data[q+1] != '>' {
			return 0, errAt(ReasonMalformed, q, "expected '>' after '/'")
		}
		self = true
		q += 2
	case isSpace(c):
		if role != rRoot && role != vCmdData && role != vItemData &&
			n-q > len(metinf) && string(data[q:q+len(metinf)]) == metinf {
			// Windows clients put this declaration on every Meta child;
			// recognising it whole skips the general attribute loop.
			q += len(metinf)
		}
		var err error
		q, self, err = s.attrs(q, role, p+1, colon)
		if err != nil {
			return 0, err
		}
		if role == rRoot && s.attrSeen {
			s.msg.Version = version(s.attrVal)
			s.attrSeen, s.attrVal = false, nil
		}
	default:
		return 0, errAt(ReasonMalformed, q, "bad character in element name")
	}
	if role == vCmdData || role == vItemData {
		ov := s.attrVal
		if !s.attrSeen {
			ov = nil
		}
		c := &s.msg.Commands[s.cur]
		if role == vCmdData {
			c.OriginalError = ov
		} else {
			c.Items[s.item].OriginalError = ov
		}
		s.attrSeen, s.attrVal = false, nil
	}
	if role >= rVal {
		s.vmode, s.vraw, s.pa, s.pb, s.vstart = vNone, false, 0, 0, q
		if !self {
			// Fast path for the common value "<X>plain text</X>": take the
			// text and the end tag here, without pushing a frame.
			if k := bytes.IndexByte(data[q:], '<'); k >= 0 {
				e := q + k
				ln := nameEnd - p - 1
				f := e + 2 + ln
				if f < n && data[e+1] == '/' && data[f] == '>' &&
					sameName(data[e+2:f], data[p+1:nameEnd]) &&
					(s.nextAmp >= e && s.nextCR >= e || s.plain(q, e)) {
					*s.vdst = trim(data[q:e])
					return f + 1, nil
				}
			}
		}
	}
	if self {
		s.end(role, q)
		if depth == 0 {
			s.rootDone = true
		}
		return q, nil
	}
	if depth > 0 && parent >= rVal {
		// A child element inside a value element: the value is its raw inner markup.
		s.vraw = true
	}
	if len(s.stack) == cap(s.stack) {
		// Double (append grows large slices by 1.25x, which costs 5x the
		// final size in total when a raised depth limit lets it grow).
		st := make([]frame, len(s.stack), 2*cap(s.stack)+64)
		copy(st, s.stack)
		s.stack = st
	}
	s.stack = append(s.stack, frame{name: int32(p + 1), nlen: uint16(nameEnd - p - 1), role: role})
	return q, nil
}

const metinf = ` xmlns="syncml:metinf"`

// slowName reads the name of the start tag at data[p] == '<' in full and
// decides its role: the path for names that fast does not know.
func (s *Scanner) slowName(p, depth int, parent uint8) (q, colon int, role uint8, err error) {
	data := s.data
	n := len(data)
	q = p + 1
	if !nameStart(data[q]) {
		return 0, 0, 0, errAt(ReasonMalformed, p, "bad element name")
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
			return 0, 0, 0, errAt(ReasonMalformed, p, "element name with two colons")
		}
		colon = q
		q++
	}
	if q >= n {
		return 0, 0, 0, errAt(ReasonTruncated, p, "input ends in a start tag")
	}
	nameEnd := q
	if nameEnd-p-1 > s.maxName {
		return 0, 0, 0, errAt(ReasonTooLarge, p, "element name longer than the limit")
	}
	local := data[p+1 : nameEnd]
	if colon >= 0 {
		if colon == nameEnd-1 {
			return 0, 0, 0, errAt(ReasonMalformed, p, "empty local name")
		}
		local = data[colon+1 : nameEnd]
	}
	if depth >= s.Limits.MaxDepth {
		return 0, 0, 0, errAt(ReasonTooDeep, p, "nesting deeper than the limit")
	}
	s.elements++
	if s.elements > s.Limits.MaxElements {
		return 0, 0, 0, errAt(ReasonTooManyElements, p, "more elements than the limit")
	}
	if depth == 0 {
		if s.rootDone {
			return 0, 0, 0, errAt(ReasonMalformed, p, "content after the root element")
		}
		if string(local) != "SyncML" {
			return 0, 0, 0, errAt(ReasonNotSyncML, p, "root element is not SyncML")
		}
		s.sawRoot = true
		parent = 255
	}
	role = rSkip
	if parent != rSkip {
		if role, err = s.child(parent, local, p); err != nil {
			return 0, 0, 0, err
		}
		s.enter(role)
	}
	return q, colon, role, nil
}

// version maps a root namespace "SYNCML:SYNCML1.x" to "1.x".
func version(ns []byte) []byte {
	const pfx = "syncml:syncml"
	if len(ns) < len(pfx) || !bytes.EqualFold(ns[:len(pfx)], []byte(pfx)) {
		return nil
	}
	v := ns[len(pfx):]
	if len(v) == 0 {
		return nil
	}
	return v
}

// child decides the role of an element named local under an element of role
// parent (255 for the root itself) and records what its start means.
func (s *Scanner) child(parent uint8, local []byte, p int) (uint8, error) {
	switch parent {
	case 255:
		return rRoot, nil
	case rRoot:
		switch string(local) {
		case "SyncHdr":
			s.sawHdr = true
			return rHdr, nil
		case "SyncBody":
			if !s.sawHdr {
				return 0, errAt(ReasonNoHeader, p, "SyncBody before SyncHdr")
			}
			return rBody, nil
		}
	case rHdr:
		switch string(local) {
		case "VerDTD":
			return vVerDTD, nil
		case "VerProto":
			return vVerProto, nil
		case "SessionID":
			return vSessionID, nil
		case "MsgID":
			return vMsgID, nil
		case "Target":
			return rHdrTarget, nil
		case "Source":
			return rHdrSource, nil
		}
	case rHdrTarget:
		if string(local) == "LocURI" {
			return vHdrTarget, nil
		}
	case rHdrSource:
		if string(local) == "LocURI" {
			return vHdrSource, nil
		}
	case rBody, rCont:
		var k Kind
		role := rCmd
		switch string(local) {
		case "Status":
			k = KindStatus
		case "Results":
			k = KindResults
		case "Alert":
			k = KindAlert
		case "Add":
			k = KindAdd
		case "Replace":
			k = KindReplace
		case "Exec":
			k = KindExec
		case "Get":
			k = KindGet
		case "Delete":
			k = KindDelete
		case "Atomic":
			k, role = KindAtomic, rCont
		case "Sequence":
			k, role = KindSequence, rCont
		case "Final":
			s.msg.Final = true
			return rSkip, nil
		case "CmdID":
			if parent == rCont {
				return vContCmdID, nil
			}
			return rSkip, nil
		case "Meta":
			if parent == rCont {
				return rContMeta, nil
			}
			return rSkip, nil
		case "NoResp", "Cred":
			return rSkip, nil
		default:
			s.msg.Other++
			return rSkip, nil
		}
		if !s.command(k) {
			return 0, errCommands(p)
		}
		return role, nil
	case rCmd:
		switch string(local) {
		case "CmdID":
			return vCmdID, nil
		case "MsgRef":
			return vMsgRef, nil
		case "CmdRef":
			return vCmdRef, nil
		case "Cmd":
			return vCmd, nil
		case "TargetRef":
			return vTargetRef, nil
		case "SourceRef":
			return vSourceRef, nil
		case "Data":
			return vCmdData, nil
		case "Meta":
			return rCmdMeta, nil
		case "Item":
			return rItem, nil
		}
	case rCmdMeta, rContMeta:
		switch string(local) {
		case "Format":
			return vCmdFormat, nil
		case "Type":
			return vCmdType, nil
		}
	case rItem:
		switch string(local) {
		case "Source":
			return rItemSource, nil
		case "Target":
			return rItemTarget, nil
		case "Meta":
			return rItemMeta, nil
		case "Data":
			return vItemData, nil
		case "Format":
			return vDirFormat, nil
		case "Type":
			return vDirType, nil
		case "Mark":
			return vDirMark, nil
		}
	case rItemSource:
		if string(local) == "LocURI" {
			return vItemSource, nil
		}
	case rItemTarget:
		if string(local) == "LocURI" {
			return vItemTarget, nil
		}
	case rItemMeta:
		switch string(local) {
		case "Format":
			return vItemFormat, nil
		case "Type":
			return vItemType, nil
		case "Mark":
			return vItemMark, nil
		}
	}
	return rSkip, nil
}

// enter records what the start of an element of the given role means: where
// a value goes, a new item. Both name paths of startTag call it.
func (s *Scanner) enter(role uint8) {
	switch role {
	case rItem:
		s.newItem()
	case vVerDTD:
		s.vdst = &s.msg.Header.VerDTD
	case vVerProto:
		s.vdst = &s.msg.Header.VerProto
	case vSessionID:
		s.vdst = &s.msg.Header.SessionID
	case vMsgID:
		s.vdst = &s.msg.Header.MsgID
	case vHdrTarget:
		s.vdst = &s.msg.Header.Target
	case vHdrSource:
		s.vdst = &s.msg.Header.Source
	case vCmdID:
		s.vdst = &s.msg.Commands[s.cur].CmdID
	case vContCmdID:
		// The container's own CmdID, also after commands it holds.
		s.cur = s.parent
		s.vdst = &s.msg.Commands[s.cur].CmdID
	case rContMeta:
		// Its Format and Type are read as a command's, into the container.
		s.cur = s.parent
	case vMsgRef:
		s.vdst = &s.msg.Commands[s.cur].MsgRef
	case vCmdRef:
		s.vdst = &s.msg.Commands[s.cur].CmdRef
	case vCmd:
		s.vdst = &s.msg.Commands[s.cur].Cmd
	case vTargetRef:
		// The first TargetRef (SourceRef) of a command is kept.
		s.vdst = &s.msg.Commands[s.cur].TargetRef
		if s.tRefSet {
			s.vdst = &s.sink
		}
		s.tRefSet = true
	case vSourceRef:
		s.vdst = &s.msg.Commands[s.cur].SourceRef
		if s.sRefSet {
			s.vdst = &s.sink
		}
		s.sRefSet = true
	case vCmdData:
		s.vdst = &s.msg.Commands[s.cur].Data
	case vCmdFormat:
		s.vdst = &s.msg.Commands[s.cur].Format
	case vCmdType:
		s.vdst = &s.msg.Commands[s.cur].Type
	case vItemSource:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Source
	case vItemTarget:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Target
	case vItemData:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Data
	case vItemFormat:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Format
	case vItemType:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Type
	case vItemMark:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Mark
	case vDirFormat:
		s.vdst = &s.dFormat
	case vDirType:
		s.vdst = &s.dType
	case vDirMark:
		s.vdst = &s.dMark
	}
}

// fastTag is a child element name that fast recognises with one 8-byte
// compare: the name and the byte after it, which must end the name ('>',
// '/' or a space) for the compare to count.
type fastTag struct {
	key, mask uint64
	n         uint8 // name length
	role      uint8
	kind      Kind // for commands under SyncBody, Atomic or Sequence, 0 otherwise
}

// fastTags lists, per parent role, the children that make up nearly every
// element of real messages. A name missing here (or prefixed, or of more
// than seven bytes) takes the general path, with the same result.
var fastTags = func() (t [rVal][]fastTag) {
	add := func(parent uint8, name string, role uint8, kind Kind) {
		if len(name) > 7 {
			panic("syncml: fast tag " + name + " leaves no byte for its end")
		}
		var w [8]byte
		copy(w[:], name)
		mask := uint64(1)<<(8*len(name)) - 1
		t[parent] = append(t[parent], fastTag{key: binary.LittleEndian.Uint64(w[:]) & mask, mask: mask, n: uint8(len(name)), role: role, kind: kind})
	}
	// Device commands first: the names of device traffic are matched in
	// the fewest compares. Sequence is too long for the table.
	for _, parent := range []uint8{rBody, rCont} {
		add(parent, "Status", rCmd, KindStatus)
		add(parent, "Results", rCmd, KindResults)
		add(parent, "Alert", rCmd, KindAlert)
		add(parent, "Replace", rCmd, KindReplace)
		add(parent, "Exec", rCmd, KindExec)
		add(parent, "Get", rCmd, KindGet)
		add(parent, "Add", rCmd, KindAdd)
		add(parent, "Delete", rCmd, KindDelete)
		add(parent, "Atomic", rCont, KindAtomic)
	}
	add(rCont, "CmdID", vContCmdID, 0)
	add(rCont, "Meta", rContMeta, 0)
	add(rCmd, "CmdID", vCmdID, 0)
	add(rCmd, "Data", vCmdData, 0)
	add(rCmd, "Item", rItem, 0)
	add(rCmd, "MsgRef", vMsgRef, 0)
	add(rCmd, "CmdRef", vCmdRef, 0)
	add(rCmd, "Cmd", vCmd, 0)
	add(rCmd, "Meta", rCmdMeta, 0)
	add(rCmdMeta, "Format", vCmdFormat, 0)
	add(rCmdMeta, "Type", vCmdType, 0)
	add(rContMeta, "Format", vCmdFormat, 0)
	add(rContMeta, "Type", vCmdType, 0)
	add(rItem, "Source", rItemSource, 0)
	add(rItem, "Meta", rItemMeta, 0)
	add(rItem, "Data", vItemData, 0)
	add(rItem, "Target", rItemTarget, 0)
	add(rItemSource, "LocURI", vItemSource, 0)
	add(rItemTarget, "LocURI", vItemTarget, 0)
	add(rItemMeta, "Format", vItemFormat, 0)
	add(rItemMeta, "Type", vItemType, 0)
	add(rItemMeta, "Mark", vItemMark, 0)
	return t
}()

// fast returns the known child whose name starts at data[q], or nil.
func (s *Scanner) fast(parent uint8, q int) *fastTag {
	if parent >= rVal || q+8 > len(s.data) || s.maxName < 7 {
		return nil
	}
	w := binary.LittleEndian.Uint64(s.data[q:])
	tags := fastTags[parent]
	for i := range tags {
		f := &tags[i]
		if w&f.mask == f.key {
			// Every name here is shorter than eight bytes.
			switch byte(w >> (8 * f.n)) {
			case '>', '/', ' ', '\n', '\t', '\r':
				return f
			}
			return nil
		}
	}
	return nil
}

// command starts a new Command, reusing the backing arrays of earlier
// messages, and reports false when it would exceed Limits.MaxCommands.
func (s *Scanner) command(k Kind) bool {
	cmds := s.msg.Commands
	if len(cmds) >= s.Limits.MaxCommands {
		return false
	}
	if len(cmds) == cap(cmds) {
		cmds = growCommands(cmds)
	}
	cmds = cmds[:len(cmds)+1]
	c := &cmds[len(cmds)-1]
	items := c.Items[:0]
	*c = Command{}
	c.Kind, c.Parent, c.Items = k, int32(s.parent), items
	s.msg.Commands = cmds
	s.cur = len(cmds) - 1
	s.tRefSet, s.sRefSet = false, false
	if k.Container() {
		s.parent = s.cur
	}
	return true
}

//go:noinline
func errCommands(p int) error {
	return errAt(ReasonTooManyElements, p, "more commands than the limit")
}

// growCommands and growItems are kept out of line: they run only while a
// Scanner warms up, and inlined, their temporaries would enlarge the frame
// of the function that dispatches every element. Commands double (append
// grows large slices by 1.25x, which allocates 5x the final size in total
// under a flood of commands).
//
//go:noinline
func growCommands(c []Command) []Command { return slices.Grow(c, len(c)+1) }

//go:noinline
func growItems(it []Item) []Item { return slices.Grow(it, 1) }

func (s *Scanner) newItem() {
	c := &s.msg.Commands[s.cur]
	items := c.Items
	if len(items) == cap(items) {
		items = growItems(items)
	}
	items = items[:len(items)+1]
	items[len(items)-1] = Item{}
	c.Items = items
	s.item = len(items) - 1
	s.dFormat, s.dType, s.dMark = nil, nil, nil
}

// attrs parses the attributes of a start tag from data[q] (a space) to its
// end. It captures the value of xmlns (or xmlns:prefix for a prefixed root)
// on the root and of *:originalerror on Data elements.
func (s *Scanner) attrs(q int, role uint8, name, colon int) (int, bool, error) {
	data := s.data
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
			if q+1 >= n {
				return 0, false, errAt(ReasonTruncated, q, "input ends in a start tag")
			}
			if data[q+1] != '>' {
				return 0, false, errAt(ReasonMalformed, q, "expected '>' after '/'")
			}
			return q + 2, true, nil
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
		if aEnd-a > s.Limits.MaxAttrLen {
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
		if q+s.Limits.MaxAttrLen+1 < lim {
			lim = q + s.Limits.MaxAttrLen + 1
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
		want := false
		if s.attrSeen {
			// The first matching attribute wins.
		} else if role == rRoot {
			if colon < 0 {
				want = acolon < 0 && string(data[a:aEnd]) == "xmlns"
			} else {
				want = acolon == a+5 && string(data[a:acolon]) == "xmlns" &&
					bytes.Equal(data[acolon+1:aEnd], data[name:colon])
			}
		} else if role == vCmdData || role == vItemData {
			local := data[a:aEnd]
			if acolon >= 0 {
				local = data[acolon+1 : aEnd]
				want = string(data[a:acolon]) != "xmlns"
			} else {
				want = true
			}
			want = want && string(local) == "originalerror"
		}
		if want {
			v, err := s.attrValue(va, vb)
			if err != nil {
				return 0, false, err
			}
			s.attrVal, s.attrSeen = v, true
		} else if s.hasAmp(va, vb) {
			if err := s.checkRefs(va, vb); err != nil {
				return 0, false, err
			}
		}
		if q >= n {
			return 0, false, errAt(ReasonTruncated, q, "input ends in a start tag")
		}
	}
}

// attrValue decodes and trims an attribute value that is kept.
func (s *Scanner) attrValue(a, b int) ([]byte, error) {
	if s.plain(a, b) {
		return trim(s.data[a:b]), nil
	}
	if cap(s.scratch) < len(s.data) {
		s.scratch = make([]byte, 0, len(s.data))
	}
	start := len(s.scratch)
	if err := s.appendText(a, b, false); err != nil {
		return nil, err
	}
	return trim(s.scratch[start:]), nil
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

// endTag handles "</name>", which must close the innermost open element.
func (s *Scanner) endTag(p int) (int, error) {
	data := s.data
	n := len(data)
	d := len(s.stack)
	if d == 0 {
		return 0, errAt(ReasonMalformed, p, "end tag without a start tag")
	}
	top := s.stack[d-1]
	name := data[int(top.name) : int(top.name)+int(top.nlen)]
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
	s.stack = s.stack[:d-1]
	if top.role >= rEnd {
		s.end(top.role, p)
	}
	if d == 1 {
		s.rootDone = true
	}
	return q + 1, nil
}

// end finishes an element of the given role whose content ends at b. Only
// roles from rEnd up need it; a self-closing element of any role comes here.
func (s *Scanner) end(role uint8, b int) {
	if role < rVal {
		if role == rCont {
			s.parent = int(s.msg.Commands[s.parent].Parent)
			return
		}
		if role == rItem {
			it := &s.msg.Commands[s.cur].Items[s.item]
			if len(it.Format) == 0 {
				it.Format = s.dFormat
			}
			if len(it.Type) == 0 {
				it.Type = s.dType
			}
			if len(it.Mark) == 0 {
				it.Mark = s.dMark
			}
		}
		return
	}
	var v []byte
	switch {
	case s.vraw:
		v = trim(s.data[s.vstart:b])
		s.vraw = false
	case s.vmode == vAlias:
		v = s.data[s.va:s.vb]
		for len(v) > 0 && isSpace(v[len(v)-1]) {
			v = v[:len(v)-1]
		}
	case s.vmode == vScratch:
		v = trim(s.scratch[s.va:])
	}
	s.vmode = vNone
	*s.vdst = v
}
