package normalize

import (
	"bytes"
	"errors"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/installjob"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// BuildCommands appends the command events of msg, a message the MDM server
// sent to a device, to dst and returns the extended slice. The device is
// SyncHdr/Target/LocURI (SyncHdr/Source is the server's URL); a message
// without one yields no event, every command counted as skipped (ingest
// refuses such a message before building).
//
// Each item of an Add, Replace, Exec, Get or Delete, also inside an Atomic
// or Sequence, whose Target LocURI lies under a supported CSP gives one
// event of kind command, outcome requested, with the command's name and
// CmdID (as sent in cmd_id_raw), and the scope, CSP, target, node and
// LocURI of the item. An Atomic or Sequence that holds such a command, at
// any depth, gives one event of its own, before those of its commands, with
// csp and target_id only when all the commands it holds name the same CSP
// and target. The document of an Exec of an MSI's DownloadInstall fills
// msi_job, that of an Exec of an Office installation's install node
// office_config; a document package installjob rejects leaves them nil,
// sets payload_error to the reason and counts in Stats.PayloadRejected, and
// the command event stays. The server's own answers in the message
// (Status, Results, Alert) are skipped.
//
// Event ids hash tenant, device, session, message, the kind "command", the
// command's position among the message's server commands (containers
// included) and the item's position in the command, so that the same
// message posted twice gives the same ids. Events own their strings, as
// Build's do; a server's message is not ingest's hot path, and the parsed
// documents allocate anyway.
func (b *Builder) BuildCommands(msg *syncml.Message, m Meta, dst []event.Event) ([]event.Event, Stats) {
	b.transient = false
	st := b.begin(msg, &m, msg.Header.Target)
	base := len(dst)
	if len(msg.Header.Target) == 0 {
		st.Skipped += len(msg.Commands)
		return dst, st
	}
	// The position an event id hashes: among the server's commands.
	var pos int32
	for i := range msg.Commands {
		b.ordinal = append(b.ordinal, pos)
		if serverCommand(msg.Commands[i].Kind) {
			pos++
		}
	}

	// Pass 1: the path of every item of a server command, and what each
	// container holds, at any depth.
	b.holds = b.holds[:0]
	for range msg.Commands {
		b.holds = append(b.holds, holding{target: -1})
	}
	for ci := range msg.Commands {
		c := &msg.Commands[ci]
		if !serverCommand(c.Kind) || c.Kind.Container() {
			continue
		}
		for ii := range c.Items {
			b.paths = append(b.paths, itemPath{target: -1})
			ip := &b.paths[len(b.paths)-1]
			parsePathTo(&ip.p, targetLoc(&c.Items[ii]))
			if ip.p.csp == "" {
				continue
			}
			if ip.p.target != nil {
				ip.target = b.target(&ip.p)
			}
			for pi := c.Parent; pi >= 0; pi = msg.Commands[pi].Parent {
				b.holds[pi].add(b, &ip.p, ip.target)
			}
		}
	}

	// Pass 2: events in document order, a container's before its commands'.
	for ci := range msg.Commands {
		c := &msg.Commands[ci]
		switch {
		case !serverCommand(c.Kind):
			st.Skipped++ // the server's answer to the device's previous message
		case c.Kind.Container():
			h := &b.holds[ci]
			if h.n == 0 {
				st.Skipped++
				continue
			}
			e, sp := b.newEvent(&dst, event.KindCommand, ci, 0, c)
			requested(e, c)
			if h.scope != "" {
				e.Scope = h.scope
			}
			if !h.mixed {
				e.CSP = h.csp
				sp.target = h.target
			}
			st.Events++
		default:
			if len(c.Items) == 0 {
				st.Skipped++
			}
			for ii := range c.Items {
				it := &c.Items[ii]
				ip := &b.paths[b.pathAt]
				b.pathAt++
				p := &ip.p
				if p.csp == "" {
					st.Skipped++
					continue
				}
				e, sp := b.newEvent(&dst, event.KindCommand, ci, ii, c)
				requested(e, c)
				b.place(e, sp, p, ip.target, targetLoc(it))
				if c.Kind == syncml.KindExec {
					b.payload(e, &st, p, it.Data)
				}
				st.Events++
			}
		}
	}
	b.resolve(dst[base:])
	return dst, st
}

// holding is what one Atomic or Sequence holds: how many items under a
// supported CSP, and the scope, CSP and target they name while they agree.
type holding struct {
	n          int
	scope, csp string
	target     int // index into targets, or -1
	// mixed: the items name more than one (CSP, target); mixedScope: more
	// than one scope.
	mixed, mixedScope bool
}

// add counts an item whose LocURI parsed to p, with target index ti.
func (h *holding) add(b *Builder, p *cspPath, ti int) {
	if h.n == 0 {
		h.n, h.scope, h.csp, h.target = 1, p.scope, p.csp, ti
		return
	}
	h.n++
	if p.scope != h.scope {
		h.mixedScope = true
	}
	if p.csp != h.csp || !b.sameTargetID(ti, h.target) {
		h.mixed = true
	}
	if h.mixedScope {
		h.scope = ""
	}
}

// sameTargetID reports whether targets i and j (indexes, or -1 for none)
// have the same canonical id, whatever their scope.
func (b *Builder) sameTargetID(i, j int) bool {
	if i < 0 || j < 0 {
		return i == j
	}
	a, c := b.targets[i].id, b.targets[j].id
	return bytes.Equal(b.text[a.off:a.off+a.n], b.text[c.off:c.off+c.n])
}

// requested fills what every command event has: the command and the
// outcome requested.
func requested(e *event.Event, c *syncml.Command) {
	e.Command = commandName(c.Kind)
	e.Outcome = event.OutcomeRequested
}

// payload parses the document of an install Exec at p: an MsiInstallJob
// for an MSI's DownloadInstall, an Office Deployment Tool configuration for
// an Office installation's install node. Other Execs carry none.
func (b *Builder) payload(e *event.Event, st *Stats, p *cspPath, data []byte) {
	var err error
	switch {
	case p.csp == event.CSPMSI && p.node == "DownloadInstall" && p.target != nil:
		var j installjob.MSIJob
		if j, err = installjob.ParseMSIJob(data); err == nil {
			e.MSIJob = &event.MSIJob{
				ID: j.ID, ProductVersion: j.ProductVersion, ContentURLs: j.ContentURLs, FileName: j.FileName,
				FileHash: j.FileHash, CommandLine: j.CommandLine, TimeoutMin: int64(j.TimeoutMinutes),
				RetryCount: int64(j.RetryCount), RetryIntervalMin: int64(j.RetryIntervalMinutes),
			}
		}
	case p.csp == event.CSPOffice && p.node == "Install" && p.target != nil:
		var c installjob.OfficeConfig
		if c, err = installjob.ParseOfficeConfig(data); err == nil {
			e.OfficeConfig = &event.OfficeConfig{
				ProductIDs: c.ProductIDs, Channel: c.Channel, Version: c.Version, Edition: c.Edition,
				Languages: c.Languages, Remove: c.Remove,
			}
		}
	default:
		return
	}
	if err != nil {
		e.PayloadError = payloadReason(err)
		st.PayloadRejected++
	}
}

// payloadReason is the payload_error of a document the installjob parsers
// rejected with err: its stable reason.
func payloadReason(err error) string {
	var je *installjob.Error
	if errors.As(err, &je) {
		return je.Reason
	}
	return "other"
}

// serverCommand reports whether k is a command a server sends: Add,
// Replace, Exec, Get, Delete, or an Atomic or Sequence.
func serverCommand(k syncml.Kind) bool {
	return commandName(k) != ""
}

// commandName is the command of an event from a command of kind k, one of
// package event's constants, or "" when k is not a server's command.
func commandName(k syncml.Kind) string {
	return commandNames[k]
}

var commandNames = map[syncml.Kind]string{
	syncml.KindAdd:      event.CommandAdd,
	syncml.KindReplace:  event.CommandReplace,
	syncml.KindExec:     event.CommandExec,
	syncml.KindGet:      event.CommandGet,
	syncml.KindDelete:   event.CommandDelete,
	syncml.KindAtomic:   event.CommandAtomic,
	syncml.KindSequence: event.CommandSequence,
}

// targetLoc is the LocURI a server's command acts on: its Target, or its
// Source when it has no Target.
func targetLoc(it *syncml.Item) []byte {
	if len(it.Target) > 0 {
		return it.Target
	}
	return it.Source
}
