// Package fleet is a deterministic synthetic fleet of Windows devices under
// MDM: it yields both halves of the OMA-DM conversations in which the
// server installs MSI products (EnterpriseDesktopAppManagement CSP) and
// Microsoft 365 Apps (Office CSP) on the devices: the messages the devices
// send, one per call, each with the server's message it answers (when
// Config.Commands is set), as the load generator, `make demo` and the
// benchmarks need.
//
// Each device runs OMA-DM sessions: package 1 (Alert 1201, LoginStatus,
// DevInfo Replace, and the generic alerts of installs that finished), the
// server's package 2 (Status for package 1, then its commands: Add and
// Exec of MSI/{ProductID}/DownloadInstall with an MsiInstallJob, sometimes
// in an Atomic; Exec of Office/Installation/{id}/install with an Office
// Deployment Tool configuration; Gets of compliance nodes and of the
// installs' Status), the device's answers (a Status per command with the
// command's MsgID and CmdID as MsgRef and CmdRef, Results of every Get), and
// now and then a Get of the MSI inventory and its answer. Installs move
// through their real states (MSI Status 10/20/25/40/48/50/55 to 70, 60 or
// 30; Office Status 997 to 0 or a failure with FinalStatus 70/60) and end
// with a win32csp_install generic alert for MSIs; a few MSI jobs never
// create their node, and the device answers the server's Gets of it with
// 404 (msft:originalerror 0x86000002) and no TargetRef. A share of
// sessions have UUID CmdIDs. The variants real devices show (DESIGN.md)
// appear at low rates.
//
// Every version of a product is its own MSI product (Table): its own
// ProductCode, MsiInstallJob and .msi file.
//
// The same Config (and Seed) always yields the same bytes, and the device
// messages do not depend on Config.Commands.
package fleet

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Config describes the fleet. The zero value of a field means its default.
type Config struct {
	// Devices in the fleet; default 5,000.
	Devices int
	// Seed makes the fleet: the same seed, the same messages.
	Seed int64
	// Tenant names the MDM server the devices talk to (SyncHdr Target);
	// default "contoso".
	Tenant string
	// Products to install; default DefaultProducts().
	Products []Product
	// Start stamps the first message; each further message is Step later.
	// Defaults: 2026-03-02T08:00:00Z and 20ms. Ignored when Clock is set.
	Start time.Time
	Step  time.Duration
	// Clock, when set, stamps messages instead of Start and Step (for live
	// runs); the bytes then depend on it.
	Clock func() time.Time
	// Spike, when set, injects a failure spike.
	Spike *Spike
	// Commands makes every device message that answers the server carry
	// the server's message it answers (Message.Server). The device
	// messages are the same bytes either way.
	Commands bool
}

// Spike makes one product version fail with one code from a given message
// on: at message Start the version is rolled out to every device that does
// not run it, and from then on the installs of that version fail with Code
// on a Fraction of the devices. Devices are chosen once each, in the order
// they report the version's result, so that at every message at least
// Fraction of the distinct devices that reported it since Start failed with
// Code (and at most one more). Before Start the version never fails with
// Code, so the spike stands out against a clean baseline.
type Spike struct {
	// Product is a product's Name or ID (case-insensitive).
	Product string
	// Version is one of its Versions; empty means the newest.
	Version string
	// Code is the failure: a Win32 code such as 1603 (MSI alerts carry it as
	// is, LastError as its FACILITY_WIN32 HRESULT), an HRESULT, or an Office
	// status code.
	Code int64
	// Start is the index (0-based) of the message from which it applies.
	Start int
	// Fraction of the devices that fail, in (0, 1].
	Fraction float64
}

// Message is one device message: the body of one webhook request to
// ingest's /v1/syncml.
type Message struct {
	DeviceID string
	Body     []byte
	// GenericAlert is set when the message carries a critical generic
	// alert, which makes the MDM server add the MDM-GenericAlert header.
	GenericAlert bool
	// Events is how many install events the message yields under the rules
	// of DESIGN.md ("Which items become events").
	Events int
	// At is when the device sent it.
	At time.Time
	// Index is the message's position in the fleet's sequence, from 0.
	Index int
	// Server is the server's message this one answers, when Config.Commands
	// is set; nil for a session's first message, which answers none.
	Server *ServerMessage
}

