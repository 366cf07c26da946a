package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// Meta is what ingest knows of a message besides its body.
type Meta struct {
	// Tenant comes from the authenticated credential, never from the body.
	Tenant     string
	ReceivedAt time.Time
	// MDMReceivedAt and GenericAlert are optional MDM server headers, copied
	// to every event of the message.
	MDMReceivedAt string
	GenericAlert  string
}

// Stats counts what Build did with the commands and items of one message.
type Stats struct {
	Events int
	// Skipped counts commands and items that do not become events: other
	// commands, items outside the supported CSPs or at nodes that carry no
	// install state, alerts that are not install alerts, 2xx statuses of
	// commands outside the supported CSPs.
	Skipped int
}

// InstallAlertType is the generic alert type of a Win32 CSP install result,
// without its Reversed-Domain-Name: prefix.
const InstallAlertType = "com.microsoft.mdm.win32csp_install"

// Builder turns scanned messages into events. A Builder is not safe for
// concurrent use; reuse one per goroutine, so that its scratch space is
// reused too.
type Builder struct {
	targets []target
	ids     []byte // canonical target ids of the message, referenced by offset
	scratch []byte
	ctx     msgContext
}

// target gathers what one message says about one (scope, csp, target).
type target struct {
	scope, csp string
	idOff      int
	idLen      int
	id         string // canonical id, made when an event needs it
	product    [6][]byte
	hasProduct bool
	hasState   bool // a status-bearing node was reported
	text       []byte
	// first descriptive item, the anchor of an inventory event
	cmd, item int
	loc       []byte
	prod      *Product
}

// Indexes into target.product, in Product field order.
const (
	pName = iota
	pVersion
	pPublisher
	pInstallDate
	pInstallPath
	pLastErrorDesc
)

// msgContext holds the per-message strings shared by all of its events.
type msgContext struct {
	meta                   *Meta
	msg                    *syncml.Message
	received               time.Time
	device, session, msgID string
	made                   bool
}

// Build appends the events of msg to dst by the rules of contract v1 and
// returns the extended slice. Events come in document order, followed by the
// inventory events of targets that reported only descriptive nodes.
func (b *Builder) Build(msg *syncml.Message, m Meta, dst []Event) ([]Event, Stats) {
	var st Stats
	b.targets = b.targets[:0]
	b.ids = b.ids[:0]
	b.ctx = msgContext{meta: &m, msg: msg, received: m.ReceivedAt.UTC().Truncate(time.Millisecond)}
	st.Skipped += msg.Other

	// Pass 1: descriptive nodes per target, from every Results of the message.
	for ci := range msg.Commands {
		c := &msg.Commands[ci]
		if c.Kind != syncml.KindResults {
			continue
		}
		for ii := range c.Items {
			it := &c.Items[ii]
			p := parsePath(itemLoc(it))
			if p.csp == "" || p.target == nil || !p.nodeKnown {
				continue
			}
			t := b.target(p)
			switch p.node {
			case "Status", "LastError", "FinalStatus":
				t.hasState = true
				continue
			case "Name":
				t.product[pName] = it.Data
			case "Version":
				t.product[pVersion] = it.Data
			case "Publisher":
				t.product[pPublisher] = it.Data
			case "InstallDate":
				t.product[pInstallDate] = it.Data
			case "InstallPath":
				t.product[pInstallPath] = it.Data
			case "LastErrorDesc":
				t.product[pLastErrorDesc] = it.Data
			case "UpgradeCode":
				t.text = it.Data
			default:
				continue
			}
			if !t.hasProduct {
				t.hasProduct, t.cmd, t.item, t.loc = true, ci, ii, itemLoc(it)
			}
		}
	}

	// Pass 2: events in document order.
	for ci := range msg.Commands {
		c := &msg.Commands[ci]
		switch c.Kind {
		case syncml.KindAlert:
			dst = b.alert(dst, &st, ci, c)
		case syncml.KindResults:
			dst = b.results(dst, &st, ci, c)
		case syncml.KindStatus:
			dst = b.status(dst, &st, ci, c)
		}
	}

	// Targets that reported only descriptive nodes give one inventory event.
	for i := range b.targets {
		t := &b.targets[i]
		if t.hasState || !t.hasProduct {
			continue
		}
		c := &msg.Commands[t.cmd]
		e := b.newEvent(&dst, KindInventory, t.cmd, t.item, c)
		e.CmdRef = atoi(c.CmdRef)
		e.Scope, e.CSP, e.TargetID = t.scope, t.csp, b.targetID(t)
		if len(t.text) > 0 {
			e.Node = "UpgradeCode"
			e.Text = string(t.text)
		}
		e.LocURI = string(t.loc)
		e.Outcome = string(codes.Unknown)
		e.Product = b.product(t)
		st.Events++
	}
	return dst, st
}

