// Package normalize builds install events (contract v1, package event) from
// a SyncML message scanned by package syncml, by the rules of DESIGN.md
// ("Which items become events"): from a device's message (Build), generic
// install alerts, Results of the Office and EnterpriseDesktopAppManagement
// CSPs, Status of their commands and failing Status, with the descriptive
// nodes of a target as its product; from the MDM server's message
// (BuildCommands), the commands it sends under those CSPs, with the install
// documents of its Execs.
//
// Event ids are deterministic (a hash of tenant, device, session, message,
// command and item), so a retried webhook yields the same ids. Build
// allocates one string per message and, when the message names products, one
// slice of Products; BuildTransient allocates nothing once a Builder's
// buffers have grown, at the price of events valid only until the next
// build. LocURIs are parsed without allocating. Encoding the events for the
// wire is package eventjson's.
package normalize

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"hash"
	"slices"
	"time"
	"unsafe"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
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

// Stats counts what Build or BuildCommands did with the commands and items
// of one message.
type Stats struct {
	Events int
	// Skipped counts commands and items that do not become events: other
	// commands, items outside the supported CSPs or at nodes that carry no
	// install state, alerts that are not install alerts, 2xx statuses of
	// commands outside the supported CSPs; in a server's message, the
	// answers (Status, Results, Alert) and the commands, items and
	// containers that name no supported CSP.
	Skipped int
	// PayloadRejected counts the install Execs of a server's message whose
	// document (MsiInstallJob, Office Deployment Tool configuration)
	// package installjob rejected: each is still a command event, with
	// PayloadError set.
	PayloadRejected int
}

// InstallAlertType is the generic alert type of a Win32 CSP install result,
// without its Reversed-Domain-Name: prefix.
const InstallAlertType = "com.microsoft.mdm.win32csp_install"

// Builder turns scanned messages into events. A Builder is not safe for
// concurrent use; reuse one per goroutine, so that its scratch space is
// reused too.
//
// Build copies the bytes of every string it sets into one string per
// message, so one Build allocates that string and, when the message names
// products, one slice of Products, besides growing dst. An event kept alive
// keeps the strings of its whole message alive. BuildTransient allocates
// neither, for callers that are done with a message's events before the
// next one.
type Builder struct {
	targets []target
	// text holds, until the end of Build, the bytes of every string of the
	// message's events (target ids, event ids, LocURIs, ...), referenced by
	// span; Build then turns it into one string and slices that, where
	// BuildTransient slices text itself.
	text  []byte
	spans []eventSpans // of the events this Build appended, in order
	// paths are the parsed LocURIs of the items of every Results, which
	// both passes read; pathAt is the next one pass 2 reads.
	paths  []itemPath
	pathAt int
	// prodSpans are the product fields of the targets with a product, in
	// target order.
	prodSpans [][6]span
	scratch   []byte // event id hash input
	prefix    int    // length of the per-message part of scratch
	digest    hash.Hash
	state     []byte // digest's marshalled state after the whole blocks of the prefix
	sum       [sha256.Size]byte
	ctx       msgContext
	// transient is set during BuildTransient: strings alias text and
	// products live in prods, both reused by the next Build.
	transient bool
	prods     []event.Product
	// ordinal[ci] is command ci's position among the message's Status,
	// Results and Alert commands: the position an event id hashes. The
	// scanner also lists the server's commands (Replace, Get, Atomic, ...),
	// which must not shift the ids of the events after them, or an event
	// redelivered across an upgrade would be stored under two ids.
	ordinal []int32
	// holds[ci] is what container ci holds, for BuildCommands.
	holds []holding
}

// itemPath is an item's parsed LocURI and the index of its target, or -1
// when none was looked up.
type itemPath struct {
	p      cspPath
	target int
}

// span locates a string in Builder.text; a zero span is the empty string.
type span struct{ off, n int }

// eventSpans are the strings of one event that Build resolves at its end.
type eventSpans struct {
	id, loc, hex, text, orig, alertType span
	cmdIDRaw, msgRef, cmdRefRaw         span
	target                              int // index into targets, or -1
}

