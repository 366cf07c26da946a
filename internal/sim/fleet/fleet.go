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
