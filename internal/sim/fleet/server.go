package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The server's half of the conversation. A device message that answers the
// server (package 3, the inventory answer) is made together with the
// server's message it answers: as the device answers each command, the
// command is recorded (its CmdID, what it acts on, the install it carries),
// so that the device's MsgRef and CmdRef always name a command the server
// sent. What the server's message says is decided with the fleet's random
// source, whether or not it is written out; how it is written (indentation,
// escaping of the install documents, its position before or after the
// answer) is decided with srng, only when it is.

// cmdKind is a server command's element.
type cmdKind uint8

const (
	cmdAdd cmdKind = iota
	cmdExec
	cmdGet
	cmdAtomic
)

var cmdNames = [...]string{cmdAdd: "Add", cmdExec: "Exec", cmdGet: "Get", cmdAtomic: "Atomic"}

// srvCmd is one command of the server's message.
type srvCmd struct {
	kind cmdKind
	// id is its CmdID as sent: a number, or a UUID in a uuid session.
	id string
	// parent is the index of the Atomic holding it, -1 for none.
	parent int
	// from and to delimit its items' LocURIs in serverState.locs.
	from, to int
	// a is the install an Exec carries the document of.
	a *assignment
}

// ack is one Status of the server's message: its answer to a command of
// the device's previous message.
type ack struct {
	ref int    // the device command's CmdID, 0 for the SyncHdr
	cmd string // its element
}

// serverState is the server's message being recorded. Its slices are
// reused from message to message.
type serverState struct {
	// msgID is the server message's MsgID, 0 when the device message being
	// made answers none.
	msgID int
	// n numbers the message's CmdIDs: its Status first, then its commands.
	n    int
	acks []ack
	cmds []srvCmd
	locs []string
	// rec is the index of the Get whose items the device's Results
	// record, -1 when none.
	rec int
}

func (s *serverState) reset() {
	s.msgID, s.n, s.rec = 0, 0, -1
	s.acks, s.cmds, s.locs = s.acks[:0], s.cmds[:0], s.locs[:0]
}

// serverBegins starts recording the server's message msgID (1 answers the
// device's package 1, 2 its answer to package 2): its Status for each
// command of the device's message before.
func (f *Fleet) serverBegins(d *device, msgID int) {
	s := &f.srv
	s.msgID = msgID
	s.acks = append(s.acks, ack{0, "SyncHdr"})
	if msgID == 1 {
		for ref := 2; ref < d.p1Last; ref++ {
			s.acks = append(s.acks, ack{ref, "Alert"})
		}
		s.acks = append(s.acks, ack{d.p1Last, "Replace"})
	} else {
		for _, ref := range d.results {
			s.acks = append(s.acks, ack{ref, "Results"})
		}
	}
	s.n = len(s.acks)
}

// command records a command of the server's message and returns its index.
func (f *Fleet) command(d *device, k cmdKind, parent int, a *assignment) int {
	s := &f.srv
	s.n++
	id := ""
	if d.uuid {
		id = uuid(f.rng.Uint64(), f.rng.Uint64())
	} else {
		id = strconv.Itoa(s.n)
	}
	s.cmds = append(s.cmds, srvCmd{kind: k, id: id, parent: parent, from: len(s.locs), to: len(s.locs), a: a})
	return len(s.cmds) - 1
}

// addLoc adds an item to command i, the last one recorded.
func (f *Fleet) addLoc(i int, loc string) {
	s := &f.srv
	s.locs = append(s.locs, loc)
	s.cmds[i].to = len(s.locs)
}

