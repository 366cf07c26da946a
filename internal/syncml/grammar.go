package syncml

import (
	"encoding/binary"
	"strings"
)

// This file is the SyncML grammar the scanner extracts by: which elements may
// stand where, and what each one means (a role). It is written once, in the
// table grammar; the name lookup of the general path and the 8-byte tag table
// of the fast path (fastTags) are both read from it.

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
	rFinal // Final: sets Message.Final, content skipped
	rOther // an element of SyncBody or a container that is counted in Message.Other, content skipped

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

// rootName is the local name the root element must have (OMA-DM 1.2
// Representation Protocol, the SyncML DTD).
const rootName = "SyncML"

// element is what the grammar says about the children of an element of one
// role.
type element struct {
	// children are the child names that have a role of their own, matched
	// on the local name. Their order is the fast path's order of compares,
	// so the most frequent come first, and a name must not follow a name it
	// starts with (checked when fastTags is built).
	children []child
	// other is the role of a child named otherwise.
	other uint8
}

// child is one known child name: its role and, for a command, the Kind of
// the Command it starts.
type child struct {
	name string
	role uint8
	kind Kind
	key  uint64 // nameKey(name), set at init
	key2 uint64 // nameKey(name[8:]) for a name longer than eight bytes
}

// nameKey packs the first eight bytes of a name little-endian, zero-padded,
// so that lookup compares names as integers; the fast path's keys are the
// same values.
func nameKey[T string | []byte](name T) uint64 {
	var k uint64
	for i := min(len(name), 8) - 1; i >= 0; i-- {
		k = k<<8 | uint64(name[i])
	}
	return k
}

func init() {
	for parent := range grammar {
		for i := range grammar[parent].children {
			c := &grammar[parent].children[i]
			c.key = nameKey(c.name)
			if len(c.name) > 8 {
				c.key2 = nameKey(c.name[8:])
			}
		}
	}
}

// commands are the names extracted as commands in SyncBody, Atomic and
// Sequence, device traffic first (see element.children).
var commands = []child{
	{name: "Status", role: rCmd, kind: KindStatus},
	{name: "Results", role: rCmd, kind: KindResults},
	{name: "Alert", role: rCmd, kind: KindAlert},
	{name: "Replace", role: rCmd, kind: KindReplace},
	{name: "Exec", role: rCmd, kind: KindExec},
	{name: "Get", role: rCmd, kind: KindGet},
	{name: "Add", role: rCmd, kind: KindAdd},
	{name: "Delete", role: rCmd, kind: KindDelete},
	{name: "Atomic", role: rCont, kind: KindAtomic},
	{name: "Sequence", role: rCont, kind: KindSequence},
}

// commandMeta are the Meta children read from a command's or a container's
// Meta (the MetInf DTD names; xmlns="syncml:metinf" is ignored).
var commandMeta = []child{{name: "Format", role: vCmdFormat}, {name: "Type", role: vCmdType}}

// grammar is the SyncML grammar, indexed by the role of the parent. Roles
// without an entry have no children of their own: everything under them is
// skipped. The root (rootName) is decided by the scanner, which has no
// parent for it.
var grammar = [rVal]element{
	rRoot: {children: []child{{name: "SyncHdr", role: rHdr}, {name: "SyncBody", role: rBody}}},
	rHdr: {children: []child{
		{name: "VerDTD", role: vVerDTD}, {name: "VerProto", role: vVerProto}, {name: "SessionID", role: vSessionID},
		{name: "MsgID", role: vMsgID}, {name: "Target", role: rHdrTarget}, {name: "Source", role: rHdrSource},
	}},
	rHdrTarget: {children: []child{{name: "LocURI", role: vHdrTarget}}},
	rHdrSource: {children: []child{{name: "LocURI", role: vHdrSource}}},
	// SyncBody's own CmdID and Meta mean nothing; NoResp and Cred are
	// ignored rather than counted.
	rBody: {children: append(commands[:len(commands):len(commands)],
		child{name: "Final", role: rFinal}, child{name: "CmdID", role: rSkip}, child{name: "Meta", role: rSkip},
		child{name: "NoResp", role: rSkip}, child{name: "Cred", role: rSkip}), other: rOther},
	// A container's CmdID and Meta are its own, also after commands it holds.
	rCont: {children: append(commands[:len(commands):len(commands)],
		child{name: "CmdID", role: vContCmdID}, child{name: "Meta", role: rContMeta},
		child{name: "Final", role: rFinal}, child{name: "NoResp", role: rSkip}, child{name: "Cred", role: rSkip}), other: rOther},
	// Every command kind reads the same children, defined by the schema for
	// that kind or not.
	rCmd: {children: []child{
		{name: "CmdID", role: vCmdID}, {name: "Data", role: vCmdData}, {name: "Item", role: rItem},
		{name: "MsgRef", role: vMsgRef}, {name: "CmdRef", role: vCmdRef}, {name: "Cmd", role: vCmd}, {name: "Meta", role: rCmdMeta},
		{name: "TargetRef", role: vTargetRef}, {name: "SourceRef", role: vSourceRef},
	}},
	rCmdMeta:  {children: commandMeta},
	rContMeta: {children: commandMeta},
	// Format, Type and Mark directly under Item are the defaults for what
	// Item/Meta leaves empty (Windows clients write both forms).
	rItem: {children: []child{
		{name: "Source", role: rItemSource}, {name: "Meta", role: rItemMeta}, {name: "Data", role: vItemData}, {name: "Target", role: rItemTarget},
		{name: "Format", role: vDirFormat}, {name: "Type", role: vDirType}, {name: "Mark", role: vDirMark},
	}},
	rItemSource: {children: []child{{name: "LocURI", role: vItemSource}}},
	rItemTarget: {children: []child{{name: "LocURI", role: vItemTarget}}},
	rItemMeta:   {children: []child{{name: "Format", role: vItemFormat}, {name: "Type", role: vItemType}, {name: "Mark", role: vItemMark}}},
}