// ServerMessage is one message the MDM server sent a device: the body of
// one webhook request to ingest's /v1/syncml/commands.
type ServerMessage struct {
	Body []byte
	// SessionID and MsgID are its SyncHdr's, as sent: the device's answer
	// has the same SessionID and this MsgID as MsgRef.
	SessionID, MsgID string
	// Commands counts the commands it holds, containers (Atomic) and the
	// commands in them included, Status not.
	Commands int
	// Events is how many command events it yields: one per item of a
	// command under a supported CSP, one per Atomic holding such an item
	// (ingest's /v1/syncml/commands, normalize.BuildCommands).
	Events int
	// At is when the server sent it: the device's answer's At.
	At time.Time
	// Late: the MDM server hands its copy of this message over only after
	// the device's answer (a deterministic few per cent), so that whoever
	// posts them reverses their order.
	Late bool
}

var (
	defaultStart = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	errConfig    = errors.New("fleet config")
)

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.Devices < 0 {
		return fmt.Errorf("%w: devices %d < 0", errConfig, c.Devices)
	}
	if c.Step < 0 {
		return fmt.Errorf("%w: step %s < 0", errConfig, c.Step)
	}
	for i, p := range c.Products {
		if p.Name == "" || len(p.Versions) == 0 {
			return fmt.Errorf("%w: product %d needs a name and versions", errConfig, i)
		}
		if p.Share < 0 || p.Share > 1 || p.UserShare < 0 || p.UserShare > 1 {
			return fmt.Errorf("%w: product %q shares outside [0,1]", errConfig, p.Name)
		}
	}
	if s := c.Spike; s != nil {
		if s.Fraction <= 0 || s.Fraction > 1 || math.IsNaN(s.Fraction) {
			return fmt.Errorf("%w: spike fraction %v outside (0,1]", errConfig, s.Fraction)
		}
		if s.Start < 0 {
			return fmt.Errorf("%w: spike start %d < 0", errConfig, s.Start)
		}
		if _, _, ok := findProduct(c.products(), s.Product, s.Version); !ok {
			return fmt.Errorf("%w: spike product %q version %q not in the fleet", errConfig, s.Product, s.Version)
		}
	}
	// Each version is its own MSI product: no two may share a ProductCode.
	seen := map[string]string{}
	for _, pv := range Table(c.products()) {
		key := strings.ToUpper(pv.ProductID)
		if other, dup := seen[key]; dup {
			return fmt.Errorf("%w: %s %s and %s share the id %s", errConfig, pv.Name, pv.Version, other, pv.ProductID)
		}
		seen[key] = pv.Name + " " + pv.Version
	}
	return nil
}

func (c *Config) products() []Product {
	if len(c.Products) == 0 {
		return DefaultProducts()
	}
	return c.Products
}

func findProduct(ps []Product, name, version string) (int, int, bool) {
	for i := range ps {
		p := &ps[i]
		if !strings.EqualFold(p.Name, name) && !matchesID(p, name) {
			continue
		}
		if version == "" {
			return i, len(p.Versions) - 1, true
		}
		for v, s := range p.Versions {
			if s == version {
				return i, v, true
			}
		}
	}
	return 0, 0, false
}

func matchesID(p *Product, id string) bool {
	id = strings.Trim(id, "{}")
	for v := range p.Versions {
		if strings.EqualFold(p.id(v), id) {
			return true
		}
	}
	return false
}

// Fleet yields the fleet's messages. It is not safe for concurrent use.
type Fleet struct {
	cfg      Config
	products []Product
	rng      *rand.Rand
	devices  []*device
	n        int
	server   string
	spike    *spikeState
	w        writer
	// ids and lids are the products' ids per version, upper and lower case.
	ids, lids [][]string
	// srv is the server's message the device message being made answers.
	srv serverState
	// srng decides how the server's messages are written (never what they
	// say), only when Config.Commands asks for them, so that the device
	// messages do not depend on it.
	srng *rand.Rand
	// content is the base URL of the server's MSI downloads.
	content string
}

type spikeState struct {
	Spike
	product, version int
	code             int64 // Code as the codes package reads it
	rolled           bool
	// decided counts the devices that reported the version since the
	// spike began; failing, those of them that failed with code.
	decided, failing int
}

