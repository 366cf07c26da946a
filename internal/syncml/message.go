// Package syncml is a streaming scanner for OMA-DM 1.2 (SyncML) messages as
// Windows MDM clients send them. It extracts the SyncHdr facts and every
// Status, Results and Alert command with its items in document order, without
// building a DOM and without encoding/xml.
//
// The scanner is built for the ingest hot path: a Scanner reused across
// messages performs no allocation per message once its buffers have grown to
// the size of the largest message seen. Every byte slice it returns aliases
// either the input or the Scanner's own buffers and is valid only until the
// next call to Parse on the same Scanner.
//
// What is extracted, precisely:
//   - Elements are matched on their local name, whatever the prefix or
//     namespace. Status, Results and Alert are taken from SyncBody and from
//     Atomic and Sequence at any depth; Final sets Message.Final; CmdID,
//     Meta, NoResp and Cred directly in a body or container are ignored;
//     every other element there counts in Message.Other and its content is
//     skipped without decoding.
//   - A value is the concatenation of its text (references decoded) and
//     CDATA sections (verbatim), comments and PIs dropped, with "\r\n" and
//     "\r" turned into "\n" as XML requires, then trimmed of XML
//     whitespace. A value element holding child elements yields its raw
//     inner markup, trimmed. A value made of one piece that needs no
//     decoding aliases the input; others are decoded into a scanner buffer.
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
	// KindStatus is a <Status> command: the device's answer to one server command.
	KindStatus Kind = iota + 1
	// KindResults is a <Results> command: the values of nodes the server read with Get.
	KindResults
	// KindAlert is an <Alert> command, including generic alerts (1224, 1226).
	KindAlert
)

func (k Kind) String() string {
	switch k {
	case KindStatus:
		return "Status"
	case KindResults:
		return "Results"
	case KindAlert:
		return "Alert"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Header holds the SyncHdr facts. Values are trimmed of surrounding XML
// whitespace and entity-decoded.
type Header struct {
	VerDTD    []byte
	VerProto  []byte
	SessionID []byte
	MsgID     []byte
	// Target is SyncHdr/Target/LocURI: the server URL.
	Target []byte
	// Source is SyncHdr/Source/LocURI: the device id. Parse rejects a message
	// where it is missing or empty.
	Source []byte
}

// Item is one <Item> of a command. All values are trimmed of surrounding XML
// whitespace; text is entity- and character-reference-decoded, CDATA content
// is taken verbatim. Meta values are read from <Item><Meta>…</Meta> and, when
// absent there, from a Format/Type/Mark element standing directly under
// <Item>; namespace prefixes and xmlns="syncml:metinf" are ignored.
type Item struct {
	// Source is Item/Source/LocURI; Target is Item/Target/LocURI.
	Source []byte
	Target []byte
	Format []byte
	Type   []byte
	Mark   []byte
	// Data is the decoded text of Item/Data. When Data holds child elements
	// (an unescaped XML payload), Data is the raw inner markup, trimmed.
	Data []byte
	// OriginalError is the value of the msft:originalerror attribute of Data
	// (any prefix bound to any namespace; matched on the local name), trimmed.
	OriginalError []byte
}

// Command is one Status, Results or Alert command. Fields not present in the
// message are empty.
type Command struct {
	Kind   Kind
	CmdID  []byte
	MsgRef []byte
	CmdRef []byte
	// Cmd is Status/Cmd: the name of the server command answered (SyncHdr, Get,
	// Exec, Add, Delete, Replace, Alert, ...).
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
	// Format and Type are the command-level Meta of a Results command, the
	// default for items that carry none.
	Format []byte
	Type   []byte
	// Items are the command's items in document order.
	Items []Item
}

// Message is one parsed SyncML message. It is owned by the Scanner that
// produced it and reused by the next Parse.
type Message struct {
	// Version is the namespace version of the root element: "1.1" or "1.2"
	// (from SYNCML:SYNCML1.x, compared case-insensitively); empty when the
	// root carries no SyncML namespace.
	Version  []byte
	Header   Header
	Commands []Command
	// Other counts commands of kinds the scanner does not extract (Replace,
	// Get, Exec, Add, Delete, Sync, Map, ...), for the skipped counters.
	Other int
	// Final reports whether SyncBody carried <Final/>.
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
	ReasonTooManyElements Reason = "too_many_elements" // more elements than Limits.MaxElements
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
}

// DefaultLimits are generous for real device traffic (real messages nest
// fewer than 12 deep and carry a few hundred elements) and small enough that
// a hostile message costs little.
var DefaultLimits = Limits{MaxDepth: 64, MaxElements: 200_000, MaxAttrLen: 4096}
