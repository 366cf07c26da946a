// Package syncml is a streaming scanner for OMA-DM 1.2 (SyncML) messages as
// Windows MDM clients send them and as MDM servers send them to devices. It
// extracts the SyncHdr facts and, in document order, every command a device
// answers with (Status, Results, Alert), every command a server sends (Add,
// Replace, Exec, Get, Delete) and the Atomic and Sequence containers, with
// their items, without building a DOM and without encoding/xml.
//
// The scanner is built for the ingest hot path: a Scanner reused across
// messages performs no allocation per message once its buffers have grown to
// the size of the largest message seen. Every byte slice it returns aliases
// either the input or the Scanner's own buffers and is valid only until the
// next call to Parse on the same Scanner.
//
// What is extracted, precisely:
//   - Elements are matched on their local name, whatever the prefix or
//     namespace.
//   - A command is a Status, Results, Alert, Add, Replace, Exec, Get or
//     Delete element, or an Atomic or Sequence container, standing in
//     SyncBody or in an Atomic or Sequence at any depth. Each becomes one
//     Command, in the order of their start tags (a container comes before
//     the commands it holds), with Parent the index of the innermost
//     enclosing Atomic or Sequence (-1 directly in SyncBody), whatever the
//     kind.
//   - All kinds but the containers read the same children: CmdID, MsgRef,
//     CmdRef, Cmd, TargetRef, SourceRef, Data (with its originalerror
//     attribute), Meta/Format, Meta/Type and Item; a field that the OMA-DM
//     schema does not define for a kind (a MsgRef in an Exec) is read all
//     the same when present. An Item reads Source/LocURI, Target/LocURI,
//     Meta/Format, Meta/Type, Meta/Mark, Data (with originalerror) and a
//     Format, Type or Mark standing directly under Item. Other children of
//     commands and items are skipped.
//   - Atomic and Sequence read their own CmdID and Meta/Format, Meta/Type;
//     every other field of theirs stays empty and they have no items.
//   - Final (in SyncBody or a container) sets Message.Final; CmdID and Meta
//     directly in SyncBody, and NoResp and Cred directly in SyncBody or a
//     container, are ignored; every other element there (Sync, Map, Copy,
//     Put, Search, unknown names) counts in Message.Other and its content is
//     skipped without decoding.
//   - A value is the concatenation of its text (references decoded) and
//     CDATA sections (verbatim), comments and PIs dropped, with "\r\n" and
//     "\r" turned into "\n" as XML requires, then trimmed of XML
//     whitespace. A value element holding child elements yields its raw
//     inner markup, trimmed. A value made of one piece that needs no
//     decoding aliases the input; others are decoded into a scanner buffer.
//     So an Exec's Data holding an entity-escaped XML document
//     (&lt;MsiInstallJob …&gt;) yields the document decoded, one in CDATA
//     yields it verbatim, and one written as child elements yields that
//     markup as it stands in the message.
//   - A repeated field keeps its last occurrence, except TargetRef and
//     SourceRef (first), and originalerror (the first matching attribute of
//     the last Data).
//
// What is rejected: see Reason. Deliberate leniencies, where a validating
// parser would reject: non-ASCII name characters are not checked against the
// XML name classes, C0 control characters in text are not rejected, the
// encoding named by the XML declaration is ignored (the bytes must be UTF-8,
// or UTF-16 recognised from a BOM or a leading '<' paired with a zero byte),
// and unbound namespace prefixes are accepted. None of these can change what
// a well-formed message yields.
package syncml

import (
	"fmt"
)

// Kind is the SyncML command an extracted Command came from.
type Kind uint8

