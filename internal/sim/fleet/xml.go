package fleet

// writer appends SyncML the way the Windows MDM client writes it: compact,
// one element after another, or indented when a message is pretty-printed.
// It does no validation; the generator only writes fixed element names.
type writer struct {
	b      []byte
	pretty bool
	depth  int
	// pad surrounds LocURI and Data values with whitespace.
	pad bool
}

func (w *writer) nl() {
	if !w.pretty {
		return
	}
	if len(w.b) > 0 {
		w.b = append(w.b, '\r', '\n')
	}
	for i := 0; i < w.depth; i++ {
		w.b = append(w.b, ' ', ' ')
	}
}

func (w *writer) open(tag string) { w.openAttr(tag, "") }

// openAttr writes a start tag; attrs, when not empty, is written as is after
// the name and must begin with a space.
func (w *writer) openAttr(tag, attrs string) {
	w.nl()
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, attrs...)
	w.b = append(w.b, '>')
	w.depth++
}

func (w *writer) close(tag string) {
	w.depth--
	w.nl()
	w.b = append(w.b, "</"...)
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
}

// empty writes <tag/>.
func (w *writer) empty(tag string) {
	w.nl()
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, "/>"...)
}

// leaf writes <tag attrs>text</tag> with text escaped.
func (w *writer) leaf(tag, attrs, text string) {
	w.nl()
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, attrs...)
	w.b = append(w.b, '>')
	w.b = escape(w.b, text)
	w.b = append(w.b, "</"...)
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
}

// value writes a LocURI or Data leaf, padded with whitespace when the
// message has that quirk, or as CDATA when cdata is set.
func (w *writer) value(tag, attrs, text string, cdata bool) {
	w.nl()
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, attrs...)
	w.b = append(w.b, '>')
	if w.pad {
		w.b = append(w.b, "\r\n          "...)
	}
	if cdata {
		w.b = append(w.b, "<![CDATA["...)
		w.b = append(w.b, text...)
		w.b = append(w.b, "]]>"...)
	} else {
		w.b = escape(w.b, text)
	}
	if w.pad {
		w.b = append(w.b, "\r\n        "...)
	}
	w.b = append(w.b, "</"...)
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
}

func escape(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '&':
			dst = append(dst, "&amp;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// raw writes <tag>markup</tag> with markup as is: an XML document the
// server puts in Data as child elements rather than as text.
func (w *writer) raw(tag, markup string) {
	w.nl()
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
	w.b = append(w.b, markup...)
	w.b = append(w.b, "</"...)
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
}

// syncHdr writes the root element of a SyncML 1.1 or 1.2 message and its
// SyncHdr up to the Source (target and source are LocURIs); the caller
// closes SyncHdr, after any Meta. Device and server messages share it, so
// that both speak the same version the same way.
func (w *writer) syncHdr(syncml11 bool, session, msgID, target, source string) {
	ver := "1.2"
	if syncml11 {
		ver = "1.1"
	}
	w.openAttr("SyncML", ` xmlns="SYNCML:SYNCML`+ver+`"`)
	w.open("SyncHdr")
	w.leaf("VerDTD", "", ver)
	w.leaf("VerProto", "", "DM/"+ver)
	w.leaf("SessionID", "", session)
	w.leaf("MsgID", "", msgID)
	w.open("Target")
	w.value("LocURI", "", target, false)
	w.close("Target")
	w.open("Source")
	w.value("LocURI", "", source, false)
	w.close("Source")
}