// uuid writes a version-4 UUID in lower case, as servers that use them
// for CmdIDs do.
func uuid(hi, lo uint64) string {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// Shares of how the server writes its messages.
const (
	serverPretty = 0.5  // indented, as most servers' templates are
	dataCDATA    = 0.22 // the install document as CDATA
	dataRaw      = 0.04 // as child elements of Data
	dataTwice    = 0.03 // escaped twice
	serverLate   = 0.04 // the server's copy is handed over after the answer
)

// serverMessage writes the server's message recorded for d's current
// message.
func (f *Fleet) serverMessage(d *device, at time.Time) *ServerMessage {
	s, r := &f.srv, f.srng
	w := writer{b: make([]byte, 0, 4096), pretty: r.Float64() < serverPretty}
	session, msgID := strconv.FormatInt(int64(d.session), 16), strconv.Itoa(s.msgID)
	w.syncHdr(d.syncml11, session, msgID, d.id, f.server)
	w.close("SyncHdr")
	w.open("SyncBody")
	for i, a := range s.acks {
		w.open("Status")
		if d.uuid {
			w.leaf("CmdID", "", uuid(r.Uint64(), r.Uint64()))
		} else {
			w.leaf("CmdID", "", strconv.Itoa(i+1))
		}
		w.leaf("MsgRef", "", msgID)
		w.leaf("CmdRef", "", strconv.Itoa(a.ref))
		w.leaf("Cmd", "", a.cmd)
		w.leaf("Data", "", "200")
		w.close("Status")
	}
	open := -1
	for i := range s.cmds {
		c := &s.cmds[i]
		if open >= 0 && c.parent != open {
			w.close("Atomic")
			open = -1
		}
		if c.kind == cmdAtomic {
			w.open("Atomic")
			w.leaf("CmdID", "", c.id)
			open = i
			continue
		}
		w.open(cmdNames[c.kind])
		w.leaf("CmdID", "", c.id)
		for _, loc := range s.locs[c.from:c.to] {
			w.open("Item")
			w.open("Target")
			w.value("LocURI", "", loc, false)
			w.close("Target")
			if c.kind == cmdExec {
				f.execData(&w, d, c.a)
			}
			w.close("Item")
		}
		w.close(cmdNames[c.kind])
	}
	if open >= 0 {
		w.close("Atomic")
	}
	w.empty("Final")
	w.close("SyncBody")
	w.close("SyncML")
	return &ServerMessage{Body: w.b, SessionID: session, MsgID: msgID, Commands: len(s.cmds), Events: s.events(), At: at,
		Late: r.Float64() < serverLate}
}

// events counts the command events of the message: one per item under a
// supported CSP, and one per Atomic holding such an item.
func (s *serverState) events() int {
	n := 0
	for i := range s.cmds {
		c := &s.cmds[i]
		for _, loc := range s.locs[c.from:c.to] {
			if underCSP(loc) {
				n++
			}
		}
		if c.kind != cmdAtomic {
			continue
		}
		for j := i + 1; j < len(s.cmds) && s.cmds[j].parent == i; j++ {
			if slices.ContainsFunc(s.locs[s.cmds[j].from:s.cmds[j].to], underCSP) {
				n++
				break
			}
		}
	}
	return n
}

// execData writes the Meta and Data of an install Exec's item: the
// MsiInstallJob or the Office Deployment Tool configuration, entity-escaped
// as most servers send it, as CDATA, as child elements, or escaped twice.
func (f *Fleet) execData(w *writer, d *device, a *assignment) {
	doc, format := "", "xml"
	if f.products[a.p].Kind == Office {
		doc, format = f.officeConfig(d, a), "chr"
	} else {
		doc = f.msiJob(a)
	}
	w.open("Meta")
	w.leaf("Format", ` xmlns="syncml:metinf"`, format)
	w.leaf("Type", ` xmlns="syncml:metinf"`, "text/plain")
	w.close("Meta")
	switch x := f.srng.Float64(); {
	case x < dataCDATA:
		w.value("Data", "", doc, true)
	case x < dataCDATA+dataRaw:
		w.raw("Data", doc)
	case x < dataCDATA+dataRaw+dataTwice:
		w.value("Data", "", string(escape(nil, doc)), false)
	default:
		w.value("Data", "", doc, false)
	}
}

// msiJob is the MsiInstallJob of a's product version: its ProductCode, the
// version, where its .msi is, its hash, and how msiexec runs it.
func (f *Fleet) msiJob(a *assignment) string {
	p := &f.products[a.p]
	file := p.fileName(a.ver)
	h := sha256.Sum256([]byte(p.Name + "\x00" + p.Versions[a.ver] + "\x00" + file))
	var b strings.Builder
	b.Grow(640)
	b.WriteString(`<MsiInstallJob id="{`)
	b.WriteString(f.ids[a.p][a.ver])
	b.WriteString(`}"><Product Version="`)
	b.WriteString(p.Versions[a.ver])
	b.WriteString(`"><Download><ContentURLList><ContentURL>`)
	path := slug(p.Name) + "/" + url.PathEscape(file)
	b.WriteString(f.content + path)
	if h[0]&1 == 0 {
		// A fallback location on the local distribution point.
		b.WriteString(`</ContentURL><ContentURL>http://dp01.corp.` + f.cfg.Tenant + `.com/sccm/` + path)
	}
	b.WriteString(`</ContentURL></ContentURLList></Download><Validation><FileHash>`)
	b.WriteString(strings.ToUpper(hex.EncodeToString(h[:])))
	b.WriteString(`</FileHash></Validation><Enforcement><CommandLine>`)
	b.WriteString(commandLines[int(h[1])%len(commandLines)])
	b.WriteString(`</CommandLine><TimeOut>`)
	b.WriteString(strconv.Itoa(5 * (1 + int(h[2])%12)))
	b.WriteString(`</TimeOut><RetryCount>`)
	b.WriteString(strconv.Itoa(1 + int(h[3])%5))
	b.WriteString(`</RetryCount><RetryInterval>`)
	b.WriteString(strconv.Itoa(5 * (1 + int(h[4])%3)))
	b.WriteString(`</RetryInterval></Enforcement></Product></MsiInstallJob>`)
	return b.String()
}

// commandLines are msiexec options servers send.
var commandLines = [...]string{"/quiet", "/qn /norestart", "/quiet /norestart ALLUSERS=1", "/qn REBOOT=ReallySuppress"}

// slug is a product's folder on the content server.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(c)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

// officeChannels are the update channels of the Office versions, oldest
// version first (repeated when there are more versions).
var officeChannels = [...]string{"MonthlyEnterprise", "Current"}

// officeConfig is the Office Deployment Tool configuration of a's
// installation: Microsoft 365 Apps, pinned to the version, in the device's
// language.
func (f *Fleet) officeConfig(d *device, a *assignment) string {
	h := sha256.Sum256([]byte(d.id))
	lang := strings.ToLower(d.info[4][1])
	var b strings.Builder
	b.WriteString(`<Configuration><Add OfficeClientEdition="64" Channel="`)
	b.WriteString(officeChannels[a.ver%len(officeChannels)])
	b.WriteString(`" Version="`)
	b.WriteString(f.products[a.p].Versions[a.ver])
	b.WriteString(`"><Product ID="O365ProPlusRetail"><Language ID="`)
	b.WriteString(lang)
	b.WriteString(`"/>`)
	if lang != "en-us" && h[0]&1 == 0 {
		b.WriteString(`<Language ID="en-us"/>`)
	}
	if h[1]&1 == 0 {
		b.WriteString(`<ExcludeApp ID="Groove"/><ExcludeApp ID="Lync"/>`)
	}
	b.WriteString(`</Product></Add><Property Name="FORCEAPPSHUTDOWN" Value="TRUE"/><Display Level="None" AcceptEULA="TRUE"/></Configuration>`)
	return b.String()
}