const (
	// KindStatus is a <Status> command: the device's answer to one server
	// command (or to the server's SyncHdr), or the server's answer to the
	// device's previous message.
	KindStatus Kind = iota + 1
	// KindResults is a <Results> command: the values of nodes the server read with Get.
	KindResults
	// KindAlert is an <Alert> command, including generic alerts (1224, 1226).
	KindAlert
	// KindAdd is an <Add> command: the server creates nodes (Item/Target/LocURI)
	// with the values in Item/Data.
	KindAdd
	// KindReplace is a <Replace> command: the server sets the values of nodes;
	// a device sends one with its DevInfo items at session start.
	KindReplace
	// KindExec is an <Exec> command: the server runs a node such as
	// .../MSI/{ProductID}/DownloadInstall or Office/Installation/{id}/install;
	// Item/Data is the argument, often an embedded XML document.
	KindExec
	// KindGet is a <Get> command: the server reads nodes (Item/Target/LocURI).
	KindGet
	// KindDelete is a <Delete> command: the server deletes nodes.
	KindDelete
	// KindAtomic is an <Atomic> container. Its Command carries the
	// container's CmdID and Meta; the commands it holds follow it in
	// Message.Commands with Parent set to its index. A device answers the
	// whole with one Status whose Cmd is "Atomic".
	KindAtomic
	// KindSequence is a <Sequence> container, recorded as KindAtomic is.
	KindSequence
)