// New returns the fleet cfg describes.
func New(cfg Config) (*Fleet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Devices == 0 {
		cfg.Devices = 5000
	}
	if cfg.Tenant == "" {
		cfg.Tenant = "contoso"
	}
	if cfg.Start.IsZero() {
		cfg.Start = defaultStart
	}
	if cfg.Step == 0 {
		cfg.Step = 20 * time.Millisecond
	}
	f := &Fleet{
		cfg:      cfg,
		products: cfg.products(),
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		srng:     rand.New(rand.NewPCG(uint64(cfg.Seed)^0x5851f42d4c957f2d, uint64(cfg.Seed)+0x14057b7ef767814f)),
		server:   "https://mdm." + cfg.Tenant + ".com/omadm/WindowsMDM.ashx",
		content:  "https://cdn." + cfg.Tenant + ".com/mdm/apps/",
	}
	for i := range f.products {
		p := &f.products[i]
		ids, lids := make([]string, len(p.Versions)), make([]string, len(p.Versions))
		for v := range p.Versions {
			ids[v] = p.id(v)
			lids[v] = strings.ToLower(ids[v])
		}
		f.ids, f.lids = append(f.ids, ids), append(f.lids, lids)
	}
	if s := cfg.Spike; s != nil {
		p, v, _ := findProduct(f.products, s.Product, s.Version)
		f.spike = &spikeState{Spike: *s, product: p, version: v, code: normCode(s.Code)}
	}
	f.srv.reset()
	f.devices = make([]*device, cfg.Devices)
	for i := range f.devices {
		f.devices[i] = f.newDevice(i)
	}
	return f, nil
}

// Next returns the next message of the fleet: a message of a device's open
// session, or the first message of a new session of a device chosen at
// random. The Body is freshly allocated and belongs to the caller.
func (f *Fleet) Next() Message {
	idx := f.n
	f.n++
	at := f.cfg.Start.Add(time.Duration(idx) * f.cfg.Step)
	if f.cfg.Clock != nil {
		at = f.cfg.Clock()
	}
	if s := f.spike; s != nil && !s.rolled && idx >= s.Start {
		s.rolled = true
		for _, d := range f.devices {
			f.rollout(d, s.product, s.version)
		}
	}
	d := f.devices[f.rng.IntN(len(f.devices))]
	m := Message{DeviceID: d.id, At: at, Index: idx}
	f.w = writer{b: make([]byte, 0, 8192)}
	f.srv.reset()
	f.style(d)
	switch d.next {
	case 0:
		f.sessionStart(d, &m, at)
	case 2:
		f.answers(d, &m, at)
	case 3:
		f.inventory(d, &m, at)
	}
	m.Body = f.w.b
	if f.cfg.Commands && f.srv.msgID != 0 {
		m.Server = f.serverMessage(d, at)
	}
	return m
}

// Table is the fleet's product table: every version of every product, with
// its ProductID and MSI file.
func (f *Fleet) Table() []ProductVersion { return Table(f.products) }

// Server is the URL of the MDM server the devices talk to (the Target of
// their messages, the Source of the server's).
func (f *Fleet) Server() string { return f.server }

// style picks the per-message variants.
func (f *Fleet) style(d *device) {
	f.w.pretty = f.rng.Float64() < 0.08
	f.w.pad = f.rng.Float64() < 0.03
	if f.rng.Float64() < 0.05 {
		if f.rng.Float64() < 0.3 {
			f.w.b = append(f.w.b, 0xEF, 0xBB, 0xBF)
		}
		f.w.b = append(f.w.b, `<?xml version="1.0" encoding="UTF-8"?>`...)
	}
	d.meta = ` xmlns="syncml:metinf"`
	if f.rng.Float64() < 0.03 {
		d.meta = ""
	}
	d.flatMeta = f.rng.Float64() < 0.02
	d.cdata = f.rng.Float64() < 0.03
	d.targetRef = f.rng.Float64() < 0.2
}