// words is nameKey(b) for a slice of the input: when the input goes on for
// eight bytes, one load masked to the name's length instead of a byte loop.
func words(b []byte) uint64 {
	if cap(b) < 8 {
		return nameKey(b)
	}
	k := binary.LittleEndian.Uint64(b[:8])
	if len(b) < 8 {
		k &= 1<<(8*len(b)) - 1
	}
	return k
}

// lookup returns the role of a child named local (the local name) of an
// element of role parent, and the Kind of the Command it starts. It costs
// two integer compares per known child of parent: compared as strings, the
// names made lookup the largest cost of the general path.
func lookup(parent uint8, local []byte) (uint8, Kind) {
	if parent >= rVal {
		// A child of a value element: the value becomes raw markup.
		return rSkip, 0
	}
	e := &grammar[parent]
	k, k2 := words(local), uint64(0)
	if len(local) > 8 {
		k2 = words(local[8:])
	}
	for i := range e.children {
		if c := &e.children[i]; c.key == k && c.key2 == k2 && len(c.name) == len(local) &&
			(len(local) <= 16 || string(local[16:]) == c.name[16:]) {
			return c.role, c.kind
		}
	}
	return e.other, 0
}

// Attribute captures: which attribute of an element's start tag is kept.
const (
	capNone          uint8 = iota
	capXmlns               // the root's namespace, for Message.Version
	capOriginalError       // Data's msft:originalerror (any prefix but xmlns)
)

// capture is, per role, the attribute an element of that role keeps.
var capture = [256]uint8{
	rRoot:     capXmlns,
	vCmdData:  capOriginalError,
	vItemData: capOriginalError,
}

// captures returns the attribute an element of the given role keeps. It is
// a table load, not a switch: startTag asks on every element.
func captures(role uint8) uint8 { return capture[role] }

// fastTag is a child element name that fast recognises with one 8-byte
// compare: the name and the byte after it, which must end the name ('>',
// '/' or a space) for the compare to count.
type fastTag struct {
	key, mask uint64
	n         uint8 // name length
	role      uint8
	kind      Kind // for commands under SyncBody, Atomic or Sequence, 0 otherwise
}

// fastTags holds, per parent role, the grammar's children of seven bytes or
// fewer in grammar order, for every role below the root. The root's
// children (whose order the general path checks: SyncBody after SyncHdr)
// and longer or prefixed names take the general path, with the same result.
var fastTags = func() (t [rVal][]fastTag) {
	for parent := rHdr; parent < rVal; parent++ {
		kids := grammar[parent].children
		for i, c := range kids {
			if len(c.name) > 7 {
				continue
			}
			for _, later := range kids[i+1:] {
				if len(later.name) <= 7 && strings.HasPrefix(later.name, c.name) {
					// fast stops at the first key that matches.
					panic("syncml: grammar lists " + later.name + " after " + c.name + ", which hides it from the fast path")
				}
			}
			t[parent] = append(t[parent], fastTag{
				key: nameKey(c.name), mask: uint64(1)<<(8*len(c.name)) - 1,
				n: uint8(len(c.name)), role: c.role, kind: c.kind,
			})
		}
	}
	return t
}()

// fast returns the known child of an element of role parent whose name
// starts at data[q], or nil. It costs one 8-byte load and one compare per
// candidate.
func (l *lexer) fast(parent uint8, q int) *fastTag {
	if parent >= rVal || q+8 > len(l.data) || l.maxName < 7 {
		return nil
	}
	w := binary.LittleEndian.Uint64(l.data[q:])
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
