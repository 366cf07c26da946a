package fleet

import (
	"math/rand/v2"
	"strconv"
	"time"
)

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
