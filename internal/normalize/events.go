package normalize

// The events of a device's message, one function per command kind (Alert,
// Results, Status), and the fields every event is built with, which
// BuildCommands shares.

import (
	"bytes"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

func (b *Builder) alert(dst []event.Event, st *Stats, ci int, c *syncml.Command) []event.Event {
	if len(c.Items) == 0 {
		// Session alerts (1201 and the like) carry no install state.
		st.Skipped++
		return dst
	}
	generic := bytes.Equal(c.Data, alert1224) || bytes.Equal(c.Data, alert1226)
	for ii := range c.Items {
		it := &c.Items[ii]
		typ := it.Type
		if len(typ) >= len(reversedDomain) && eqFold(typ[:len(reversedDomain)], reversedDomain) {
			typ = typ[len(reversedDomain):]
		}
		install := generic && eqFold(typ, InstallAlertType)
		loc := itemLoc(it)
		p := parsePath(loc)
		if !install && p.csp == "" {
			st.Skipped++
			continue
		}
		e, sp := b.newEvent(&dst, event.KindAlert, ci, ii, c)
		b.place(e, sp, &p, -1, loc)
		switch {
		case install:
			e.AlertType = InstallAlertType
		case len(typ) > 0:
			sp.alertType = b.add(typ)
		}
		e.Mark = intern(it.Mark, marks)
		b.code(e, sp, codes.SpaceWin32, it.Data)
		b.originalError(sp, it.OriginalError)
		st.Events++
	}
	return dst
}

func (b *Builder) results(dst []event.Event, st *Stats, ci int, c *syncml.Command) []event.Event {
	for ii := range c.Items {
		it := &c.Items[ii]
		loc := itemLoc(it)
		// Pass 1 parsed the items of every Results, in this order.
		ip := &b.paths[b.pathAt]
		b.pathAt++
		p := &ip.p
		var space codes.Space
		switch {
		case p.csp == event.CSPOffice && p.node == "Status":
			space = codes.SpaceOfficeStatus
		case p.csp == event.CSPOffice && p.node == "FinalStatus":
			space = codes.SpaceOfficeFinal
		case p.csp == event.CSPOffice && p.node == "CurrentStatus":
			space = codes.SpaceOfficeStatus
		case p.csp == event.CSPMSI && p.node == "Status":
			space = codes.SpaceMSIStatus
		case p.csp == event.CSPMSI && p.node == "LastError":
			space = codes.SpaceWin32
		case p.csp != "" && p.target != nil && descriptive(p.node):
			// Taken in pass 1 as product fields: used, not skipped.
			continue
		default:
			st.Skipped++
			continue
		}
		e, sp := b.newEvent(&dst, event.KindResult, ci, ii, c)
		b.refs(e, sp, c)
		b.place(e, sp, p, ip.target, loc)
		if !b.code(e, sp, space, it.Data) && len(it.Data) > 0 {
			// A chr node (CurrentStatus) reports text, not a number.
			sp.text = b.add(it.Data)
		}
		b.originalError(sp, it.OriginalError)
		st.Events++
	}
	return dst
}

func (b *Builder) status(dst []event.Event, st *Stats, ci int, c *syncml.Command) []event.Event {
	loc := c.TargetRef
	if len(loc) == 0 && len(c.Items) > 0 {
		loc = itemLoc(&c.Items[0])
	}
	p := parsePath(loc)
	if p.csp == "" && (bytes.Equal(c.Cmd, cmdSyncHdr) || is2xx(c.Data)) {
		st.Skipped++
		return dst
	}
	e, sp := b.newEvent(&dst, event.KindStatus, ci, 0, c)
	b.refs(e, sp, c)
	b.place(e, sp, &p, -1, loc)
	b.code(e, sp, codes.SpaceOMADM, c.Data)
	b.originalError(sp, c.OriginalError)
	st.Events++
	return dst
}

// newEvent appends an event with the fields every event of the message
// shares, and its id, and returns a pointer to it and to its spans. Both are
// valid until the next newEvent.
func (b *Builder) newEvent(dst *[]event.Event, kind string, ci, ii int, c *syncml.Command) (*event.Event, *eventSpans) {
	x := &b.ctx
	*dst = append(*dst, event.Event{
		SchemaVersion: event.SchemaVersion,
		ReceivedAt:    x.received,
		Tenant:        x.meta.Tenant,
		Kind:          kind,
		CmdID:         atoi(c.CmdID),
		Scope:         event.ScopeDevice,
		MDMReceivedAt: x.meta.MDMReceivedAt,
		GenericAlert:  x.meta.GenericAlert,
	})
	b.spans = append(b.spans, eventSpans{id: b.eventID(kind, ci, ii), cmdIDRaw: b.add(c.CmdID), target: -1})
	return &(*dst)[len(*dst)-1], &b.spans[len(b.spans)-1]
}

// refs fills the answer's references of an event from a Status or Results
// c: CmdRef as a number and as sent, and MsgRef.
func (b *Builder) refs(e *event.Event, sp *eventSpans, c *syncml.Command) {
	e.CmdRef = atoi(c.CmdRef)
	sp.msgRef, sp.cmdRefRaw = b.add(c.MsgRef), b.add(c.CmdRef)
}

// place fills scope, CSP, target, node, LocURI and product from a LocURI
// parsed to p, whose target has index ti when known, or -1.
func (b *Builder) place(e *event.Event, sp *eventSpans, p *cspPath, ti int, loc []byte) {
	sp.loc = b.add(loc)
	if p.csp == "" {
		return
	}
	e.Scope, e.CSP, e.Node = p.scope, p.csp, p.node
	if p.target == nil {
		return
	}
	if ti < 0 {
		ti = b.target(p)
	}
	sp.target = ti
	e.Product = b.targets[ti].prod
}

// code fills the code fields from a result value read in space. It reports
// false, leaving the outcome unknown, when data is not a number.
func (b *Builder) code(e *event.Event, sp *eventSpans, space codes.Space, data []byte) bool {
	v, ok := codes.Parse(data)
	if !ok {
		e.Outcome = string(codes.Unknown)
		return false
	}
	if space == codes.SpaceWin32 && codes.IsHRESULT(v) {
		space = codes.SpaceHRESULT
	}
	info := codes.Classify(space, v)
	e.Code = v
	e.CodeSpace = string(space)
	if codes.IsHRESULT(v) {
		off := len(b.text)
		b.text = codes.AppendHex(b.text, v)
		sp.hex = span{off, len(b.text) - off}
		if w, ok := codes.Win32FromHRESULT(v); ok {
			e.Win32Code = w
		}
	}
	e.CodeName = info.Name
	e.Outcome = string(info.Outcome)
	e.Category = string(info.Category)
	return true
}

// originalError records a msft:originalerror HRESULT as hex; a value that is
// not a number is kept as sent rather than lost.
func (b *Builder) originalError(sp *eventSpans, raw []byte) {
	if len(raw) == 0 {
		return
	}
	if v, ok := codes.Parse(raw); ok {
		off := len(b.text)
		b.text = codes.AppendHex(b.text, v)
		sp.orig = span{off, len(b.text) - off}
		return
	}
	sp.orig = b.add(raw)
}

// itemLoc is the LocURI an item speaks of: its Source (device to server), or
// its Target when it has no Source.
func itemLoc(it *syncml.Item) []byte {
	if len(it.Source) > 0 {
		return it.Source
	}
	return it.Target
}

var (
	// Both generic alert codes carry install results, depending on the
	// client's version.
	alert1224  = []byte("1224")
	alert1226  = []byte("1226")
	cmdSyncHdr = []byte("SyncHdr")
)

const reversedDomain = "Reversed-Domain-Name:"

// marks are the Mark values devices send, interned so that an event does not
// allocate a copy of one.
var marks = [...]string{"informational", "critical", "warning", "fatal", "major", "minor"}

func intern(b []byte, known [6]string) string {
	for _, s := range known {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}

// is2xx reports whether an OMA-DM status code is a success.
func is2xx(b []byte) bool {
	return len(b) == 3 && b[0] == '2' && '0' <= b[1] && b[1] <= '9' && '0' <= b[2] && b[2] <= '9'
}

// atoi reads a non-negative CmdID or CmdRef; anything else is 0.
func atoi(b []byte) int64 {
	if len(b) == 0 || len(b) > 18 {
		return 0
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
