package codes

import "sort"

// facilityWin32Mask selects the severity and facility bits of an HRESULT;
// a failure HRESULT with FACILITY_WIN32 (7) carries a Win32 code in its low
// 16 bits (HRESULT_FROM_WIN32).
const (
	facilityMask  = 0xFFFF0000
	facilityWin32 = 0x80070000
	// facilityHTTP is a failure HRESULT with FACILITY_HTTP (25): the low 16
	// bits are an HTTP status (0x80190194 is HTTP 404).
	facilityHTTP = 0x80190000
	// facilityCfgMgr is a failure HRESULT of the MDM client's configuration
	// manager (FACILITY 0x600, cfgmgr2err.h: CFGMGR_E_*), 0x8600xxxx.
	facilityCfgMgr = 0x86000000
)

// httpSource and httpAdvice describe a FACILITY_HTTP HRESULT without its own
// entry.
const (
	httpSource = "FACILITY_HTTP HRESULT"
	httpDesc   = "HTTP error status of a download (FACILITY_HTTP; the low 16 bits are the HTTP status)"
	httpAdvice = "The content download got an HTTP error; check the content URL, the distribution point and the device's proxy for that status."
)

// cfgMgrSource, cfgMgrDesc and cfgMgrAdvice describe an MDM client HRESULT
// (0x8600xxxx) without its own entry.
const (
	cfgMgrSource = "MDM client HRESULTs (cfgmgr2err.h)"
	cfgMgrDesc   = "Error of the MDM client's configuration manager (FACILITY 0x600) without its own catalog entry"
	cfgMgrAdvice = "The device's MDM client failed the command with a code this catalog does not list; look it up in cfgmgr2err.h and read the device's MDM diagnostics log."
)

// The description and advice of an unlisted OMA-DM status of the
// originator-exception (4xx) and recipient-exception (5xx) classes.
const (
	omadmSource    = "OMA-DM 1.2 status codes"
	omadm4xxDesc   = "Unlisted OMA-DM originator exception (4xx): the device could not carry out the command as sent"
	omadm4xxAdvice = "The device refused the command as sent; check its syntax, LocURI, Meta and values against the CSP documentation and resend."
	omadm5xxDesc   = "Unlisted OMA-DM recipient exception (5xx): the device failed to carry out a valid command"
	omadm5xxAdvice = "The device failed on a valid command; retry, and collect the MDM diagnostics log from the device if it repeats."
)

// Parse reads a result code as devices send it: decimal, a negative int32
// HRESULT (-2147023293), an unsigned decimal up to 4294967295, or 0x-prefixed
// hex of one to eight digits (0x80070643). Values of 0x80000000 and above are
// returned as their signed 32-bit value, so one HRESULT always has one value:
// 0x80070643, 2147944003 and -2147023293 all give -2147023293. The input must
// already be trimmed. ok is false for anything else: empty input, a '+' sign,
// a sign on hex, a value outside the 32-bit range, or any other byte. Parse
// does not allocate.
func Parse(b []byte) (v int64, ok bool) {
	if len(b) == 0 {
		return 0, false
	}
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		h := b[2:]
		if len(h) > 8 {
			return 0, false
		}
		var u uint32
		for _, c := range h {
			var d byte
			switch {
			case c >= '0' && c <= '9':
				d = c - '0'
			case c >= 'a' && c <= 'f':
				d = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				d = c - 'A' + 10
			default:
				return 0, false
			}
			u = u<<4 | uint32(d)
		}
		return int64(int32(u)), true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
		if u > 1<<32-1 {
			return 0, false
		}
	}
	if neg {
		if u > 1<<31 {
			return 0, false
		}
		return -int64(u), true
	}
	return int64(int32(uint32(u))), true
}

// IsHRESULT reports whether v, as Parse returns it, is a failure HRESULT
// (severity bit set).
func IsHRESULT(v int64) bool { return v < 0 && v >= -1<<31 }

// Win32FromHRESULT returns the Win32 code inside a FACILITY_WIN32 failure
// HRESULT (0x80070643 gives 1603). ok is false for any other value.
func Win32FromHRESULT(v int64) (int64, bool) {
	if !IsHRESULT(v) {
		return 0, false
	}
	u := uint32(v)
	if u&facilityMask != facilityWin32 {
		return 0, false
	}
	return int64(u & 0xFFFF), true
}

// HTTPStatusFromHRESULT returns the HTTP status inside a FACILITY_HTTP
// failure HRESULT (0x80190194 gives 404). ok is false for any other value.
func HTTPStatusFromHRESULT(v int64) (int64, bool) {
	if !IsHRESULT(v) {
		return 0, false
	}
	u := uint32(v)
	if u&facilityMask != facilityHTTP {
		return 0, false
	}
	return int64(u & 0xFFFF), true
}

