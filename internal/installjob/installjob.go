// Package installjob parses the XML documents that an MDM server embeds in
// the Item/Data of an install Exec, so that an install event can say what was
// being installed:
//
//   - EnterpriseDesktopAppManagement CSP, Exec of
//     ./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{ProductID}/DownloadInstall:
//     an MsiInstallJob document (ParseMSIJob).
//   - Office CSP, Exec of ./Device/Vendor/MSFT/Office/Installation/{id}/install:
//     an Office Deployment Tool configuration (ParseOfficeConfig).
//
// These documents arrive once per install command, so they are parsed with
// github.com/beevik/etree, allocating a small tree, rather than on the
// zero-allocation SyncML scanning path. The input is untrusted: every
// document is checked against MaxSize, MaxDepth and MaxElements, must be
// valid UTF-8 and may not contain a DOCTYPE or any other markup declaration.
// A rejected document yields an *Error whose Reason is stable and suitable as
// a metric label.
//
// Element and attribute names are matched case-insensitively and without
// regard to namespace prefix in both documents. cspwatch observes what the
// server asked for; whether the device accepts a sloppily spelled document
// shows up in the command's Status, not here.
package installjob

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// Limits on one document. Real install documents are a few hundred bytes,
// nest at most 5 deep (MsiInstallJob/Product/Download/ContentURLList/
// ContentURL) and hold a few dozen elements, so the limits leave ample room
// while keeping the cost of a hostile document to a linear scan of at most
// MaxSize bytes and a tree of at most MaxElements elements.
const (
	// MaxSize is the largest document accepted, in bytes, counted on the
	// data as given (before any trimming or unescaping).
	MaxSize = 64 << 10
	// MaxDepth is the deepest element nesting accepted; the root element is
	// at depth 1.
	MaxDepth = 32
	// MaxElements is the largest number of elements accepted in one document.
	MaxElements = 2000
)

// Reasons a document is rejected, the values of Error.Reason. They are
// stable: callers use them as metric labels.
const (
	ReasonSize     = "size"     // larger than MaxSize
	ReasonDoctype  = "doctype"  // a DOCTYPE, ENTITY or other markup declaration
	ReasonDepth    = "depth"    // nesting deeper than MaxDepth
	ReasonElements = "elements" // more than MaxElements elements
	ReasonUTF8     = "utf8"     // not valid UTF-8
	ReasonSyntax   = "syntax"   // not well-formed XML, or no single root element
	ReasonRoot     = "root"     // the root element is not the expected document
)

// Error is the error the parsers return for a rejected document. Reason is
// one of the Reason constants; Err, when set, is the underlying cause (the
// XML syntax error, or what the root element was).
//
// errors.Is(err, ErrDoctype) and the like match any *Error with the same
// Reason, so a caller can classify without errors.As.
type Error struct {
	Reason string
	Err    error
}

// Sentinels for errors.Is, one per reason. They carry no cause; do not
// modify them.
var (
	ErrSize     = &Error{Reason: ReasonSize}
	ErrDoctype  = &Error{Reason: ReasonDoctype}
	ErrDepth    = &Error{Reason: ReasonDepth}
	ErrElements = &Error{Reason: ReasonElements}
	ErrUTF8     = &Error{Reason: ReasonUTF8}
	ErrSyntax   = &Error{Reason: ReasonSyntax}
	ErrRoot     = &Error{Reason: ReasonRoot}
)

var messages = map[string]string{
	ReasonSize:     "installjob: document larger than " + strconv.Itoa(MaxSize) + " bytes",
	ReasonDoctype:  "installjob: doctype not allowed",
	ReasonDepth:    "installjob: nesting deeper than " + strconv.Itoa(MaxDepth),
	ReasonElements: "installjob: more than " + strconv.Itoa(MaxElements) + " elements",
	ReasonUTF8:     "installjob: invalid utf-8",
	ReasonSyntax:   "installjob: syntax error",
	ReasonRoot:     "installjob: wrong root element",
}

// maxCauseLen bounds the cause quoted in Error(): XML syntax errors quote
// element names, which a hostile document can make MaxSize long, and the
// message ends up in logs.
const maxCauseLen = 200

func (e *Error) Error() string {
	msg, ok := messages[e.Reason]
	if !ok {
		msg = "installjob: " + e.Reason
	}
	if e.Err == nil {
		return msg
	}
	return msg + ": " + truncate(e.Err.Error(), maxCauseLen)
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is a sentinel (an *Error without a cause) with
// the same Reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Err == nil && t.Reason == e.Reason
}