func (b *Builder) alert(dst []Event, st *Stats, ci int, c *syncml.Command) []Event {
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
		e := b.newEvent(&dst, KindAlert, ci, ii, c)
		b.place(e, p, loc)
		switch {
		case install:
			e.AlertType = InstallAlertType
		case len(typ) > 0:
			e.AlertType = string(typ)
		}
		e.Mark = intern(it.Mark, marks)
		b.code(e, codes.SpaceWin32, it.Data)
		b.originalError(e, it.OriginalError)
		st.Events++
	}
	return dst
}

func (b *Builder) results(dst []Event, st *Stats, ci int, c *syncml.Command) []Event {
	for ii := range c.Items {
		it := &c.Items[ii]
		loc := itemLoc(it)
		p := parsePath(loc)
		var space codes.Space
		switch {
		case p.csp == CSPOffice && p.node == "Status":
			space = codes.SpaceOfficeStatus
		case p.csp == CSPOffice && p.node == "FinalStatus":
			space = codes.SpaceOfficeFinal
		case p.csp == CSPOffice && p.node == "CurrentStatus":
			space = codes.SpaceOfficeStatus
		case p.csp == CSPMSI && p.node == "Status":
			space = codes.SpaceMSIStatus
		case p.csp == CSPMSI && p.node == "LastError":
			space = codes.SpaceWin32
		case p.csp != "" && p.target != nil && descriptive(p.node):
			// Taken in pass 1 as product fields: used, not skipped.
			continue
		default:
			st.Skipped++
			continue
		}
		e := b.newEvent(&dst, KindResult, ci, ii, c)
		e.CmdRef = atoi(c.CmdRef)
		b.place(e, p, loc)
		if !b.code(e, space, it.Data) && len(it.Data) > 0 {
			// A chr node (CurrentStatus) reports text, not a number.
			e.Text = string(it.Data)
		}
		b.originalError(e, it.OriginalError)
		st.Events++
	}
	return dst
}

func (b *Builder) status(dst []Event, st *Stats, ci int, c *syncml.Command) []Event {
	loc := c.TargetRef
	if len(loc) == 0 && len(c.Items) > 0 {
		loc = itemLoc(&c.Items[0])
	}
	p := parsePath(loc)
	if p.csp == "" && (bytes.Equal(c.Cmd, cmdSyncHdr) || is2xx(c.Data)) {
		st.Skipped++
		return dst
	}
	e := b.newEvent(&dst, KindStatus, ci, 0, c)
	e.CmdRef = atoi(c.CmdRef)
	b.place(e, p, loc)
	b.code(e, codes.SpaceOMADM, c.Data)
	b.originalError(e, c.OriginalError)
	st.Events++
	return dst
}

// newEvent appends an event with the fields every event of the message
// shares, and its id, and returns a pointer to it.
func (b *Builder) newEvent(dst *[]Event, kind string, ci, ii int, c *syncml.Command) *Event {
	x := &b.ctx
	if !x.made {
		h := &x.msg.Header
		x.device, x.session, x.msgID = string(h.Source), string(h.SessionID), string(h.MsgID)
		x.made = true
	}
	*dst = append(*dst, Event{
		SchemaVersion: SchemaVersion,
		ReceivedAt:    x.received,
		Tenant:        x.meta.Tenant,
		DeviceID:      x.device,
		SessionID:     x.session,
		MsgID:         x.msgID,
		Kind:          kind,
		CmdID:         atoi(c.CmdID),
		Scope:         ScopeDevice,
		MDMReceivedAt: x.meta.MDMReceivedAt,
		GenericAlert:  x.meta.GenericAlert,
	})
	e := &(*dst)[len(*dst)-1]
	e.EventID = b.eventID(kind, ci, ii)
	return e
}