// Canonical returns the space and value that name one cause however a device
// wrote it, so that events can be grouped by cause: a FACILITY_WIN32 failure
// HRESULT becomes its Win32 code (hresult 0x80070643 and win32 1603 are both
// win32 1603; E_ACCESSDENIED is win32 5), and a failure HRESULT given in the
// win32 space becomes an hresult. Every other value keeps its space: an
// Office or OMA-DM status has its own meaning, and an HRESULT of another
// facility (FACILITY_HTTP, the MDM client's 0x86000xxx) stays an hresult.
// Classify of the result has the same outcome and category as Classify of
// the input (and the same name unless the HRESULT has its own, such as
// E_ACCESSDENIED). Canonical is idempotent and does not allocate.
func Canonical(s Space, v int64) (Space, int64) {
	if s != SpaceWin32 && s != SpaceHRESULT {
		return s, v
	}
	if !IsHRESULT(v) {
		return s, v
	}
	if w, ok := Win32FromHRESULT(v); ok {
		return SpaceWin32, w
	}
	return SpaceHRESULT, v
}

// AppendHex appends the 32-bit hex form of v as 0x followed by eight
// lower-case digits (0x80070643). Only the low 32 bits of v are written.
func AppendHex(dst []byte, v int64) []byte {
	const digits = "0123456789abcdef"
	u := uint32(v)
	dst = append(dst, '0', 'x')
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, digits[(u>>uint(shift))&0xF])
	}
	return dst
}

// Classify returns what the catalog knows of v in space s. It always answers:
// a value without its own entry gets the space's default outcome and
// category, with Known false (see DESIGN.md "Outcomes"). It never allocates.
//
// Resolution rules beyond the space's own table:
//   - SpaceHRESULT: a value with its own HRESULT entry (E_ACCESSDENIED, ...)
//     uses it; otherwise a FACILITY_WIN32 value takes the name, description,
//     outcome and category of its Win32 code (0x80070643 is
//     ERROR_INSTALL_FAILURE), keeping Space hresult and Value v. An
//     unlisted FACILITY_HTTP value (0x8019xxxx) is failed, category network;
//     an unlisted MDM client value (0x8600xxxx, cfgmgr2err.h) is failed,
//     category client.
//   - SpaceOMADM: an unlisted 4xx is failed, category command; an unlisted
//     5xx failed, category client (see omadmDefaultCategory).
//   - SpaceWin32 given a failure HRESULT (negative) classifies it as
//     SpaceHRESULT, since that is what the value is.
//   - SpaceOfficeStatus: an unlisted value borrows the name, description and
//     category of its Win32 or HRESULT entry, but its outcome stays the Office
//     rule (0 succeeded, 997 in_progress, any other failed).
//
// An unknown space answers Unknown with Known false.
func Classify(s Space, v int64) Info {
	switch s {
	case SpaceOfficeStatus:
		if e, ok := tables.officeStatus[v]; ok {
			return *e
		}
		in := Info{Space: s, Value: v, Outcome: Failed, Category: CatUnknown}
		var b Info
		if IsHRESULT(v) {
			b = Classify(SpaceHRESULT, v)
		} else {
			b = Classify(SpaceWin32, v)
		}
		if b.Known || b.Category != CatUnknown {
			in.Name, in.Description, in.Category, in.Known = b.Name, b.Description, b.Category, b.Known
			in.Source, in.Advice = b.Source, b.Advice
			if b.Outcome != Failed {
				// A success code (3010, 1641) as an Office Status is a
				// failure by the Office rule: its Win32 advice ("it
				// succeeded") would contradict the outcome.
				in.Category = CatUnknown
				in.Advice = "Office reported a Win32 success code as its Status, which the Office CSP counts as a failure; read the device's Click-to-Run logs (%windir%\\Temp, %temp%) for what the install did, and retry the install."
			}
		}
		return in
	case SpaceOfficeFinal:
		if e, ok := tables.officeFinal[v]; ok {
			return *e
		}
		return Info{Space: s, Value: v, Outcome: Unknown}
	case SpaceMSIStatus:
		if e, ok := tables.msiStatus[v]; ok {
			return *e
		}
		return Info{Space: s, Value: v, Outcome: Unknown}
	case SpaceWin32:
		if IsHRESULT(v) {
			return Classify(SpaceHRESULT, v)
		}
		if e, ok := tables.win32[v]; ok {
			return *e
		}
		if v == 0 {
			return Info{Space: s, Value: v, Outcome: Succeeded}
		}
		return Info{Space: s, Value: v, Outcome: Failed, Category: CatUnknown}
	case SpaceHRESULT:
		if e, ok := tables.hresult[v]; ok {
			return *e
		}
		if w, ok := Win32FromHRESULT(v); ok {
			if e, ok := tables.win32[w]; ok {
				in := *e
				in.Space, in.Value = s, v
				return in
			}
		}
		if _, ok := HTTPStatusFromHRESULT(v); ok {
			return Info{Space: s, Value: v, Description: httpDesc, Outcome: Failed, Category: CatNetwork,
				Source: httpSource, Advice: httpAdvice}
		}
		if uint32(v)&facilityMask == facilityCfgMgr {
			return Info{Space: s, Value: v, Description: cfgMgrDesc, Outcome: Failed, Category: CatClient,
				Source: cfgMgrSource, Advice: cfgMgrAdvice}
		}
		if v < 0 {
			return Info{Space: s, Value: v, Outcome: Failed, Category: CatUnknown}
		}
		return Info{Space: s, Value: v, Outcome: Succeeded}
	case SpaceOMADM:
		if e, ok := tables.omadm[v]; ok {
			return *e
		}
		in := Info{Space: s, Value: v, Outcome: omadmDefault(v), Category: omadmDefaultCategory(v)}
		switch in.Category {
		case CatCommand:
			in.Description, in.Source, in.Advice = omadm4xxDesc, omadmSource, omadm4xxAdvice
		case CatClient:
			in.Description, in.Source, in.Advice = omadm5xxDesc, omadmSource, omadm5xxAdvice
		}
		return in
	}
	return Info{Space: s, Value: v, Outcome: Unknown}
}