// header writes the SyncML root, SyncHdr and the SyncBody start tag.
func (f *Fleet) header(d *device, msgID int) {
	w := &f.w
	if d.syncml11 {
		w.openAttr("SyncML", ` xmlns="SYNCML:SYNCML1.1"`)
		w.open("SyncHdr")
		w.leaf("VerDTD", "", "1.1")
		w.leaf("VerProto", "", "DM/1.1")
	} else {
		w.openAttr("SyncML", ` xmlns="SYNCML:SYNCML1.2"`)
		w.open("SyncHdr")
		w.leaf("VerDTD", "", "1.2")
		w.leaf("VerProto", "", "DM/1.2")
	}
	w.leaf("SessionID", "", strconv.FormatInt(int64(d.session), 16))
	w.leaf("MsgID", "", strconv.Itoa(msgID))
	w.open("Target")
	w.value("LocURI", "", f.server, false)
	w.close("Target")
	w.open("Source")
	w.value("LocURI", "", d.id, false)
	w.close("Source")
	if msgID == 1 {
		w.open("Meta")
		w.leaf("MaxMsgSize", d.meta, "524288")
		w.close("Meta")
	}
	w.close("SyncHdr")
	if d.v3 {
		w.openAttr("SyncBody", ` xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM"`)
	} else {
		w.open("SyncBody")
	}
}

func (f *Fleet) footer() {
	f.w.empty("Final")
	f.w.close("SyncBody")
	f.w.close("SyncML")
}

// sessionStart writes package 1: session alert, client events, install
// alerts of finished installs, and DevInfo.
func (f *Fleet) sessionStart(d *device, m *Message, at time.Time) {
	d.session++
	f.header(d, 1)
	w := &f.w
	cmd := 1
	w.open("Alert")
	cmd++
	w.leaf("CmdID", "", strconv.Itoa(cmd))
	code := "1201"
	if f.rng.Float64() < 0.15 {
		code = "1200" // server-initiated (push notification)
	}
	w.leaf("Data", "", code)
	w.close("Alert")
	cmd++
	f.clientEvent(d, cmd, "com.microsoft/MDM/LoginStatus", d.login)
	if f.rng.Float64() < 0.1 {
		cmd++
		f.clientEvent(d, cmd, "com.microsoft.mdm.synctype", "mixed")
	}
	for _, a := range d.asg {
		if a.state != stAlert {
			continue
		}
		cmd++
		f.settle(d, a)
		f.installAlert(d, a, cmd, m)
		a.state = stFinal
	}
	f.plan(d, at)
	cmd++
	w.open("Replace")
	w.leaf("CmdID", "", strconv.Itoa(cmd))
	for _, kv := range d.devInfo(at) {
		w.open("Item")
		w.open("Source")
		w.value("LocURI", "", kv[0], false)
		w.close("Source")
		w.value("Data", "", kv[1], false)
		w.close("Item")
	}
	w.close("Replace")
	f.footer()
	d.p1Last = cmd
	d.next = 2
}

func (f *Fleet) clientEvent(d *device, cmd int, typ, data string) {
	w := &f.w
	w.open("Alert")
	w.leaf("CmdID", "", strconv.Itoa(cmd))
	w.leaf("Data", "", "1224")
	w.open("Item")
	w.open("Meta")
	w.leaf("Type", d.meta, typ)
	w.leaf("Format", d.meta, "chr")
	w.close("Meta")
	w.value("Data", "", data, false)
	w.close("Item")
	w.close("Alert")
}

// installAlert writes the win32csp_install generic alert of a finished MSI
// install.
func (f *Fleet) installAlert(d *device, a *assignment, cmd int, m *Message) {
	w := &f.w
	w.open("Alert")
	w.leaf("CmdID", "", strconv.Itoa(cmd))
	alert := "1226"
	if f.rng.Float64() < 0.2 {
		alert = "1224" // as in the EnterpriseDesktopAppManagement reference
	}
	w.leaf("Data", "", alert)
	w.open("Item")
	w.open("Source")
	w.value("LocURI", "", f.path(a, nodeDownloadInstall), false)
	w.close("Source")
	mark := "informational"
	if a.failed() {
		mark = "critical"
		m.GenericAlert = true
	}
	if d.flatMeta {
		w.leaf("Type", "", "Reversed-Domain-Name:com.microsoft.mdm.win32csp_install")
		w.leaf("Format", "", "int")
		w.leaf("Mark", "", mark)
	} else {
		w.open("Meta")
		w.leaf("Type", d.meta, "Reversed-Domain-Name:com.microsoft.mdm.win32csp_install")
		w.leaf("Format", d.meta, "int")
		w.leaf("Mark", d.meta, mark)
		w.close("Meta")
	}
	attrs := ""
	if d.v3 && a.origError != "" && f.rng.Float64() < 0.5 {
		attrs = ` msft:originalerror="` + a.origError + `"`
	}
	w.value("Data", attrs, a.alertData, false)
	w.close("Item")
	w.close("Alert")
	m.Events++
}

