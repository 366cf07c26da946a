package fleet

import (
	"strconv"
	"strings"
	"time"
)

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
	w.syncHdr(d.syncml11, strconv.FormatInt(int64(d.session), 16), strconv.Itoa(msgID), f.server, d.id)
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
