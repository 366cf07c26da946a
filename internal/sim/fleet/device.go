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

// Status sequences an install reports while it runs, one per session.
// 25 and 55 are the retries of a failed download and a failed enforcement.
var (
	msiSuccess = [][]int64{
		{10, 20, 40, 50},
		{20, 40, 50},
		{10, 20, 25, 20, 40, 50},
		{10, 20, 40, 50, 55, 50},
	}
	msiUserSuccess = []int64{10, 20, 40, 48, 50}
	msiFailure     = [][]int64{
		{10, 20, 40, 50, 55, 50},
		{20, 40, 50, 55, 50, 55, 50},
	}
	msiDownloadFailure = []int64{10, 20, 25, 20, 25}
	officeSteps        = [][]int64{{997}, {997, 997}, {997, 997, 997}}
	// msiVanished: a job that never created its node is read this many
	// times (each answered 404) before the server gives up.
	msiVanished = [][]int64{{404}, {404, 404}, {404, 404, 404}}
)

// Shares of the server's choices that the device's answers show.
const (
	// uuidSessions is the share of sessions whose server commands have
	// UUID CmdIDs, as some MDM servers write them.
	uuidSessions = 0.2
	// atomicShare is the share of MSI installs whose Add and Exec the
	// server sends in an Atomic.
	atomicShare = 0.2
)

// weighted is a code and its relative frequency.
type weighted struct {
	code   int64
	weight int
}

// hr turns an HRESULT written as hex into the value the codes package reads.
func hr(u uint32) int64 { return int64(int32(u)) }

var (
	// msiFailures are why msiexec fails, roughly as often as fleets see them.
	msiFailures = []weighted{
		{1603, 40}, {1618, 14}, {1638, 10}, {1619, 5}, {1612, 5}, {1625, 4}, {1602, 3},
		{1632, 2}, {1633, 2}, {112, 2}, {hr(0x80070005), 3}, {hr(0x800B0100), 3}, {hr(0x80096010), 2},
	}
	// downloadFailures are HRESULTs of failed content downloads.
	downloadFailures = []weighted{
		{hr(0x80072EE7), 4}, {hr(0x80072EE2), 3}, {hr(0x80072EFD), 2}, {hr(0x80190194), 2},
	}
	// officeFailures are Click-to-Run results.
	officeFailures = []weighted{
		{17002, 30}, {17004, 15}, {1603, 12}, {17006, 10}, {1460, 8}, {hr(0x80004005), 8},
		{13, 5}, {17001, 4}, {1602, 4}, {17003, 4},
	}
)

func pick(r *rand.Rand, ws []weighted) int64 {
	total := 0
	for _, w := range ws {
		total += w.weight
	}
	n := r.IntN(total)
	for _, w := range ws {
		if n < w.weight {
			return w.code
		}
		n -= w.weight
	}
	return ws[len(ws)-1].code
}

// begin starts an install the device accepted: it decides now how the
// install will end, because the states it passes through depend on it.
func (f *Fleet) begin(a *assignment) {
	r := f.rng
	a.state, a.step, a.refused, a.stalled, a.download, a.vanished = stProgress, 0, false, false, false, false
	x := r.Float64()
	if f.products[a.p].Kind == Office {
		a.steps = officeSteps[r.IntN(len(officeSteps))]
		a.code = 0
		if x < 0.1 {
			a.code = pick(r, officeFailures)
		}
	} else {
		switch {
		// Rates: 0.5% of jobs never create their node (rare in real
		// fleets, and each answers every later Get with a 404), 3% fail
		// their download, 10% fail to install.
		case x < 0.005:
			a.code, a.vanished, a.steps = 0, true, msiVanished[r.IntN(len(msiVanished))]
		case x < 0.035:
			a.code, a.download, a.steps = pick(r, downloadFailures), true, msiDownloadFailure
		case x < 0.135:
			a.code, a.steps = pick(r, msiFailures), msiFailure[r.IntN(len(msiFailure))]
		default:
			a.code, a.steps = 0, msiSuccess[r.IntN(len(msiSuccess))]
			if a.user && r.Float64() < 0.3 {
				a.steps = msiUserSuccess
			}
			switch y := r.Float64(); {
			case y < 0.05:
				a.code = 3010
			case y < 0.06:
				a.code = 1641
			}
		}
	}
	if f.spiked(a) && sameCode(a.code, f.spike.code) {
		// Before the spike its code never hits its version, so the spike
		// stands out; after it, only the chosen devices fail with it.
		a.code, a.download = 0, false
		if f.products[a.p].Kind == MSI {
			a.steps = msiSuccess[0]
		}
	}
	f.encode(a, false)
}

// finish ends the progress of an install: a few stall once at their last
// step first.
func (f *Fleet) finish(d *device, a *assignment, at time.Time) {
	if !a.stalled && f.rng.Float64() < 0.04 {
		a.stalled, a.state = true, stStuck
		return
	}
	a.doneAt = at
	a.state = stAlert
	if f.products[a.p].Kind == Office {
		a.state = stFinal
	}
}