func (k Kind) String() string {
	switch k {
	case KindStatus:
		return "Status"
	case KindResults:
		return "Results"
	case KindAlert:
		return "Alert"
	case KindAdd:
		return "Add"
	case KindReplace:
		return "Replace"
	case KindExec:
		return "Exec"
	case KindGet:
		return "Get"
	case KindDelete:
		return "Delete"
	case KindAtomic:
		return "Atomic"
	case KindSequence:
		return "Sequence"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Container reports whether k is Atomic or Sequence.
func (k Kind) Container() bool { return k == KindAtomic || k == KindSequence }

// Header holds the SyncHdr facts. Values are trimmed of surrounding XML
// whitespace and entity-decoded.
type Header struct {
	VerDTD    []byte
	VerProto  []byte
	SessionID []byte
	MsgID     []byte
	// Target is SyncHdr/Target/LocURI: the server URL in a device's message,
	// the device id in a server's message.
	Target []byte
	// Source is SyncHdr/Source/LocURI: the device id in a device's message,
	// the server URL in a server's message. Parse rejects a message where it
	// is missing or empty.
	Source []byte
}

// Item is one <Item> of a command. All values are trimmed of surrounding XML
// whitespace; text is entity- and character-reference-decoded, CDATA content
// is taken verbatim. Meta values are read from <Item><Meta>…</Meta> and, when
// absent there, from a Format/Type/Mark element standing directly under
// <Item>; namespace prefixes and xmlns="syncml:metinf" are ignored.
type Item struct {
	// Source is Item/Source/LocURI (the node a device reports on); Target is
	// Item/Target/LocURI (the node a server command acts on).
	Source []byte
	Target []byte
	Format []byte
	Type   []byte
	Mark   []byte
	// Data is the decoded text of Item/Data: entity references decoded,
	// CDATA content verbatim. When Data holds child elements (an unescaped
	// XML payload, such as an Exec's MsiInstallJob written as markup), Data
	// is the raw inner markup, trimmed, references left as written.
	Data []byte
	// OriginalError is the value of the msft:originalerror attribute of Data
	// (any prefix bound to any namespace; matched on the local name), trimmed.
	OriginalError []byte
}

// Command is one extracted command (see Kind). Fields not present in the
// message are empty.
type Command struct {
	Kind Kind
	// Parent is the index in Message.Commands of the innermost Atomic or
	// Sequence holding this command, -1 for a command directly in SyncBody.
	// It is set for every kind, Status, Results and Alert included, and a
	// container's Parent names the container around it. A parent always
	// comes before its children.
	Parent int32
	// CmdID is the command's CmdID as sent: servers use numbers or UUIDs.
	CmdID  []byte
	MsgRef []byte
	CmdRef []byte
	// Cmd is Status/Cmd: the name of the command answered (SyncHdr, Get,
	// Exec, Add, Delete, Replace, Alert, Atomic, Sequence, ...).
	Cmd []byte
	// TargetRef and SourceRef are the first Status/TargetRef and
	// Status/SourceRef, trimmed.
	TargetRef []byte
	SourceRef []byte
	// Data is the command-level <Data>: the OMA-DM status code of a Status or
	// the alert code of an Alert.
	Data []byte
	// OriginalError is the msft:originalerror attribute of the command-level Data.
	OriginalError []byte
	// Format and Type are the command-level Meta (of a Results, Add,
	// Replace, Exec, Atomic, ...), the default for items that carry none.
	// The scanner does not copy them into the items.
	Format []byte
	Type   []byte
	// Items are the command's items in document order (none for Atomic and
	// Sequence).
	Items []Item
}

// Message is one parsed SyncML message. It is owned by the Scanner that
// produced it and reused by the next Parse.
type Message struct {
	// Version is the namespace version of the root element: "1.1" or "1.2"
	// (from SYNCML:SYNCML1.x, compared case-insensitively); empty when the
	// root carries no SyncML namespace.
	Version []byte
	Header  Header
	// Commands are the extracted commands in document order (of their start
	// tags): a container comes before the commands it holds.
	Commands []Command
	// Other counts the elements in SyncBody, Atomic and Sequence that are
	// neither extracted commands nor ignored (Sync, Map, Copy, Put, Search,
	// unknown names), for the skipped counters.
	Other int
	// Final reports whether SyncBody, or an Atomic or Sequence in it,
	// carried <Final/>.
	Final bool
}

// Reason names why a message was rejected. The values are stable: they are
// used as metric labels and in HTTP error bodies.
type Reason string

const (
	ReasonDoctype         Reason = "doctype"           // a DOCTYPE or ENTITY declaration
	ReasonMalformed       Reason = "malformed"         // syntax error, unbalanced or mismatched tags
	ReasonTruncated       Reason = "truncated"         // input ends inside markup or with open elements
	ReasonInvalidUTF8     Reason = "invalid_utf8"      // bytes that are not valid UTF-8 (after transcoding)
	ReasonEncoding        Reason = "encoding"          // an unsupported or broken encoding (bad UTF-16)
	ReasonTooDeep         Reason = "too_deep"          // nesting deeper than Limits.MaxDepth
	ReasonTooManyElements Reason = "too_many_elements" // more elements than Limits.MaxElements, or commands than Limits.MaxCommands
	ReasonUnknownEntity   Reason = "unknown_entity"    // a reference to an entity other than the five predefined
	ReasonNotSyncML       Reason = "not_syncml"        // the root element is not SyncML
	ReasonNoHeader        Reason = "no_synchdr"        // no SyncHdr before SyncBody
	ReasonNoDevice        Reason = "no_device_id"      // SyncHdr/Source/LocURI missing or empty
	ReasonEmpty           Reason = "empty"             // no root element at all
	ReasonTooLarge        Reason = "too_large"         // an attribute longer than Limits.MaxAttrLen, or an input of 2 GiB or more
)

// Error is the error Parse returns for a message it rejects.
type Error struct {
	Reason Reason
	// Offset is the byte offset in the (transcoded) input where the problem was found.
	Offset int
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("syncml: %s at byte %d", e.Reason, e.Offset)
	}
	return fmt.Sprintf("syncml: %s at byte %d: %s", e.Reason, e.Offset, e.Detail)
}

// Limits bound the work and memory one message can cost.
type Limits struct {
	// MaxDepth is the deepest element nesting accepted.
	MaxDepth int
	// MaxElements is the largest number of elements accepted in one message.
	MaxElements int
	// MaxAttrLen is the longest attribute value, attribute name or element
	// name accepted, in bytes (element names are also capped at 65535).
	// SyncML attributes are namespace names and short codes; the limit stops
	// a huge attribute from being scanned as if it were markup.
	MaxAttrLen int
	// MaxCommands is the largest number of commands (Message.Commands)
	// accepted in one message. Every command costs a Command of a few
	// hundred bytes, against six bytes of input for a "<Get/>": the limit
	// bounds what a flood of empty commands can make a Scanner allocate
	// and keep.
	MaxCommands int
}

// DefaultLimits are generous for real device and server traffic (real
// messages nest fewer than 12 deep and carry a few hundred elements and fewer
// than a hundred commands) and small enough that a hostile message costs
// little.
var DefaultLimits = Limits{MaxDepth: 64, MaxElements: 200_000, MaxAttrLen: 4096, MaxCommands: 10_000}
