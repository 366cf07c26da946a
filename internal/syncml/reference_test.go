package syncml

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/beevik/etree"
)

// The reference extractor: the same facts as the scanner, computed from an
// etree DOM by an independent reading of the rules in the package docs. It is
// slow and allocates freely; it exists only to check the scanner.

// rawMark prefixes a reference value taken from an element with child
// elements: the rest is the canonical (etree-serialised) inner markup, and
// the scanner's raw value is compared after the same canonicalisation.
const rawMark = "\x00raw:"

type refItem struct {
	Source, Target, Format, Type, Mark, Data, OriginalError string
}

type refCommand struct {
	Kind                                Kind
	Parent                              int
	CmdID, MsgRef, CmdRef, Cmd          string
	TargetRef, SourceRef, Data, OrigErr string
	Format, Type                        string
	Items                               []refItem
}

type refMessage struct {
	Version                                            string
	VerDTD, VerProto, SessionID, MsgID, Target, Source string
	Commands                                           []refCommand
	Other                                              int
	Final                                              bool
}

// errEtree marks inputs etree itself cannot read; nothing is compared then.
var errEtree = errors.New("etree rejects the input")

// refDecode strips a UTF-8 BOM and transcodes UTF-16, independently of the
// scanner's code.
func refDecode(b []byte) []byte {
	if bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}) {
		return b[3:]
	}
	var big bool
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		b = b[2:]
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		b, big = b[2:], true
	case len(b) >= 2 && b[0] == '<' && b[1] == 0:
	case len(b) >= 2 && b[0] == 0 && b[1] == '<':
		big = true
	default:
		return b
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if big {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	return []byte(string(utf16.Decode(u)))
}

func refRead(b []byte) (*etree.Document, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveDuplicateAttrs = true
	doc.ReadSettings.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, errEtree
	}
	return doc, nil
}

func refTrim(s string) string { return strings.Trim(s, " \t\r\n") }

