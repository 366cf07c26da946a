package syncml

import "bytes"

// Scanner extracts SyncML messages. A Scanner is not safe for concurrent use;
// keep one per goroutine (or in a sync.Pool) and reuse it: after warm-up,
// Parse does not allocate.
//
// The zero Scanner is usable and applies DefaultLimits.
type Scanner struct {
	Limits Limits
	msg    Message

	// lexer reads the XML; the Scanner walks its elements with the
	// grammar (grammar.go) and collects (collect.go).
	lexer
	stack []frame

	elements int
	sawRoot  bool // the root has been opened: at depth 0, it is closed
	sawHdr   bool

	cur     int // index of the current command
	parent  int // index of the innermost open Atomic or Sequence, -1 outside
	item    int // index of the current item in the current command
	tRefSet bool
	sRefSet bool
	dFormat []byte
	dType   []byte
	dMark   []byte
	vdst    *[]byte // where the value being collected goes
	sink    []byte  // vdst for values that are not kept (a second TargetRef)
}

// frame is one open element in 8 bytes, so that even a nesting limit raised
// to the input size keeps the stack within a few times the input.
type frame struct {
	name int32 // offset of the qualified name
	nlen uint16
	role uint8
}

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
	s.maxAttr = s.Limits.MaxAttrLen
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
	s.lexer.reset()
	s.stack = s.stack[:0]
	if cap(s.stack) < s.Limits.MaxDepth+1 && s.Limits.MaxDepth < 1<<12 {
		s.stack = make([]frame, 0, s.Limits.MaxDepth+1)
	}
	s.elements = 0
	s.sawRoot, s.sawHdr = false, false
	s.cur, s.item, s.parent = -1, -1, -1
	// A rejected message can stop anywhere, so per-element state is reset
	// here too, not only where it is consumed.
	s.sink, s.vdst = nil, nil
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
					s.pop(top.role, d, p)
					p = e + 1
					continue
				}
			}
			p, err = s.endTag(p)
		case '!':
			p, err = s.decl(p)
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

// decl reads a comment or CDATA section at data[p] ("<!"), adding a CDATA
// section's content to the value being collected.
func (s *Scanner) decl(p int) (int, error) {
	return s.bang(p, len(s.stack) > 0, s.collecting())
}

// collecting reports whether the innermost open element is a value element
// whose text is being collected (and not one holding child elements, whose
// raw markup is taken at its end).
func (s *Scanner) collecting() bool {
	d := len(s.stack)
	return d > 0 && s.stack[d-1].role >= rVal && !s.vraw
}

// text handles the character data data[a:b] (b > a).
func (s *Scanner) text(a, b int) error {
	if b <= a {
		return nil
	}
	if len(s.stack) == 0 {
		return s.outside(a, b)
	}
	if s.collecting() {
		return s.collect(a, b)
	}
	if s.hasAmp(a, b) {
		return s.checkRefs(a, b)
	}
	return nil
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
	var role uint8
	if f := s.fast(parent, q); f != nil {
		// A known child of a known parent: its name and its role in one
		// compare, no name loop and no lookup.
		q += int(f.n)
		// admit, written out: the bool it returns costs a test and a
		// register on the path of nearly every element.
		if depth >= s.Limits.MaxDepth {
			return 0, s.errLimit(p, depth)
		}
		s.elements++
		if s.elements > s.Limits.MaxElements {
			return 0, s.errLimit(p, depth)
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
	self := false
	switch c := data[q]; {
	case c == '>':
		q++
	case c == '/':
		var err error
		if q, self, err = s.tagEnd(q, p); err != nil {
			return 0, err
		}
	case isSpace(c):
		want := captures(role)
		if want == capNone && n-q > len(metinf) && string(data[q:q+len(metinf)]) == metinf {
			// Recognising the declaration whole skips the general
			// attribute loop.
			q += len(metinf)
		}
		var err error
		if q, self, err = s.attrs(q, want, p+1, colon); err != nil {
			return 0, err
		}
		if want == capXmlns && s.attrSeen {
			s.msg.Version = version(s.attrVal)
			s.attrSeen, s.attrVal = false, nil
		}
	default:
		return 0, errAt(ReasonMalformed, q, "bad character in element name")
	}
	if role >= rVal {
		// Only value elements capture originalError: the test is off the
		// path of the other elements.
		if captures(role) == capOriginalError {
			s.originalError(role)
		}
		s.beginValue(q)
		if !self {
			// The common value "<X>plain text</X>" is taken here, text and
			// end tag, without pushing a frame. This is lexing, written out
			// in line: as a lexer method, the call slowed BenchmarkScan by several
			// percent.
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

// admit counts an element at the given depth and reports whether it is
// within Limits.MaxDepth and Limits.MaxElements; errLimit says which it
// exceeds. slowName calls it; the fast path of startTag writes it out.
func (s *Scanner) admit(depth int) bool {
	if depth >= s.Limits.MaxDepth || s.elements >= s.Limits.MaxElements {
		return false
	}
	s.elements++
	return true
}

//go:noinline
func (s *Scanner) errLimit(p, depth int) error {
	if depth >= s.Limits.MaxDepth {
		return errAt(ReasonTooDeep, p, "nesting deeper than the limit")
	}
	return errAt(ReasonTooManyElements, p, "more elements than the limit")
}

// slowName reads the name of the start tag at data[p] == '<' in full and
// decides its role from the grammar: the path for names that fast does not
// know, and for the root.
func (s *Scanner) slowName(p, depth int, parent uint8) (q, colon int, role uint8, err error) {
	if q, colon, err = s.name(p); err != nil {
		return 0, 0, 0, err
	}
	local := s.data[colon+1 : q]
	if colon < 0 {
		local = s.data[p+1 : q]
	}
	if !s.admit(depth) {
		return 0, 0, 0, s.errLimit(p, depth)
	}
	if depth == 0 {
		if s.sawRoot {
			return 0, 0, 0, errAt(ReasonMalformed, p, "content after the root element")
		}
		if string(local) != rootName {
			return 0, 0, 0, errAt(ReasonNotSyncML, p, "root element is not SyncML")
		}
		s.sawRoot = true
		return q, colon, rRoot, nil
	}
	if parent == rSkip {
		return q, colon, rSkip, nil
	}
	role, kind := lookup(parent, local)
	if role == rBody && !s.sawHdr {
		return 0, 0, 0, errAt(ReasonNoHeader, p, "SyncBody before SyncHdr")
	}
	if kind != 0 && !s.command(kind) {
		return 0, 0, 0, errCommands(p)
	}
	s.enter(role)
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

// endTag handles "</name>", which must close the innermost open element.
func (s *Scanner) endTag(p int) (int, error) {
	d := len(s.stack)
	if d == 0 {
		return 0, errAt(ReasonMalformed, p, "end tag without a start tag")
	}
	top := s.stack[d-1]
	q, err := s.endName(p, s.data[int(top.name):int(top.name)+int(top.nlen)])
	if err != nil {
		return 0, err
	}
	s.pop(top.role, d, p)
	return q, nil
}

// pop closes the innermost of the d open elements, of the given role; its
// content ends at b.
func (s *Scanner) pop(role uint8, d, b int) {
	s.stack = s.stack[:d-1]
	if role >= rEnd {
		s.end(role, b)
	}
}