// eventID hashes what identifies an item across retries of the same webhook:
// tenant, device, session, message, the command's position in the message
// and the item's position in the command. Fields are length-prefixed so that
// no two different inputs hash the same bytes.
func (b *Builder) eventID(kind string, ci, ii int) string {
	x := &b.ctx
	s := append(b.scratch[:0], "cspwatch.event.v1"...)
	for _, f := range [...]string{x.meta.Tenant, x.device, x.session, x.msgID, kind} {
		s = binary.AppendUvarint(s, uint64(len(f)))
		s = append(s, f...)
	}
	s = binary.AppendUvarint(s, uint64(ci))
	s = binary.AppendUvarint(s, uint64(ii))
	sum := sha256.Sum256(s)
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	b.scratch = s
	return string(out[:])
}

// place fills scope, CSP, target, node, LocURI and product from a LocURI.
func (b *Builder) place(e *Event, p cspPath, loc []byte) {
	e.LocURI = string(loc)
	if p.csp == "" {
		return
	}
	e.Scope, e.CSP, e.Node = p.scope, p.csp, p.node
	if p.target == nil {
		return
	}
	t := b.target(p)
	e.TargetID = b.targetID(t)
	if t.hasProduct {
		e.Product = b.product(t)
	}
}

// code fills the code fields from a result value read in space. It reports
// false, leaving the outcome unknown, when data is not a number.
func (b *Builder) code(e *Event, space codes.Space, data []byte) bool {
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
		e.CodeHex = string(codes.AppendHex(b.scratch[:0], v))
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
func (b *Builder) originalError(e *Event, raw []byte) {
	if len(raw) == 0 {
		return
	}
	if v, ok := codes.Parse(raw); ok {
		e.OriginalError = string(codes.AppendHex(b.scratch[:0], v))
		return
	}
	e.OriginalError = string(raw)
}

// target finds or adds the message's record of p's target. Targets are few
// per message, so a linear scan beats a map and allocates nothing.
func (b *Builder) target(p cspPath) *target {
	off := len(b.ids)
	b.ids = appendTargetID(b.ids, p.target)
	id := b.ids[off:]
	for i := range b.targets {
		t := &b.targets[i]
		if t.scope == p.scope && t.csp == p.csp && bytes.Equal(b.ids[t.idOff:t.idOff+t.idLen], id) {
			b.ids = b.ids[:off]
			return t
		}
	}
	b.targets = append(b.targets, target{scope: p.scope, csp: p.csp, idOff: off, idLen: len(id)})
	return &b.targets[len(b.targets)-1]
}

func (b *Builder) targetID(t *target) string {
	if t.id == "" && t.idLen > 0 {
		t.id = string(b.ids[t.idOff : t.idOff+t.idLen])
	}
	return t.id
}

// product returns the target's Product, shared by all events of the target
// in this message.
func (b *Builder) product(t *target) *Product {
	if t.prod == nil {
		t.prod = &Product{
			Name:          string(t.product[pName]),
			Version:       string(t.product[pVersion]),
			Publisher:     string(t.product[pPublisher]),
			InstallDate:   string(t.product[pInstallDate]),
			InstallPath:   string(t.product[pInstallPath]),
			LastErrorDesc: string(t.product[pLastErrorDesc]),
		}
	}
	return t.prod
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

// descriptive reports whether node is one pass 1 reads into the product
// fields of its target.
func descriptive(node string) bool {
	switch node {
	case "Name", "Version", "Publisher", "InstallDate", "InstallPath", "LastErrorDesc", "UpgradeCode":
		return true
	}
	return false
}