// target gathers what one message says about one (scope, csp, target).
type target struct {
	scope, csp string
	raw        []byte // the target segment as first sent, in msg
	id         span   // canonical id
	// tail of raw and of the id, which tell most targets apart.
	rawTail, idTail uint64
	product         [6][]byte
	hasProduct      bool
	hasState        bool // a status-bearing node was reported
	text            []byte
	// first descriptive item, the anchor of an inventory event
	cmd, item int
	loc       []byte
	prod      *event.Product // set after pass 1 when hasProduct; filled at the end of Build
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

// msgContext holds the per-message values shared by all of its events.
type msgContext struct {
	meta Meta // a copy: a pointer to Build's argument would move it to the heap
	msg  *syncml.Message
	// device is the device id: SyncHdr/Source of a device's message,
	// SyncHdr/Target of a server's.
	device   []byte
	received time.Time
	made     bool // scratch holds the per-message part of the event id input
	hashed   bool // state holds the digest of the whole blocks of that part
}

// Build appends the events of msg to dst by the rules of contract v1 and
// returns the extended slice. Events come in document order, followed by the
// inventory events of targets that reported only descriptive nodes. The
// events own their strings and products: they stay valid for as long as
// the caller keeps them, whatever the Builder does next.
func (b *Builder) Build(msg *syncml.Message, m Meta, dst []event.Event) ([]event.Event, Stats) {
	b.transient = false
	return b.build(msg, m, dst)
}

// BuildTransient is Build for callers that are done with the events of one
// message before they build the next, as ingest is once it has published
// them: it appends the same events, but their strings and products live in
// memory the Builder owns and overwrites on its next Build or
// BuildTransient. Until then they are immutable; after it, they silently
// hold other bytes, so neither the events nor any of their strings (a map
// key, a log field, a retained EventID) may outlive that call. Copy what
// must (strings.Clone). In exchange BuildTransient allocates nothing once
// the Builder's buffers have grown to the largest message, so steady-state
// ingest gives the garbage collector nothing to do.
func (b *Builder) BuildTransient(msg *syncml.Message, m Meta, dst []event.Event) ([]event.Event, Stats) {
	b.transient = true
	return b.build(msg, m, dst)
}

func (b *Builder) build(msg *syncml.Message, m Meta, dst []event.Event) ([]event.Event, Stats) {
	var st Stats
	b.targets = b.targets[:0]
	b.text = b.text[:0]
	b.spans = b.spans[:0]
	b.paths, b.pathAt = b.paths[:0], 0
	base := len(dst)
	b.ctx = msgContext{meta: m, msg: msg, device: msg.Header.Source, received: m.ReceivedAt.UTC().Truncate(time.Millisecond)}
	st.Skipped += msg.Other
	b.ordinal = b.ordinal[:0]
	var answers int32
	for i := range msg.Commands {
		b.ordinal = append(b.ordinal, answers)
		switch k := msg.Commands[i].Kind; {
		case k == syncml.KindStatus || k == syncml.KindResults || k == syncml.KindAlert:
			answers++
		case !k.Container():
			st.Skipped++ // a server command in a device message, such as the DevInfo Replace
		}
	}

	// Pass 1: descriptive nodes per target, from every Results of the message.
	for ci := range msg.Commands {
		c := &msg.Commands[ci]
		if c.Kind != syncml.KindResults {
			continue
		}
		for ii := range c.Items {
			it := &c.Items[ii]
			b.paths = append(b.paths, itemPath{target: -1})
			ip := &b.paths[len(b.paths)-1]
			parsePathTo(&ip.p, itemLoc(it))
			p := &ip.p
			if p.csp == "" || p.target == nil || !p.nodeKnown {
				continue
			}
			ip.target = b.target(p)
			t := &b.targets[ip.target]
			switch p.node {
			case "Status", "LastError", "FinalStatus":
				t.hasState = true
				continue
			}
			if len(it.Data) == 0 {
				// "No value yet" (<Data/>): no product field, so neither an
				// empty product object nor an inventory event of nothing.
				continue
			}
			switch p.node {
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

	// Products live in one slice per message; their strings are set at the end.
	if n := b.withProduct(); n > 0 {
		var prods []event.Product
		if b.transient {
			if cap(b.prods) < n {
				b.prods = make([]event.Product, 2*n)
			}
			prods = b.prods[:n]
			clear(prods)
		} else {
			prods = make([]event.Product, n)
		}
		for i := range b.targets {
			if t := &b.targets[i]; t.hasProduct {
				t.prod, prods = &prods[0], prods[1:]
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
		e, sp := b.newEvent(&dst, event.KindInventory, t.cmd, t.item, c)
		b.refs(e, sp, c)
		e.Scope, e.CSP = t.scope, t.csp
		sp.target = i
		if len(t.text) > 0 {
			e.Node = "UpgradeCode"
			sp.text = b.add(t.text)
		}
		sp.loc = b.add(t.loc)
		e.Outcome = string(codes.Unknown)
		e.Product = t.prod
		st.Events++
	}
	b.resolve(dst[base:])
	return dst, st
}

// withProduct counts the targets that reported descriptive nodes.
func (b *Builder) withProduct() int {
	n := 0
	for i := range b.targets {
		if b.targets[i].hasProduct {
			n++
		}
	}
	return n
}

// add copies s to the message's text and returns where it is.
func (b *Builder) add(s []byte) span {
	off := len(b.text)
	b.text = append(b.text, s...)
	return span{off, len(s)}
}

// resolve sets the strings of events, the events this Build appended, and of
// their products, from one string holding the message's text.
func (b *Builder) resolve(events []event.Event) {
	if len(events) == 0 {
		return
	}
	b.prodSpans = b.prodSpans[:0]
	for i := range b.targets {
		t := &b.targets[i]
		if t.prod == nil {
			continue
		}
		var ps [6]span
		for f := range t.product {
			ps[f] = b.add(t.product[f])
		}
		b.prodSpans = append(b.prodSpans, ps)
	}
	h := &b.ctx.msg.Header
	device, session, msgID := b.add(b.ctx.device), b.add(h.SessionID), b.add(h.MsgID)
	var s string
	if b.transient {
		// The caller promised to be done with these strings before the
		// next Build writes to text again (see BuildTransient).
		s = unsafe.String(unsafe.SliceData(b.text), len(b.text))
	} else {
		s = string(b.text)
	}
	at := func(sp span) string { return s[sp.off : sp.off+sp.n] }
	k := 0
	for i := range b.targets {
		t := &b.targets[i]
		if p := t.prod; p != nil {
			ps := &b.prodSpans[k]
			k++
			p.Name, p.Version, p.Publisher = at(ps[pName]), at(ps[pVersion]), at(ps[pPublisher])
			p.InstallDate, p.InstallPath, p.LastErrorDesc = at(ps[pInstallDate]), at(ps[pInstallPath]), at(ps[pLastErrorDesc])
		}
	}
	ds, ss, ms := at(device), at(session), at(msgID)
	for i := range events {
		e, sp := &events[i], &b.spans[i]
		e.DeviceID, e.SessionID, e.MsgID = ds, ss, ms
		e.EventID, e.LocURI = at(sp.id), at(sp.loc)
		e.CodeHex, e.Text, e.OriginalError = at(sp.hex), at(sp.text), at(sp.orig)
		e.CmdIDRaw, e.MsgRef, e.CmdRefRaw = at(sp.cmdIDRaw), at(sp.msgRef), at(sp.cmdRefRaw)
		if sp.alertType.n > 0 {
			e.AlertType = at(sp.alertType)
		}
		if sp.target >= 0 {
			e.TargetID = at(b.targets[sp.target].id)
		}
	}
}

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

// eventID hashes what identifies an item across retries of the same webhook:
// tenant, device, session, message, the command's position in the message
// and the item's position in the command. Fields are length-prefixed so that
// no two different inputs hash the same bytes. The hex id goes to the text.
func (b *Builder) eventID(kind string, ci, ii int) span {
	x := &b.ctx
	if !x.made {
		h := &x.msg.Header
		s := append(b.scratch[:0], "cspwatch.event.v1"...)
		s = appendField(s, x.meta.Tenant)
		s = appendField(s, x.device)
		s = appendField(s, h.SessionID)
		s = appendField(s, h.MsgID)
		b.scratch, b.prefix, x.made = s, len(s), true
	}
	s := appendField(b.scratch[:b.prefix], kind)
	s = binary.AppendUvarint(s, uint64(b.ordinal[ci]))
	s = binary.AppendUvarint(s, uint64(ii))
	b.scratch = s
	off := len(b.text)
	b.text = appendHex(b.text, b.hash(s)[:16])
	return span{off, len(b.text) - off}
}

// appendHex is hex.AppendEncode, growing dst once.
func appendHex(dst, src []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 2*len(src))[:n+2*len(src)]
	out := dst[n:]
	i := 0
	for ; i+4 <= len(src); i += 4 {
		binary.BigEndian.PutUint64(out[2*i:], uint64(hexPairs[src[i]])<<48|uint64(hexPairs[src[i+1]])<<32|
			uint64(hexPairs[src[i+2]])<<16|uint64(hexPairs[src[i+3]]))
	}
	for ; i < len(src); i++ {
		binary.BigEndian.PutUint16(out[2*i:], hexPairs[src[i]])
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// hexPairs holds the two hex digits of every byte.
var hexPairs = func() (t [256]uint16) {
	for c := range t {
		t[c] = uint16(hexDigits[c>>4])<<8 | uint16(hexDigits[c&0xf])
	}
	return t
}()

// hash is sha256.Sum256(s), where s starts with the per-message part of
// scratch. Device ids make that part longer than a SHA-256 block, which
// every event of the message would compress again: hash compresses the
// message's whole blocks once and resumes from that state for each event.
func (b *Builder) hash(s []byte) []byte {
	x := &b.ctx
	const block = 64
	cut := b.prefix / block * block
	if cut == 0 {
		b.sum = sha256.Sum256(s)
		return b.sum[:]
	}
	if b.digest == nil {
		b.digest = sha256.New()
	}
	d := b.digest
	if !x.hashed {
		d.Reset()
		d.Write(s[:cut])
		b.state, _ = d.(encoding.BinaryAppender).AppendBinary(b.state[:0])
		x.hashed = true
	} else if err := d.(encoding.BinaryUnmarshaler).UnmarshalBinary(b.state); err != nil {
		// The state is what this digest marshalled: it always unmarshals.
		panic(err)
	}
	d.Write(s[cut:])
	return d.Sum(b.sum[:0])
}

func appendField[S string | []byte](dst []byte, f S) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(f)))
	return append(dst, f...)
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

// target finds or adds the message's record of p's target and returns its
// index. Targets are few per message, so a linear scan beats a map and
// allocates nothing.
func (b *Builder) target(p *cspPath) int {
	// The items of one target usually spell it alike: compare as sent
	// first, canonicalising only a spelling not seen yet. Each comparison
	// starts with the length and last eight bytes, where GUIDs differ. The
	// items of one target tend to follow each other: newest first.
	raw, rawTail := p.target, tail(p.target)
	for i := len(b.targets) - 1; i >= 0; i-- {
		t := &b.targets[i]
		if t.rawTail == rawTail && len(t.raw) == len(raw) && bytes.Equal(t.raw, raw) &&
			t.scope == p.scope && t.csp == p.csp {
			return i
		}
	}
	off := len(b.text)
	b.text = appendTargetID(b.text, raw)
	id := b.text[off:]
	idTail := tail(id)
	for i := range b.targets {
		t := &b.targets[i]
		if t.idTail == idTail && t.id.n == len(id) && bytes.Equal(b.text[t.id.off:t.id.off+t.id.n], id) &&
			t.scope == p.scope && t.csp == p.csp {
			b.text = b.text[:off]
			return i
		}
	}
	b.targets = append(b.targets, target{scope: p.scope, csp: p.csp, raw: raw, rawTail: rawTail,
		id: span{off, len(id)}, idTail: idTail})
	return len(b.targets) - 1
}

// tail is the last eight bytes of s, or all of them when fewer, as a number.
func tail(s []byte) uint64 {
	if len(s) >= 8 {
		return binary.LittleEndian.Uint64(s[len(s)-8:])
	}
	var x uint64
	for _, c := range s {
		x = x<<8 | uint64(c)
	}
	return x
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
