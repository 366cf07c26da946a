package fleet

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// state is where an assignment stands, seen from the server's side of the
// conversation: what the device will say about it in its next messages.
type state uint8

const (
	// stExec: the server sends the install command (MSI Add and Exec of
	// DownloadInstall, Office Exec of install) in the next package 2.
	stExec state = iota
	// stProgress: installing; each package 2 answers a Get of Status with
	// the next of the assignment's steps.
	stProgress
	// stStuck: stopped at its last step (a user who never signs in, a
	// Click-to-Run job that hangs) until plan moves it on.
	stStuck
	// stAlert: an MSI install finished; its generic alert goes in the next
	// package 1.
	stAlert
	// stFinal: finished (and alerted, for MSIs); the next package 2 reads
	// the terminal state and the product's details.
	stFinal
	// stDone: reported; nothing happens until the server pushes again.
	stDone
)

// node names a CSP node of an install, indexing nodeNames.
type node uint8

const (
	nodeDownloadInstall node = iota
	nodeInstall
	nodeStatus
	nodeFinalStatus
	nodeLastError
	nodeLastErrorDesc
	nodeName
	nodeVersion
	nodePublisher
	nodeInstallDate
	nodeInstallPath
	nodeCount
)

// nodeNames are the names the CSP references spell; the Office CSP's
// Installation/{id}/install is lower case there.
var nodeNames = [nodeCount]string{
	"DownloadInstall", "install", "Status", "FinalStatus", "LastError", "LastErrorDesc",
	"Name", "Version", "Publisher", "InstallDate", "InstallPath",
}

// lowerNodes and upperInstall are the case variants some clients echo.
var lowerNodes = [nodeCount]string{
	"downloadinstall", "install", "status", "finalstatus", "lasterror", "lasterrordesc",
	"name", "version", "publisher", "installdate", "installpath",
}

// guidStyle is how a device writes the GUID segment of a LocURI: the
// server chose it when it sent the command, and the device echoes it.
type guidStyle uint8

const (
	guidPercent      guidStyle = iota // %7B...%7D, as the MSI reference writes it
	guidBare                          // no braces, as the Office reference writes it
	guidBraced                        // {...}
	guidLowerBraced                   // {...} in lower case
	guidPercentLower                  // %7b...%7d in lower case
)

// device is one managed Windows device and its conversation state.
type device struct {
	id string
	// next is the message the device sends next: 0 starts a session
	// (package 1), 2 answers the server's package 2, 3 answers a follow-up
	// inventory Get.
	next int
	// session counts the device's sessions; SessionID is its hex form.
	session int
	// uuid: the server's commands of this session have UUID CmdIDs.
	uuid bool
	// p1Last is the CmdID of the last command (the DevInfo Replace) of the
	// session's package 1, which the server's package 2 acknowledges
	// command by command; results are the CmdIDs of the Results of the
	// device's last answer, which the server's next message acknowledges.
	p1Last  int
	results []int
	login   string
	info    [7][2]string

	asg       []*assignment
	unmanaged []unmanaged
	// spike: 0 not yet decided, 1 fails the spiked version, 2 does not.
	spike int8

	// Traits of the device's client, fixed for its life.
	v3           bool // SyncApplicationVersion 3.0+: msft:originalerror on failures
	syncml11     bool // says SYNCML:SYNCML1.1
	bareVendor   bool // device scope as ./Vendor/MSFT/ rather than ./Device/Vendor/MSFT/
	lowerNodes   bool // echoes MSI node names in lower case
	upperInstall bool // echoes the Office node as Install
	hexHR        bool // writes HRESULTs as 0x... rather than negative decimals
	alertHR      bool // puts Win32 results in alerts as their HRESULT
	msiGUID      guidStyle
	officeGUID   guidStyle

	// Per-message variants, set by Fleet.style.
	meta      string // the attribute of Meta children
	flatMeta  bool   // Type, Format and Mark directly under Item
	cdata     bool   // chr values in CDATA sections
	targetRef bool   // Status carries TargetRef
}

// assignment is one product the server installs on a device.
type assignment struct {
	d     *device
	p     int // index into Fleet.products
	ver   int // index into the product's Versions
	user  bool
	state state
	// steps are the status values the device reports in turn while
	// installing: shared, read-only tables.
	steps []int64
	step  int
	// code is the install's result as the codes package reads it: 0, a
	// Win32 code, or an HRESULT as a negative 32-bit value; for Office, the
	// Status value.
	code int64
	// refused: the device answered the Exec with a failure status, so no
	// install ran and no result will come.
	refused bool
	// download: the MSI failed while downloading (Status 30, not 60).
	download bool
	// vanished: the job never created its MSI/{id} node, so the device
	// answers every Get of it with 404 and no install result comes.
	vanished bool
	// stalled: the install has been stuck once already.
	stalled bool
	// The code as the device writes it in each place, made by encode.
	alertData, lastError, statusData, lastErrorDesc, origError string
	doneAt                                                     time.Time
}