// prepare applies the limits and leniencies shared by both documents and
// returns the root element, whose local name must equal want (ignoring case).
// The checks run in a fixed order (size, utf8, the extra escaping, doctype,
// elements, syntax and depth, root), which decides the reason when a document
// has several faults.
func prepare(data []byte, want string) (*etree.Element, error) {
	if len(data) > MaxSize {
		return nil, &Error{Reason: ReasonSize}
	}
	if !utf8.Valid(data) {
		return nil, &Error{Reason: ReasonUTF8}
	}
	doc := trim(data)
	// The SyncML scanner hands over Item/Data decoded once; some servers
	// escape the payload twice, so what arrives is still "&lt;MsiInstallJob".
	// One more decoding is the most that is done: a document escaped three
	// times is not the server sending a document.
	if bytes.HasPrefix(doc, []byte("&lt;")) {
		u, err := unescape(doc)
		if err != nil {
			return nil, &Error{Reason: ReasonSyntax, Err: err}
		}
		doc = trim(u)
	}
	// Before etree sees the bytes: etree neither expands entities nor fetches
	// external ones, but a declaration has no business in these documents,
	// and counting elements up front keeps a hostile document from building
	// a large tree.
	if err := prescan(doc); err != nil {
		return nil, err
	}
	d := etree.NewDocument()
	d.ReadSettings = etree.ReadSettings{MaxDepth: MaxDepth}
	if err := d.ReadFromBytes(doc); err != nil {
		if errors.Is(err, etree.ErrMaxDepth) {
			return nil, &Error{Reason: ReasonDepth}
		}
		return nil, &Error{Reason: ReasonSyntax, Err: err}
	}
	// etree accepts several top-level elements and stray text; a document
	// has exactly one root and nothing but whitespace, comments and
	// processing instructions around it.
	var root *etree.Element
	for _, t := range d.Child {
		switch t := t.(type) {
		case *etree.Element:
			if root != nil {
				return nil, &Error{Reason: ReasonSyntax, Err: errors.New("more than one root element")}
			}
			root = t
		case *etree.CharData:
			if strings.Trim(t.Data, xmlSpace) != "" {
				return nil, &Error{Reason: ReasonSyntax, Err: errors.New("text outside the root element")}
			}
		}
	}
	if root == nil {
		return nil, &Error{Reason: ReasonSyntax, Err: errors.New("no root element")}
	}
	if !strings.EqualFold(root.Tag, want) {
		return nil, &Error{Reason: ReasonRoot, Err: fmt.Errorf("got %q, want %s", truncate(root.Tag, 64), want)}
	}
	return root, nil
}

// xmlSpace is the XML definition of white space (production S), narrower
// than unicode.IsSpace.
const xmlSpace = " \t\r\n"

var bom = []byte("\xEF\xBB\xBF")

// trim removes white space and a UTF-8 byte order mark, in either order:
// the mark may sit before or after the indentation the server's template
// put around the payload.
func trim(b []byte) []byte {
	b = bytes.Trim(b, xmlSpace)
	if bytes.HasPrefix(b, bom) {
		b = bytes.Trim(b[len(bom):], xmlSpace)
	}
	return b
}

// prescan rejects markup declarations and counts start tags, in one pass
// without allocating. It skips comments, CDATA sections and processing
// instructions, the only places a well-formed document can hold a literal
// '<' other than markup, so for any document etree goes on to accept the
// count is exact. Unterminated constructs are left for etree to report.
func prescan(doc []byte) error {
	elements := 0
	for i := 0; i < len(doc); {
		j := bytes.IndexByte(doc[i:], '<')
		if j < 0 {
			return nil
		}
		i += j
		rest := doc[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipPast(doc, i+4, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skipPast(doc, i+9, "]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipPast(doc, i+2, "?>")
		case bytes.HasPrefix(rest, []byte("<!")):
			// DOCTYPE, ENTITY, ELEMENT, ATTLIST, NOTATION, or junk: none
			// belongs in an install document.
			return &Error{Reason: ReasonDoctype}
		case bytes.HasPrefix(rest, []byte("</")):
			i += 2
		default:
			elements++
			if elements > MaxElements {
				return &Error{Reason: ReasonElements}
			}
			i++
		}
	}
	return nil
}

// skipPast returns the index just after the first end at or after from, or
// len(doc) when there is none.
func skipPast(doc []byte, from int, end string) int {
	k := bytes.Index(doc[from:], []byte(end))
	if k < 0 {
		return len(doc)
	}
	return from + k + len(end)
}

// unescape decodes the five predefined XML entities and numeric character
// references once. Anything else after '&' is an error rather than kept
// verbatim, since etree would reject it anyway and the reason is clearer here.
func unescape(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			out = append(out, b...)
			break
		}
		out = append(out, b[:i]...)
		b = b[i:]
		end := bytes.IndexByte(b, ';')
		if end < 0 || end > 16 {
			return nil, errors.New("escaped document: unterminated entity reference")
		}
		name := string(b[1:end])
		b = b[end+1:]
		switch name {
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "amp":
			out = append(out, '&')
		case "quot":
			out = append(out, '"')
		case "apos":
			out = append(out, '\'')
		default:
			r, ok := charRef(name)
			if !ok {
				return nil, fmt.Errorf("escaped document: unknown entity %q", name)
			}
			out = utf8.AppendRune(out, r)
		}
	}
	return out, nil
}

// charRef decodes the name of a numeric character reference ("#65",
// "#x41") to a valid, non-NUL rune.
func charRef(name string) (rune, bool) {
	if len(name) < 2 || name[0] != '#' {
		return 0, false
	}
	digits, base := name[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if digits == "" || digits[0] == '+' || digits[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil || n == 0 || !utf8.ValidRune(rune(n)) {
		return 0, false
	}
	return rune(n), true
}

// truncate shortens s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// child returns the first child element of e whose local name equals name,
// ignoring case; nil when e is nil or has none, so lookups chain.
func child(e *etree.Element, name string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, t := range e.Child {
		if c, ok := t.(*etree.Element); ok && strings.EqualFold(c.Tag, name) {
			return c
		}
	}
	return nil
}

// attr returns the trimmed value of e's attribute whose local name equals
// name, ignoring case and prefix (namespace declarations excepted); "" when
// e is nil or has none.
func attr(e *etree.Element, name string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attr {
		if a.Space != "xmlns" && strings.EqualFold(a.Key, name) {
			return strings.Trim(a.Value, xmlSpace)
		}
	}
	return ""
}

// text returns e's own character data, trimmed. Unlike etree's Text it
// joins text split by comments or CDATA sections and ignores text inside
// child elements.
func text(e *etree.Element) string {
	if e == nil {
		return ""
	}
	var sb strings.Builder
	for _, t := range e.Child {
		if c, ok := t.(*etree.CharData); ok {
			sb.WriteString(c.Data)
		}
	}
	s := sb.String()
	return strings.Trim(s, xmlSpace)
}