// plan is the server's side of a session, decided once it has read package
// 1: stuck installs move on, failed ones are retried, older versions are
// upgraded, and now and then an installed product is pushed again (a
// reassignment, a repair), which keeps a long run busy.
func (f *Fleet) plan(d *device, at time.Time) {
	r := f.rng
	for _, a := range d.asg {
		switch a.state {
		case stStuck:
			if r.Float64() < 0.3 {
				f.finish(d, a, at)
			}
		case stDone:
			x := r.Float64()
			switch {
			case a.failed() && x < 0.3:
				a.state = stExec
			case !a.failed() && a.ver < len(f.products[a.p].Versions)-1 && x < 0.05:
				a.ver++
				a.state = stExec
			case x < 0.03:
				a.state = stExec
			}
		}
	}
}

// rollout assigns version v of product p to d unless d runs it or is
// installing it: the spike's rollout.
func (f *Fleet) rollout(d *device, p, v int) {
	for _, a := range d.asg {
		if a.p != p {
			continue
		}
		if a.ver == v && (a.state != stDone || !a.failed()) {
			return
		}
		a.ver, a.state = v, stExec
		return
	}
	user := f.rng.Float64() < f.products[p].UserShare
	d.asg = append(d.asg, &assignment{d: d, p: p, ver: v, user: user, state: stExec})
}

// spiked reports whether a installs the spiked product version, whether
// or not the spike has begun.
func (f *Fleet) spiked(a *assignment) bool {
	s := f.spike
	return s != nil && a.p == s.product && a.ver == s.version
}

// settle applies the spike to an install whose result is about to be
// reported after the spike began. Each device is decided once, in the
// order they report: a device fails while fewer than Fraction of the
// devices decided so far fail, so at every message at least Fraction of the
// distinct devices that reported the version fail with the spike's code.
func (f *Fleet) settle(d *device, a *assignment) {
	s := f.spike
	if !f.spiked(a) || !s.rolled || a.refused {
		return
	}
	if d.spike == 0 {
		s.decided++
		d.spike = 2
		if float64(s.failing) < s.Fraction*float64(s.decided) {
			s.failing++
			d.spike = 1
		}
	}
	if d.spike == 1 {
		a.code, a.download = s.code, false
		f.encode(a, true)
	}
}

// sameCode reports whether two results are the same failure, whether as a
// Win32 code or as its FACILITY_WIN32 HRESULT.
func sameCode(x, y int64) bool { return win32Of(x) == win32Of(y) }

func win32Of(v int64) int64 {
	if u := uint32(v); v < 0 && u&0xFFFF0000 == 0x80070000 {
		return int64(u & 0xFFFF)
	}
	return v
}

// normCode reads a code given in any form (Win32, signed or unsigned
// HRESULT) as the codes package does.
func normCode(v int64) int64 {
	if v > 0x7FFFFFFF && v <= 0xFFFFFFFF {
		return int64(int32(uint32(v)))
	}
	return v
}

// encode writes a's result the way its device reports it: MSI alerts carry
// a Win32 result as is (or, on some clients, as its HRESULT), LastError
// carries it as an HRESULT; Office Status carries it as a decimal. asIs
// keeps a Win32 code as is in the alert whatever the client.
func (f *Fleet) encode(a *assignment, asIs bool) {
	d := a.d
	a.lastErrorDesc, a.origError = "", ""
	if f.products[a.p].Kind == Office {
		a.statusData = strconv.FormatInt(a.code, 10)
		return
	}
	code := a.code
	switch {
	case !a.failed():
		a.alertData, a.lastError = strconv.FormatInt(code, 10), "0"
		return
	case code > 0 && code <= 0xFFFF:
		h := int64(int32(0x80070000 | uint32(code)))
		a.lastError = d.hresult(h)
		a.alertData = strconv.FormatInt(code, 10)
		if d.alertHR && !asIs {
			a.alertData = a.lastError
		}
		a.origError = "0x" + strconv.FormatUint(uint64(uint32(h)), 16)
	default:
		a.lastError = d.hresult(code)
		a.alertData = a.lastError
		a.origError = "0x" + strconv.FormatUint(uint64(uint32(code)), 16)
	}
	a.lastErrorDesc = errorDescs[win32Of(code)]
}

// hresult writes an HRESULT as the device does: a negative decimal, or hex.
func (d *device) hresult(v int64) string {
	if d.hexHR {
		return "0x" + strconv.FormatUint(uint64(uint32(v)), 16)
	}
	return strconv.FormatInt(v, 10)
}

// errorDescs are the LastErrorDesc texts Windows gives for the codes the
// fleet produces.
var errorDescs = map[int64]string{
	1603:           "Fatal error during installation.",
	1618:           "Another installation is already in progress. Complete that installation before proceeding with this install.",
	1638:           "Another version of this product is already installed. Installation of this version cannot continue.",
	1619:           "This installation package could not be opened. Verify that the package exists and that you can access it.",
	1612:           "The installation source for this product is not available. Verify that the source exists and that you can access it.",
	1625:           "This installation is forbidden by system policy. Contact your system administrator.",
	1602:           "User cancelled installation.",
	1632:           "The temp folder is on a drive that is full or is inaccessible.",
	1633:           "This installation package is not supported by this processor type.",
	112:            "There is not enough space on the disk.",
	5:              "Access is denied.",
	12007:          "The server name or address could not be resolved",
	12002:          "The operation timed out",
	12029:          "A connection with the server could not be established",
	hr(0x800B0100): "No signature was present in the subject.",
	hr(0x80096010): "The digital signature of the object did not verify.",
	hr(0x80190194): "HTTP status 404: The requested URL does not exist on the server.",
}