// failed reports whether the install ended in failure. 3010 and 1641 are
// successes that ask for a restart.
func (a *assignment) failed() bool {
	return a.refused || a.vanished || a.code != 0 && a.code != 3010 && a.code != 1641
}

// unmanaged is an MSI product the device has that no server assigned; it
// shows only in inventories.
type unmanaged struct {
	id, name, version, publisher, date, path string
}

// devInfo is the DevInfo the device replaces at the start of each session.
func (d *device) devInfo(at time.Time) [8][2]string {
	var out [8][2]string
	copy(out[:], d.info[:])
	out[7] = [2]string{"./DevDetail/Ext/Microsoft/LocalTime", at.Format("2006-01-02T15:04:05.0000000-07:00")}
	return out
}

// complianceNodes are what the server reads every session besides installs:
// none lies under a supported CSP, so they yield no events.
var complianceNodes = [...][3]string{
	{"./DevDetail/SwV", "chr", "10.0.22631.4460"},
	{"./Vendor/MSFT/DeviceStatus/Compliance/EncryptionCompliance", "int", "1"},
	{"./Vendor/MSFT/DeviceStatus/Antivirus/Status", "int", "0"},
	{"./Vendor/MSFT/DeviceStatus/Firewall/Status", "int", "0"},
	{"./Vendor/MSFT/DeviceStatus/TPM/SpecificationVersion", "chr", "2.0"},
	{"./DevDetail/Ext/Microsoft/OSPlatform", "chr", "Windows 11 Enterprise"},
}

// compliance returns the compliance nodes read this session: a run of the
// table, so that no slice is allocated.
func (d *device) compliance(r *rand.Rand) [][3]string {
	n := 1 + r.IntN(len(complianceNodes)-1)
	s := r.IntN(len(complianceNodes) - n + 1)
	return complianceNodes[s : s+n]
}

var (
	logins = [...]string{"user", "user", "user", "others", "none", "unknown"}
	models = [...][2]string{
		{"Dell Inc.", "Latitude 5440"}, {"Dell Inc.", "OptiPlex 7010"}, {"LENOVO", "21HD0027GE"},
		{"LENOVO", "20XW00K8US"}, {"HP", "HP EliteBook 840 G10"}, {"HP", "HP ProDesk 400 G9"},
		{"Microsoft Corporation", "Surface Laptop 5"}, {"Microsoft Corporation", "Virtual Machine"},
	}
	langs = [...]string{"en-US", "en-US", "en-GB", "de-DE", "fr-FR", "ja-JP"}
)