// refText is the value of a value element: the joined character data (text
// and CDATA, comments and PIs dropped), trimmed; or, when it has child
// elements, its canonical inner markup.
func refText(e *etree.Element) string {
	var b strings.Builder
	for _, t := range e.Child {
		if _, ok := t.(*etree.Element); ok {
			return rawMark + refInner(e)
		}
		if cd, ok := t.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return refTrim(b.String())
}

func refInner(e *etree.Element) string {
	var b strings.Builder
	ws := etree.WriteSettings{}
	for _, t := range e.Child {
		t.WriteTo(&b, &ws)
	}
	return refTrim(b.String())
}

// canon renders raw inner markup the way refInner renders a DOM element.
func canon(raw string) string {
	doc, err := refRead([]byte("<x>" + raw + "</x>"))
	if err != nil {
		return "\x00unparsable:" + raw
	}
	return refInner(doc.Root())
}

func refAttr(e *etree.Element, match func(a etree.Attr) bool) (string, bool) {
	for _, a := range e.Attr {
		if match(a) {
			return refTrim(a.Value), true
		}
	}
	return "", false
}

func origErr(e *etree.Element) string {
	v, _ := refAttr(e, func(a etree.Attr) bool { return a.Key == "originalerror" && a.Space != "xmlns" })
	return v
}

func locURI(e *etree.Element, dst *string) {
	for _, c := range e.ChildElements() {
		if c.Tag == "LocURI" {
			*dst = refText(c)
		}
	}
}

// refExtract returns the reference facts or a *Error naming a semantic
// reason (not_syncml, no_synchdr, no_device_id, empty), or errEtree.
func refExtract(input []byte) (*refMessage, error) {
	doc, err := refRead(refDecode(input))
	if err != nil {
		return nil, err
	}
	root := doc.Root()
	if root == nil {
		return nil, &Error{Reason: ReasonEmpty}
	}
	if root.Tag != "SyncML" {
		return nil, &Error{Reason: ReasonNotSyncML}
	}
	m := &refMessage{}
	ns, ok := refAttr(root, func(a etree.Attr) bool {
		if root.Space == "" {
			return a.Space == "" && a.Key == "xmlns"
		}
		return a.Space == "xmlns" && a.Key == root.Space
	})
	if ok && len(ns) > len("syncml:syncml") && strings.EqualFold(ns[:len("syncml:syncml")], "syncml:syncml") {
		m.Version = ns[len("syncml:syncml"):]
	}
	sawHdr := false
	for _, c := range root.ChildElements() {
		switch c.Tag {
		case "SyncHdr":
			sawHdr = true
			for _, h := range c.ChildElements() {
				switch h.Tag {
				case "VerDTD":
					m.VerDTD = refText(h)
				case "VerProto":
					m.VerProto = refText(h)
				case "SessionID":
					m.SessionID = refText(h)
				case "MsgID":
					m.MsgID = refText(h)
				case "Target":
					locURI(h, &m.Target)
				case "Source":
					locURI(h, &m.Source)
				}
			}
		case "SyncBody":
			if !sawHdr {
				return nil, &Error{Reason: ReasonNoHeader}
			}
			refBody(m, c, -1)
		}
	}
	if !sawHdr {
		return nil, &Error{Reason: ReasonNoHeader}
	}
	if m.Source == "" {
		return nil, &Error{Reason: ReasonNoDevice}
	}
	return m, nil
}

// refKinds maps the command elements of a body or container to their kind.
var refKinds = map[string]Kind{
	"Status": KindStatus, "Results": KindResults, "Alert": KindAlert,
	"Add": KindAdd, "Replace": KindReplace, "Exec": KindExec, "Get": KindGet, "Delete": KindDelete,
	"Atomic": KindAtomic, "Sequence": KindSequence,
}

// refBody appends the commands of SyncBody or of a container, whose index
// in m.Commands is parent (-1 for SyncBody).
func refBody(m *refMessage, body *etree.Element, parent int) {
	for _, c := range body.ChildElements() {
		k, ok := refKinds[c.Tag]
		switch {
		case ok && (k == KindAtomic || k == KindSequence):
			// The container first, with its own CmdID and Meta, then what it holds.
			rc := refCommand{Kind: k, Parent: parent}
			for _, x := range c.ChildElements() {
				switch x.Tag {
				case "CmdID":
					rc.CmdID = refText(x)
				case "Meta":
					refMeta(x, &rc.Format, &rc.Type)
				}
			}
			m.Commands = append(m.Commands, rc)
			refBody(m, c, len(m.Commands)-1)
		case ok:
			m.Commands = append(m.Commands, refCmd(k, c, parent))
		case c.Tag == "Final":
			m.Final = true
		case c.Tag == "NoResp" || c.Tag == "Cred":
		case c.Tag == "CmdID" || c.Tag == "Meta":
			// SyncBody's are ignored; a container's were read above.
		default:
			m.Other++
		}
	}
}

func refMeta(e *etree.Element, format, typ *string) {
	for _, mm := range e.ChildElements() {
		switch mm.Tag {
		case "Format":
			*format = refText(mm)
		case "Type":
			*typ = refText(mm)
		}
	}
}

func refCmd(k Kind, e *etree.Element, parent int) refCommand {
	c := refCommand{Kind: k, Parent: parent}
	tset, sset := false, false
	for _, x := range e.ChildElements() {
		switch x.Tag {
		case "CmdID":
			c.CmdID = refText(x)
		case "MsgRef":
			c.MsgRef = refText(x)
		case "CmdRef":
			c.CmdRef = refText(x)
		case "Cmd":
			c.Cmd = refText(x)
		case "TargetRef":
			if !tset {
				c.TargetRef, tset = refText(x), true
			}
		case "SourceRef":
			if !sset {
				c.SourceRef, sset = refText(x), true
			}
		case "Data":
			c.Data, c.OrigErr = refText(x), origErr(x)
		case "Meta":
			refMeta(x, &c.Format, &c.Type)
		case "Item":
			c.Items = append(c.Items, refItemOf(x))
		}
	}
	return c
}

func refItemOf(e *etree.Element) refItem {
	var it refItem
	var df, dt, dm string
	for _, x := range e.ChildElements() {
		switch x.Tag {
		case "Source":
			locURI(x, &it.Source)
		case "Target":
			locURI(x, &it.Target)
		case "Meta":
			for _, mm := range x.ChildElements() {
				switch mm.Tag {
				case "Format":
					it.Format = refText(mm)
				case "Type":
					it.Type = refText(mm)
				case "Mark":
					it.Mark = refText(mm)
				}
			}
		case "Data":
			it.Data, it.OriginalError = refText(x), origErr(x)
		case "Format":
			df = refText(x)
		case "Type":
			dt = refText(x)
		case "Mark":
			dm = refText(x)
		}
	}
	if it.Format == "" {
		it.Format = df
	}
	if it.Type == "" {
		it.Type = dt
	}
	if it.Mark == "" {
		it.Mark = dm
	}
	return it
}

// diff compares the scanner's message with the reference and describes the
// first differences ("" when they agree).
func diff(m *Message, r *refMessage) string {
	var out []string
	cmp := func(where string, want string, got []byte) {
		g := string(got)
		if strings.HasPrefix(want, rawMark) {
			want = want[len(rawMark):]
			g = canon(g)
		}
		if want != g {
			out = append(out, fmt.Sprintf("%s: reference %q, scanner %q", where, want, g))
		}
	}
	cmp("Version", r.Version, m.Version)
	cmp("VerDTD", r.VerDTD, m.Header.VerDTD)
	cmp("VerProto", r.VerProto, m.Header.VerProto)
	cmp("SessionID", r.SessionID, m.Header.SessionID)
	cmp("MsgID", r.MsgID, m.Header.MsgID)
	cmp("Target", r.Target, m.Header.Target)
	cmp("Source", r.Source, m.Header.Source)
	if r.Other != m.Other {
		out = append(out, fmt.Sprintf("Other: reference %d, scanner %d", r.Other, m.Other))
	}
	if r.Final != m.Final {
		out = append(out, fmt.Sprintf("Final: reference %v, scanner %v", r.Final, m.Final))
	}
	if len(r.Commands) != len(m.Commands) {
		return strings.Join(append(out, fmt.Sprintf("commands: reference %d, scanner %d", len(r.Commands), len(m.Commands))), "\n")
	}
	for i := range r.Commands {
		rc, c := &r.Commands[i], &m.Commands[i]
		p := fmt.Sprintf("command %d ", i)
		if rc.Kind != c.Kind {
			out = append(out, fmt.Sprintf("%skind: reference %v, scanner %v", p, rc.Kind, c.Kind))
		}
		if rc.Parent != int(c.Parent) {
			out = append(out, fmt.Sprintf("%sparent: reference %d, scanner %d", p, rc.Parent, c.Parent))
		}
		cmp(p+"CmdID", rc.CmdID, c.CmdID)
		cmp(p+"MsgRef", rc.MsgRef, c.MsgRef)
		cmp(p+"CmdRef", rc.CmdRef, c.CmdRef)
		cmp(p+"Cmd", rc.Cmd, c.Cmd)
		cmp(p+"TargetRef", rc.TargetRef, c.TargetRef)
		cmp(p+"SourceRef", rc.SourceRef, c.SourceRef)
		cmp(p+"Data", rc.Data, c.Data)
		cmp(p+"OriginalError", rc.OrigErr, c.OriginalError)
		cmp(p+"Format", rc.Format, c.Format)
		cmp(p+"Type", rc.Type, c.Type)
		if len(rc.Items) != len(c.Items) {
			out = append(out, fmt.Sprintf("%sitems: reference %d, scanner %d", p, len(rc.Items), len(c.Items)))
			continue
		}
		for j := range rc.Items {
			ri, it := &rc.Items[j], &c.Items[j]
			q := fmt.Sprintf("%sitem %d ", p, j)
			cmp(q+"Source", ri.Source, it.Source)
			cmp(q+"Target", ri.Target, it.Target)
			cmp(q+"Format", ri.Format, it.Format)
			cmp(q+"Type", ri.Type, it.Type)
			cmp(q+"Mark", ri.Mark, it.Mark)
			cmp(q+"Data", ri.Data, it.Data)
			cmp(q+"OriginalError", ri.OriginalError, it.OriginalError)
		}
	}
	return strings.Join(out, "\n")
}

// semantic reports whether a reason is decided by document structure the
// reference also sees (as opposed to syntax or limits).
func semantic(r Reason) bool {
	switch r {
	case ReasonNotSyncML, ReasonNoHeader, ReasonNoDevice:
		return true
	}
	return false
}

// checkAgainstReference is the differential oracle shared by the corpus test
// and the fuzz target. Inputs etree cannot read are not compared: etree is
// stricter in places (XML name classes, control characters, the declared
// version) and the scanner in others (DTDs, limits, content after the root).
func checkAgainstReference(t testing.TB, input []byte, m *Message, err error) {
	t.Helper()
	ref, rerr := refExtract(input)
	if errors.Is(rerr, errEtree) {
		return
	}
	var se *Error
	if err != nil {
		if !errors.As(err, &se) {
			t.Fatalf("Parse returned %T %v, want *Error", err, err)
		}
		if !semantic(se.Reason) {
			return
		}
		var re *Error
		if !errors.As(rerr, &re) || re.Reason != se.Reason {
			t.Fatalf("scanner rejects with %v, reference says %v", err, rerr)
		}
		return
	}
	if rerr != nil {
		t.Fatalf("scanner accepts, reference rejects: %v\nscanner:\n%s", rerr, dump(m))
	}
	if d := diff(m, ref); d != "" {
		t.Fatalf("scanner and reference disagree:\n%s", d)
	}
}

func TestDifferentialCorpus(t *testing.T) {
	s := NewScanner(Limits{})
	files := corpusFiles(t)
	more, _ := filepath.Glob("testdata/hostile/*")
	files = append(files, more...)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.Parse(data)
			if strings.Contains(f, "/corpus/") {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if _, rerr := refExtract(data); rerr != nil {
					t.Fatalf("reference cannot read a corpus file: %v", rerr)
				}
			}
			checkAgainstReference(t, data, m, err)
		})
	}
}

