package alerts

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cspwatch/cspwatch/internal/codes"
)

// Override changes the thresholds for one code. A zero Factor, MinDevices or
// Floor keeps the general setting.
type Override struct {
	// Space restricts the override to one code space; empty matches the code
	// in every space. HRESULTs of FACILITY_WIN32 are keyed by their Win32
	// code in space win32, as the detector counts them.
	Space      codes.Space
	Code       int64
	Disabled   bool
	Factor     float64
	MinDevices int
	// DeviceFactor: the bucket's distinct devices must also exceed
	// DeviceFactor × their baseline, so that a few devices failing in a loop
	// on a code many devices report anyway do not fire.
	DeviceFactor float64
	Floor        float64
}

func (o Override) target() string {
	if o.Space == "" {
		return strconv.FormatInt(o.Code, 10)
	}
	return string(o.Space) + "/" + strconv.FormatInt(o.Code, 10)
}

// String is the ParseOverride form of o.
func (o Override) String() string {
	if o.Disabled {
		return o.target() + ":off"
	}
	var parts []string
	if o.Factor != 0 {
		parts = append(parts, "factor="+strconv.FormatFloat(o.Factor, 'g', -1, 64))
	}
	if o.MinDevices != 0 {
		parts = append(parts, "min_devices="+strconv.Itoa(o.MinDevices))
	}
	if o.Floor != 0 {
		parts = append(parts, "floor="+strconv.FormatFloat(o.Floor, 'g', -1, 64))
	}
	return o.target() + ":" + strings.Join(parts, ",")
}

func (o Override) validate() error {
	switch {
	case o.Factor != 0 && (math.IsNaN(o.Factor) || o.Factor <= 1):
		return fmt.Errorf("alerts: override %s: factor %v, want above 1", o.target(), o.Factor)
	case o.MinDevices < 0:
		return fmt.Errorf("alerts: override %s: negative min devices", o.target())
	case o.Floor < 0 || math.IsNaN(o.Floor):
		return fmt.Errorf("alerts: override %s: negative floor", o.target())
	}
	return nil
}

// ParseOverride reads "CODE:off" or "CODE:factor=F,min_devices=N,floor=X"
// where CODE is a decimal code, a hex HRESULT (0x80070643, which means Win32
// 1603), or SPACE/CODE to name one code space (msi_status/60).
func ParseOverride(s string) (Override, error) {
	target, settings, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || settings == "" {
		return Override{}, fmt.Errorf("override %q: want CODE:off or CODE:key=value[,key=value]", s)
	}
	var o Override
	codeText := target
	if sp, c, ok := strings.Cut(target, "/"); ok {
		o.Space, codeText = codes.Space(sp), c
		switch o.Space {
		case codes.SpaceOfficeStatus, codes.SpaceOfficeFinal, codes.SpaceMSIStatus, codes.SpaceWin32, codes.SpaceHRESULT, codes.SpaceOMADM:
		default:
			return Override{}, fmt.Errorf("override %q: unknown code space %q", s, sp)
		}
	}
	v, err := parseCode(codeText)
	if err != nil {
		return Override{}, fmt.Errorf("override %q: %w", s, err)
	}
	o.Space, o.Code = normaliseCode(o.Space, v)
	if settings == "off" {
		o.Disabled = true
		return o, o.validate()
	}
	for kv := range strings.SplitSeq(settings, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Override{}, fmt.Errorf("override %q: %q is not key=value", s, kv)
		}
		var err error
		switch k {
		case "factor":
			o.Factor, err = strconv.ParseFloat(val, 64)
		case "min_devices":
			o.MinDevices, err = strconv.Atoi(val)
		case "floor":
			o.Floor, err = strconv.ParseFloat(val, 64)
		default:
			return Override{}, fmt.Errorf("override %q: unknown setting %q (factor, min_devices, floor)", s, k)
		}
		if err != nil {
			return Override{}, fmt.Errorf("override %q: %s: %w", s, k, err)
		}
	}
	return o, o.validate()
}

// parseCode reads a decimal code (negative for an HRESULT sent as int32) or
// a 0x hex HRESULT.
func parseCode(s string) (int64, error) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		u, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			return 0, fmt.Errorf("code %q: %w", s, err)
		}
		return int64(int32(uint32(u))), nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("code %q: %w", s, err)
	}
	return v, nil
}

// normaliseCode maps a FACILITY_WIN32 HRESULT to its Win32 code, the way the
// detector's query groups failures; other codes pass unchanged.
func normaliseCode(space codes.Space, v int64) (codes.Space, int64) {
	if v < 0 && v >= math.MinInt32 && uint32(v)&0xFFFF0000 == 0x80070000 {
		return codes.SpaceWin32, int64(uint32(v) & 0xFFFF)
	}
	return space, v
}

type ruleKey struct {
	space codes.Space
	code  int64
}

// rule is the effective thresholds for one code.
type rule struct {
	disabled   bool
	factor     float64
	minDevices uint64
	floor      float64
}

// rules resolves overrides once; an override naming a space wins over one
// naming only the code.
type rules struct {
	def   rule
	exact map[ruleKey]Override
	any   map[int64]Override
}

func newRules(c Config) rules {
	r := rules{
		def:   rule{factor: c.Factor, minDevices: uint64(c.MinDevices), floor: c.Floor},
		exact: map[ruleKey]Override{},
		any:   map[int64]Override{},
	}
	for _, o := range c.Overrides {
		if o.Space == "" {
			r.any[o.Code] = o
		} else {
			r.exact[ruleKey{o.Space, o.Code}] = o
		}
	}
	return r
}

func (r rules) lookup(space codes.Space, code int64) rule {
	o, ok := r.exact[ruleKey{space, code}]
	if !ok {
		o, ok = r.any[code]
	}
	out := r.def
	if !ok {
		return out
	}
	out.disabled = o.Disabled
	if o.Factor != 0 {
		out.factor = o.Factor
	}
	if o.MinDevices != 0 {
		out.minDevices = uint64(o.MinDevices)
	}
	if o.Floor != 0 {
		out.floor = o.Floor
	}
	return out
}