// unmanagedCatalog is what devices commonly have installed outside MDM.
var unmanagedCatalog = [...][4]string{
	{"Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.40.33810", "14.40.33810.0", "Microsoft Corporation", `C:\ProgramData\Package Cache\`},
	{"Microsoft Visual C++ 2015-2022 Redistributable (x86) - 14.40.33810", "14.40.33810.0", "Microsoft Corporation", `C:\ProgramData\Package Cache\`},
	{"Microsoft Update Health Tools", "5.72.0.0", "Microsoft Corporation", `C:\Program Files\Microsoft Update Health Tools\`},
	{"Teams Machine-Wide Installer", "1.7.0.3653", "Microsoft Corporation", `C:\Program Files (x86)\Teams Installer\`},
	{"Microsoft .NET Runtime - 8.0.10 (x64)", "64.40.63213", "Microsoft Corporation", `C:\Program Files\dotnet\`},
	{"Windows PC Health Check", "3.6.2204.08001", "Microsoft Corporation", `C:\Program Files\PCHealthCheck\`},
	{"Intel(R) Management Engine Components", "2338.5.2.0", "Intel Corporation", `C:\Program Files (x86)\Intel\Intel(R) Management Engine Components\`},
	{"Realtek Audio Driver", "6.0.9549.1", "Realtek Semiconductor Corp.", `C:\Program Files\Realtek\Audio\`},
	{"Microsoft Edge WebView2 Runtime", "130.0.2849.80", "Microsoft Corporation", `C:\Program Files (x86)\Microsoft\EdgeWebView\`},
	{"Local Administrator Password Solution", "6.2.0.0", "Microsoft Corporation", `C:\Program Files\LAPS\`},
}

// newDevice makes device i: its client's traits, the products assigned to
// it (some installed before the run, the rest to install) and its
// unmanaged products.
func (f *Fleet) newDevice(i int) *device {
	r := f.rng
	d := &device{
		id:           strings.ToUpper(strconv.FormatUint(r.Uint64()|1<<63, 16) + strconv.FormatUint(r.Uint64()|1<<63, 16)),
		session:      r.IntN(1 << 16),
		login:        logins[r.IntN(len(logins))],
		v3:           r.Float64() < 0.7,
		syncml11:     r.Float64() < 0.02,
		bareVendor:   r.Float64() < 0.05,
		lowerNodes:   r.Float64() < 0.02,
		upperInstall: r.Float64() < 0.3,
		hexHR:        r.Float64() < 0.15,
		alertHR:      r.Float64() < 0.2,
		msiGUID:      pickGUID(r, guidPercent),
		officeGUID:   pickGUID(r, guidBare),
		// Caught mid-session: package 1 was session alert, LoginStatus and
		// DevInfo.
		p1Last: 4,
	}
	// Devices are caught mid-conversation, as they would be in a running
	// fleet.
	switch x := r.Float64(); {
	case x < 0.45:
		d.next = 2
	case x < 0.55:
		d.next = 3
	}
	m := models[r.IntN(len(models))]
	d.info = [7][2]string{
		{"./DevInfo/DevId", d.id},
		{"./DevInfo/Man", m[0]},
		{"./DevInfo/Mod", m[1]},
		{"./DevInfo/DmV", "1.3"},
		{"./DevInfo/Lang", langs[r.IntN(len(langs))]},
		{"./Vendor/MSFT/DMClient/HWDevID", d.id + "0000"},
		{"./DevDetail/Ext/Microsoft/DNSComputerName", "PC-" + strconv.Itoa(100000+i)},
	}
	for pi := range f.products {
		p := &f.products[pi]
		if r.Float64() >= p.Share {
			continue
		}
		a := &assignment{d: d, p: pi, ver: len(p.Versions) - 1, user: r.Float64() < p.UserShare, state: stExec}
		if len(p.Versions) > 1 && r.Float64() < 0.2 {
			a.ver = r.IntN(len(p.Versions) - 1)
		}
		// The run starts in the fleet's steady state, so that its rates do
		// not drift: most products installed before it, a few installs
		// under way, a few about to start.
		switch x := r.Float64(); {
		case x < 0.8:
			a.state = stDone
			a.doneAt = f.cfg.Start.Add(-time.Duration(1+r.IntN(300)) * 24 * time.Hour)
			f.encode(a, false)
		case x < 0.92:
			f.begin(a)
			a.step = r.IntN(len(a.steps))
		}
		d.asg = append(d.asg, a)
	}
	n := r.IntN(6)
	perm := r.Perm(len(unmanagedCatalog))
	for _, k := range perm[:n] {
		u := unmanagedCatalog[k]
		d.unmanaged = append(d.unmanaged, unmanaged{
			id: guidFrom(u[0] + "\x00" + u[1]), name: u[0], version: u[1], publisher: u[2], path: u[3],
			date: f.cfg.Start.Add(-time.Duration(30+r.IntN(700)) * 24 * time.Hour).Format("20060102"),
		})
	}
	return d
}

// pickGUID gives most devices the usual form and a few another.
func pickGUID(r *rand.Rand, usual guidStyle) guidStyle {
	if r.Float64() < 0.88 {
		return usual
	}
	return guidStyle(r.IntN(int(guidPercentLower) + 1))
}

// path is the LocURI of node n of a's install, as a's device writes it.
func (f *Fleet) path(a *assignment, n node) string {
	d := a.d
	prefix := "./Device/Vendor/MSFT/"
	switch {
	case a.user:
		prefix = "./User/Vendor/MSFT/"
	case d.bareVendor:
		prefix = "./Vendor/MSFT/"
	}
	id := f.ids[a.p][a.ver]
	style := d.msiGUID
	csp := "EnterpriseDesktopAppManagement/MSI/"
	name := nodeNames[n]
	if d.lowerNodes {
		name = lowerNodes[n]
	}
	if f.products[a.p].Kind == Office {
		style, csp = d.officeGUID, "Office/Installation/"
		name = nodeNames[n]
		if n == nodeInstall && d.upperInstall {
			name = "Install"
		}
	}
	switch style {
	case guidBare:
		return prefix + csp + id + "/" + name
	case guidBraced:
		return prefix + csp + "{" + id + "}/" + name
	case guidLowerBraced:
		return prefix + csp + "{" + f.lids[a.p][a.ver] + "}/" + name
	case guidPercentLower:
		return prefix + csp + "%7b" + f.lids[a.p][a.ver] + "%7d/" + name
	}
	return prefix + csp + "%7B" + id + "%7D/" + name
}

// officeCurrent is the LocURI of the Office CSP's CurrentStatus, which
// describes the running Click-to-Run job and names no installation.
func (f *Fleet) officeCurrent(a *assignment) string {
	switch {
	case a.user:
		return "./User/Vendor/MSFT/Office/Installation/CurrentStatus"
	case a.d.bareVendor:
		return "./Vendor/MSFT/Office/Installation/CurrentStatus"
	}
	return "./Device/Vendor/MSFT/Office/Installation/CurrentStatus"
}