// answers writes the device's answers to the server's package 2, which is
// decided here, command by command, as the device answers it: a Status for
// the SyncHdr and for every command, Results for every Get.
func (f *Fleet) answers(d *device, m *Message, at time.Time) {
	d.uuid = f.rng.Float64() < uuidSessions
	f.serverBegins(d, 1)
	f.header(d, 2)
	d.results = d.results[:0]
	c := &cmdCounter{}
	f.status(d, m, c, "1", "0", "SyncHdr", "", "200", "")
	// New installs: MSI Add then Exec of DownloadInstall (sometimes in an
	// Atomic); Office Exec of Installation/{id}/install.
	for _, a := range d.asg {
		if a.state == stExec {
			f.install(d, a, m, c)
		}
	}
	// Compliance Gets every session.
	for _, kv := range d.compliance(f.rng) {
		g := f.command(d, cmdGet, -1, nil)
		f.addLoc(g, kv[0])
		ref := f.srv.cmds[g].id
		f.status(d, m, c, "1", ref, "Get", kv[0], "200", "")
		f.results(d, c, "1", ref, func() { f.item(kv[0], kv[1], kv[2], "", false) })
	}
	// Install status Gets: the server reads the nodes the device then
	// reports, so the Get's items are recorded as the Results are written.
	for _, a := range d.asg {
		switch a.state {
		case stProgress, stFinal, stStuck:
		default:
			continue
		}
		g := f.command(d, cmdGet, -1, a)
		ref := f.srv.cmds[g].id
		if a.vanished {
			f.vanishedGet(d, a, m, c, g, at)
			continue
		}
		f.status(d, m, c, "1", ref, "Get", f.path(a, nodeStatus), "200", "")
		f.srv.rec = g
		f.results(d, c, "1", ref, func() { f.installResults(d, a, m, at) })
		f.srv.rec = -1
	}
	f.footer()
	d.next = 0
	if f.rng.Float64() < 0.25 {
		d.next = 3
	}
}

// install writes the device's answers to the server's install commands of
// a, deciding them: whether the device accepts the job (and begins it).
func (f *Fleet) install(d *device, a *assignment, m *Message, c *cmdCounter) {
	if f.products[a.p].Kind == Office {
		target := f.path(a, nodeInstall)
		e := f.command(d, cmdExec, -1, a)
		f.addLoc(e, target)
		code, orig := "202", ""
		if f.rng.Float64() < 0.015 {
			code, orig = f.execFailure()
		}
		f.status(d, m, c, "1", f.srv.cmds[e].id, "Exec", target, code, orig)
		f.accepted(a, code == "202")
		return
	}
	target := f.path(a, nodeDownloadInstall)
	atomic := f.rng.Float64() < atomicShare
	parent := -1
	if atomic {
		parent = f.command(d, cmdAtomic, -1, nil)
	}
	add := f.command(d, cmdAdd, parent, nil)
	f.addLoc(add, target)
	exec := f.command(d, cmdExec, parent, a)
	f.addLoc(exec, target)
	addCode := "200"
	if !atomic && f.rng.Float64() < 0.01 {
		addCode = "418" // already exists: a job left from an earlier push
	}
	code, orig := "202", ""
	if f.rng.Float64() < 0.015 {
		code, orig = f.execFailure()
	}
	if atomic {
		// An Atomic fails as a whole: the Add is rolled back.
		status := "200"
		if code != "202" {
			status, addCode = "507", "216"
		}
		f.status(d, m, c, "1", f.srv.cmds[parent].id, "Atomic", "", status, "")
	}
	f.status(d, m, c, "1", f.srv.cmds[add].id, "Add", target, addCode, "")
	f.status(d, m, c, "1", f.srv.cmds[exec].id, "Exec", target, code, orig)
	f.accepted(a, code == "202")
}

// accepted begins a's install, or records that the device refused it.
func (f *Fleet) accepted(a *assignment, ok bool) {
	if ok {
		f.begin(a)
		return
	}
	a.state, a.refused = stDone, true
}