// TestFastTagBoundaries puts every name the fast path knows in each place
// where a byte after it decides whether it is that name: the end of the tag,
// attributes, self-closing, a longer name, a prefix, a namespace colon. The
// reference reads each message the general way; the two must agree.
func TestFastTagBoundaries(t *testing.T) {
	s := NewScanner(Limits{})
	for parent, tags := range fastTags {
		for _, f := range tags {
			var name [8]byte
			binary.LittleEndian.PutUint64(name[:], f.key)
			n := string(name[:f.n])
			for _, form := range []string{
				"<%s>1</%s>", "<%s >1</%s >", "<%s\t\nx='1'>1</%s>", "<%s/>", "<%sX>1</%sX>", "<%s2>1</%s2>",
				"<%s-a>1</%s-a>", "<%s:a xmlns:%s='u'>1</%s:a>", "<p:%s xmlns:p='u'>1</p:%s>", "<%s>1</%sX>",
			} {
				el := strings.ReplaceAll(form, "%s", n)
				var body string
				const src = `<Source><LocURI>DEV1</LocURI></Source>`
				hdr := ""
				switch uint8(parent) {
				case rHdr:
					hdr = `<SyncHdr>` + el + `<VerDTD>1.2</VerDTD><MsgID>2</MsgID><Target><LocURI>https://mdm</LocURI></Target>` + src + `</SyncHdr>`
				case rHdrTarget:
					hdr = `<SyncHdr><MsgID>2</MsgID><Target>` + el + `<LocURI>https://mdm</LocURI></Target>` + src + `</SyncHdr>`
				case rHdrSource:
					// Before the LocURI that the last one wins over, so that
					// the message keeps its device id.
					hdr = `<SyncHdr><MsgID>2</MsgID><Source>` + el + `<LocURI>DEV1</LocURI></Source></SyncHdr>`
				case rBody:
					body = el + `<Status><CmdID>9</CmdID><Data>200</Data></Status>`
				case rCont:
					// Both before and after a command the container holds,
					// inside a container inside a container.
					body = `<Atomic><CmdID>1</CmdID><Sequence>` + el + `<Get><CmdID>2</CmdID></Get>` + el + `</Sequence></Atomic>`
				case rContMeta:
					body = `<Sequence><Meta>` + el + `</Meta><Exec><CmdID>2</CmdID></Exec><Meta>` + el + `</Meta></Sequence>`
				case rCmd:
					body = `<Status><CmdID>2</CmdID>` + el + `</Status>`
				case rCmdMeta:
					body = `<Status><CmdID>2</CmdID><Meta>` + el + `</Meta></Status>`
				case rItem:
					body = `<Results><CmdID>2</CmdID><Item>` + el + `</Item></Results>`
				case rItemSource:
					body = `<Results><CmdID>2</CmdID><Item><Source>` + el + `</Source></Item></Results>`
				case rItemTarget:
					body = `<Results><CmdID>2</CmdID><Item><Target>` + el + `</Target></Item></Results>`
				case rItemMeta:
					body = `<Results><CmdID>2</CmdID><Item><Meta>` + el + `</Meta></Item></Results>`
				default:
					t.Fatalf("no test message for parent role %d", parent)
				}
				input := []byte(msg(body))
				if hdr != "" {
					input = []byte(`<SyncML xmlns="SYNCML:SYNCML1.2">` + hdr + `<SyncBody><Status><CmdID>1</CmdID></Status></SyncBody></SyncML>`)
				}
				t.Run(fmt.Sprintf("%d/%s", parent, el), func(t *testing.T) {
					m, err := s.Parse(input)
					// Every form is well-formed XML but the mismatched end
					// tag, so the scanner must accept what etree reads.
					if _, rerr := refExtract(input); rerr == nil && err != nil {
						t.Fatalf("reference accepts, scanner rejects: %v", err)
					}
					checkAgainstReference(t, input, m, err)
				})
			}
		}
	}
}