// omadmDefault is the outcome of an unlisted OMA-DM status by its class.
func omadmDefault(v int64) Outcome {
	switch {
	case v == 202:
		return InProgress
	case v >= 100 && v < 200:
		return InProgress
	case v >= 200 && v < 300:
		return Succeeded
	case v >= 300 && v < 600:
		return Failed
	}
	return Unknown
}

// omadmDefaultCategory is the category of an unlisted OMA-DM status by its
// class (SyncML Representation Protocol): a 4xx is an originator exception
// (the command as sent could not be carried out: command), a 5xx a
// recipient exception (the device failed on a valid command: client). A 3xx
// (redirection) does not tell a cause.
func omadmDefaultCategory(v int64) Category {
	switch {
	case v >= 400 && v < 500:
		return CatCommand
	case v >= 500 && v < 600:
		return CatClient
	case v >= 300 && v < 400:
		return CatUnknown
	}
	return CatNone
}

// Categories lists the category vocabulary (without CatNone), in the order
// codes.md documents it.
func Categories() []Category {
	return []Category{CatPrerequisite, CatNetwork, CatConflict, CatDisk, CatContent, CatSignature, CatUserCancel,
		CatRebootRequired, CatNotFound, CatPolicy, CatAuth, CatClient, CatCommand, CatInstaller, CatAtomic, CatUnknown}
}

// Spaces lists every space in the order All and Markdown use.
func Spaces() []Space {
	return []Space{SpaceOfficeStatus, SpaceOfficeFinal, SpaceMSIStatus, SpaceWin32, SpaceHRESULT, SpaceOMADM}
}

// All returns every catalog entry, ordered by space (as Spaces lists them)
// and then by value. The slice is a fresh copy the caller may keep or change.
func All() []Info {
	out := make([]Info, len(tables.all))
	copy(out, tables.all)
	return out
}

type spaceTables struct {
	officeStatus, officeFinal, msiStatus, win32, hresult, omadm map[int64]*Info
	all                                                         []Info
}

// tables is built once from catalog at init and only read afterwards, so
// concurrent lookups need no lock.
var tables = buildTables(catalog)

func buildTables(rows []entry) spaceTables {
	t := spaceTables{
		officeStatus: map[int64]*Info{},
		officeFinal:  map[int64]*Info{},
		msiStatus:    map[int64]*Info{},
		win32:        map[int64]*Info{},
		hresult:      map[int64]*Info{},
		omadm:        map[int64]*Info{},
	}
	t.all = make([]Info, 0, len(rows))
	for _, r := range rows {
		t.all = append(t.all, Info{
			Space: r.space, Value: r.value, Name: r.name, Description: r.desc,
			Outcome: r.outcome, Category: r.cat, Source: r.source, Advice: r.advice, Known: true,
		})
	}
	order := map[Space]int{}
	for i, s := range Spaces() {
		order[s] = i
	}
	sort.SliceStable(t.all, func(i, j int) bool {
		a, b := t.all[i], t.all[j]
		if a.Space != b.Space {
			return order[a.Space] < order[b.Space]
		}
		return a.Value < b.Value
	})
	for i := range t.all {
		e := &t.all[i]
		var m map[int64]*Info
		switch e.Space {
		case SpaceOfficeStatus:
			m = t.officeStatus
		case SpaceOfficeFinal:
			m = t.officeFinal
		case SpaceMSIStatus:
			m = t.msiStatus
		case SpaceWin32:
			m = t.win32
		case SpaceHRESULT:
			m = t.hresult
		case SpaceOMADM:
			m = t.omadm
		default:
			panic("codes: catalog entry in unknown space " + string(e.Space))
		}
		if _, dup := m[e.Value]; dup {
			panic("codes: duplicate catalog entry " + string(e.Space) + " " + e.Name)
		}
		m[e.Value] = e
	}
	return t
}