// vanishedGet answers the server's Get of the Status of an MSI job that
// never created its node: 404 with the HRESULT of a missing node
// (0x86000002) and no TargetRef, as real devices answer. That answer names
// no product; only the Get it answers does. After the job's steps the
// server gives up: the install failed.
func (f *Fleet) vanishedGet(d *device, a *assignment, m *Message, c *cmdCounter, g int, at time.Time) {
	f.addLoc(g, f.path(a, nodeStatus))
	f.addLoc(g, f.path(a, nodeLastError))
	tr := d.targetRef
	d.targetRef = false
	f.status(d, m, c, "1", f.srv.cmds[g].id, "Get", "", "404", "0x86000002")
	d.targetRef = tr
	a.step++
	if a.step >= len(a.steps) {
		a.state, a.doneAt = stDone, at
	}
}

// inventory writes a third message: the Results of the server's Get over
// the MSI inventory, managed and unmanaged products alike.
func (f *Fleet) inventory(d *device, m *Message, at time.Time) {
	f.serverBegins(d, 2)
	f.header(d, 3)
	c := &cmdCounter{}
	f.status(d, m, c, "2", "0", "SyncHdr", "", "200", "")
	const root = "./Vendor/MSFT/EnterpriseDesktopAppManagement/MSI"
	g := f.command(d, cmdGet, -1, nil)
	f.addLoc(g, root)
	ref := f.srv.cmds[g].id
	f.status(d, m, c, "2", ref, "Get", root, "200", "")
	f.results(d, c, "2", ref, func() {
		for _, a := range d.asg {
			if a.state == stDone && !a.refused && !a.vanished && !a.user && f.products[a.p].Kind == MSI {
				f.msiDescriptive(d, a, m, true)
			}
		}
		for _, u := range d.unmanaged {
			f.unmanagedItems(u)
			m.Events++
		}
	})
	f.footer()
	d.next = 0
}

type cmdCounter struct{ n int }

func (c *cmdCounter) next() string { c.n++; return strconv.Itoa(c.n) }

// status writes the device's Status for the server's command cmdRef (a
// CmdID as the server sent it) of its message msgRef.
func (f *Fleet) status(d *device, m *Message, c *cmdCounter, msgRef, cmdRef, cmd, target, code, orig string) {
	w := &f.w
	w.open("Status")
	w.leaf("CmdID", "", c.next())
	w.leaf("MsgRef", "", msgRef)
	w.leaf("CmdRef", "", cmdRef)
	w.leaf("Cmd", "", cmd)
	if d.targetRef && target != "" {
		w.value("TargetRef", "", target, false)
	}
	attrs := ""
	if orig != "" && d.v3 {
		attrs = ` msft:originalerror="` + orig + `"`
	}
	w.leaf("Data", attrs, code)
	w.close("Status")
	if cmd == "SyncHdr" {
		return
	}
	if code[0] != '2' || (d.targetRef && underCSP(target)) {
		m.Events++
	}
}

func underCSP(loc string) bool {
	return strings.Contains(loc, "/Vendor/MSFT/EnterpriseDesktopAppManagement/") ||
		strings.Contains(loc, "/Vendor/MSFT/Office/")
}

// execFailure picks the OMA-DM status of an Exec the client refused, with
// the HRESULT behind it for SyncApplicationVersion 3.0 clients.
func (f *Fleet) execFailure() (code, orig string) {
	switch f.rng.IntN(5) {
	case 0:
		return "405", "0x80070005" // E_ACCESSDENIED
	case 1:
		return "404", "0x80070002" // ERROR_FILE_NOT_FOUND
	case 2:
		return "406", "0x80004001" // E_NOTIMPL
	default:
		return "500", "0x80004005" // E_FAIL
	}
}

// results writes the Results of the server's Get cmdRef, and records its
// CmdID for the Status the server's next message gives it.
func (f *Fleet) results(d *device, c *cmdCounter, msgRef, cmdRef string, items func()) {
	w := &f.w
	w.open("Results")
	w.leaf("CmdID", "", c.next())
	d.results = append(d.results, c.n)
	w.leaf("MsgRef", "", msgRef)
	w.leaf("CmdRef", "", cmdRef)
	items()
	w.close("Results")
}

