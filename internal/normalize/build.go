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
	"crypto/sha256"
	"hash"
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

// begin readies b for msg, whose device id is device, and returns the
// Stats of the message so far: its elements the scanner passed over. m is
// a pointer: Meta is large, and by value it was copied once more per message.
func (b *Builder) begin(msg *syncml.Message, m *Meta, device []byte) Stats {
	b.targets = b.targets[:0]
	b.text = b.text[:0]
	b.spans = b.spans[:0]
	b.paths, b.pathAt = b.paths[:0], 0
	b.ordinal = b.ordinal[:0]
	b.ctx = msgContext{meta: *m, msg: msg, device: device, received: m.ReceivedAt.UTC().Truncate(time.Millisecond)}
	return Stats{Skipped: msg.Other}
}

// build is Build and BuildTransient: two passes over the commands of a
// device's message, the first gathering each target's product, the second
// appending the events in document order.
func (b *Builder) build(msg *syncml.Message, m Meta, dst []event.Event) ([]event.Event, Stats) {
	st := b.begin(msg, &m, msg.Header.Source)
	base := len(dst)
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
			if p.node == "UpgradeCode" {
				t.text = it.Data
			} else if f := productField(p.node); f >= 0 {
				t.product[f] = it.Data
			} else {
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