// item writes one Results item; the node is one the server's Get being
// recorded reads.
func (f *Fleet) item(loc, format, data, meta string, cdata bool) {
	if f.srv.rec >= 0 {
		f.addLoc(f.srv.rec, loc)
	}
	w := &f.w
	w.open("Item")
	w.open("Source")
	w.value("LocURI", "", loc, false)
	w.close("Source")
	w.open("Meta")
	w.leaf("Format", meta, format)
	if format == "chr" {
		w.leaf("Type", meta, "text/plain")
	}
	w.close("Meta")
	w.value("Data", "", data, cdata && format == "chr")
	w.close("Item")
}

// installResults writes the install-status items of one assignment and
// advances it.
func (f *Fleet) installResults(d *device, a *assignment, m *Message, at time.Time) {
	p := &f.products[a.p]
	if a.state == stProgress {
		code := a.steps[a.step]
		a.step++
		if p.Kind == Office {
			f.item(f.path(a, nodeStatus), "int", strconv.FormatInt(code, 10), d.meta, false)
			f.item(f.officeCurrent(a), "chr", currentStatus("Installing", p.Versions[a.ver]), d.meta, d.cdata)
			m.Events += 2
		} else {
			f.item(f.path(a, nodeStatus), "int", strconv.FormatInt(code, 10), d.meta, false)
			f.item(f.path(a, nodeLastError), "int", "0", d.meta, false)
			m.Events += 2
		}
		if a.step == len(a.steps) {
			f.finish(d, a, at)
		}
		return
	}
	if a.state == stStuck {
		code := a.steps[len(a.steps)-1]
		f.item(f.path(a, nodeStatus), "int", strconv.FormatInt(code, 10), d.meta, false)
		if p.Kind == Office {
			f.item(f.officeCurrent(a), "chr", currentStatus("Installing", p.Versions[a.ver]), d.meta, d.cdata)
		} else {
			f.item(f.path(a, nodeLastError), "int", "0", d.meta, false)
		}
		m.Events += 2
		return
	}
	// stFinal: the terminal state with details.
	if p.Kind == Office {
		f.settle(d, a)
		f.item(f.path(a, nodeStatus), "int", a.statusData, d.meta, false)
		final, state := "70", "Succeeded"
		if a.failed() {
			final, state = "60", "Failed"
		}
		f.item(f.path(a, nodeFinalStatus), "int", final, d.meta, false)
		f.item(f.officeCurrent(a), "chr", currentStatus(state, p.Versions[a.ver]), d.meta, d.cdata)
		m.Events += 3
	} else {
		f.msiDescriptive(d, a, m, false)
	}
	a.state = stDone
	a.doneAt = at
}

// msiDescriptive writes Status, LastError and the descriptive nodes of a
// finished MSI install.
func (f *Fleet) msiDescriptive(d *device, a *assignment, m *Message, inventory bool) {
	p := &f.products[a.p]
	status := "70"
	if a.failed() {
		status = "60"
		if a.download {
			status = "30"
		}
	}
	f.item(f.path(a, nodeStatus), "int", status, d.meta, false)
	f.item(f.path(a, nodeLastError), "int", a.lastError, d.meta, false)
	m.Events += 2
	if a.failed() {
		if a.lastErrorDesc != "" {
			f.item(f.path(a, nodeLastErrorDesc), "chr", a.lastErrorDesc, d.meta, d.cdata)
		}
		return
	}
	f.item(f.path(a, nodeName), "chr", p.Name, d.meta, d.cdata)
	f.item(f.path(a, nodeVersion), "chr", p.Versions[a.ver], d.meta, false)
	f.item(f.path(a, nodePublisher), "chr", p.Publisher, d.meta, d.cdata)
	f.item(f.path(a, nodeInstallDate), "chr", a.doneAt.Format("20060102"), d.meta, false)
	f.item(f.path(a, nodeInstallPath), "chr", p.InstallPath, d.meta, false)
}

func (f *Fleet) unmanagedItems(u unmanaged) {
	base := "./Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7B" + u.id + "%7D/"
	f.item(base+"Name", "chr", u.name, "", false)
	f.item(base+"Version", "chr", u.version, "", false)
	f.item(base+"Publisher", "chr", u.publisher, "", false)
	f.item(base+"InstallDate", "chr", u.date, "", false)
	f.item(base+"InstallPath", "chr", u.path, "", false)
}

// currentStatus is the chr XML the Office CSP's CurrentStatus node holds.
func currentStatus(state, version string) string {
	return `<Status><State>` + state + `</State><Version>` + version + `</Version></Status>`
}
