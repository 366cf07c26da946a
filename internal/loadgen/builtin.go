package loadgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Builtin is a small synthetic fleet for when no richer one is given: each
// call yields a new message (new session and message ids) from one of
// devices, in a fixed mix: MSI install alerts, MSI and Office Results with
// status and product nodes, and OMA-DM statuses. Messages are 0.6 to 9 KB,
// 2.7 KB on average, and yield 1 to 12 events, about 4 on average. It is deterministic for a seed.
type Builtin struct {
	// Inventory makes every message an MSI inventory of 8 to 16 products
	// (16 to 32 events, 5 to 12 KB): a full inventory sync, the message kind
	// richest in events.
	Inventory bool
	devices   int
	rng       *rand.Rand
	n         int
}

// NewBuiltin returns a builtin fleet of devices devices.
func NewBuiltin(devices int, seed uint64) *Builtin {
	return &Builtin{devices: max(devices, 1), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

var builtinProducts = []string{
	"{AF9257BA-6BBD-4624-AA9B-0182D50292C3}", "{23170F69-40C1-2702-1900-000001000000}",
	"{90160000-008C-0000-1000-0000000FF1CE}", "{5FCE6D76-F5DC-37AB-B2B8-22AB8CEDB1D4}",
	"{A3B6C9D2-1E4F-4A7B-8C9D-0E1F2A3B4C5D}", "{0F4C8E2A-6B1D-4E3F-9A7C-5D2B8E1F0A6C}",
}

var alertCodes = []string{"0", "0", "0", "0", "0", "1603", "1618", "3010", "-2147023293", "0x80070643", "1641", "1619"}
var msiStatus = []string{"70", "70", "70", "60", "50", "10", "20", "25", "30", "40"}

// Next returns the next message.
func (b *Builtin) Next() Message {
	b.n++
	dev := b.rng.IntN(b.devices)
	devID := fmt.Sprintf("%032X", uint64(dev)*0x9E3779B97F4A7C15)
	var body []byte
	body = fmt.Appendf(body, `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>`+
		`<SessionID>%X</SessionID><MsgID>%d</MsgID><Target><LocURI>https://mdm.example.com/omadm/WindowsMDM.ashx</LocURI></Target>`+
		`<Source><LocURI>%s</LocURI></Source></SyncHdr><SyncBody>`+
		`<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>`,
		b.n, 1+b.n%7, devID)
	cmd := 2
	ev := 0
	alert := false
	k := b.rng.IntN(10)
	if b.Inventory {
		k = 5
	}
	switch {
	case k < 4: // install alerts, one to three products
		for i, n := 0, 1+b.rng.IntN(3); i < n; i++ {
			p := builtinProducts[b.rng.IntN(len(builtinProducts))]
			code := alertCodes[b.rng.IntN(len(alertCodes))]
			mark := "informational"
			if code != "0" {
				mark, alert = "critical", true
			}
			body = fmt.Appendf(body, `<Alert><CmdID>%d</CmdID><Data>1224</Data><Item><Source><LocURI>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%s/DownloadInstall</LocURI></Source>`+
				`<Meta><Type xmlns="syncml:metinf">Reversed-Domain-Name:com.microsoft.mdm.win32csp_install</Type><Format xmlns="syncml:metinf">int</Format><Mark xmlns="syncml:metinf">%s</Mark></Meta>`+
				`<Data>%s</Data></Item></Alert>`, cmd, p, mark, code)
			cmd++
			ev++
		}
	case k < 7: // MSI inventory results: Status, LastError and product nodes per product
		n := 2 + b.rng.IntN(5)
		if b.Inventory {
			n = 8 + b.rng.IntN(9)
		}
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("{%08X-6BBD-4624-AA9B-0182D50292C3}", b.rng.IntN(64))
			base := "./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/" + p + "/"
			body = fmt.Appendf(body, `<Results><CmdID>%d</CmdID><MsgRef>1</MsgRef><CmdRef>%d</CmdRef>`, cmd, 10+i)
			body = item(body, base+"Status", "int", msiStatus[b.rng.IntN(len(msiStatus))])
			body = item(body, base+"LastError", "int", alertCodes[b.rng.IntN(len(alertCodes))])
			body = item(body, base+"Name", "chr", "Contoso App "+strconv.Itoa(i))
			body = item(body, base+"Version", "chr", "1."+strconv.Itoa(b.rng.IntN(5))+".0")
			body = item(body, base+"Publisher", "chr", "Contoso Ltd.")
			body = item(body, base+"InstallDate", "chr", "20261120")
			body = append(body, "</Results>"...)
			cmd++
			ev += 2
		}
	case k < 9: // Office results
		id := fmt.Sprintf("{%08X-1111-2222-3333-444455556666}", b.rng.Uint32()%4)
		base := "./Device/Vendor/MSFT/Office/Installation/" + id + "/"
		body = fmt.Appendf(body, `<Results><CmdID>%d</CmdID><MsgRef>1</MsgRef><CmdRef>5</CmdRef>`, cmd)
		body = item(body, base+"Status", "int", []string{"0", "0", "997", "17002", "1603", "30088"}[b.rng.IntN(6)])
		body = item(body, base+"FinalStatus", "int", []string{"70", "60"}[b.rng.IntN(2)])
		body = append(body, "</Results>"...)
		cmd++
		ev += 2
	default: // statuses of server commands, some failing
		for i, n := 0, 1+b.rng.IntN(3); i < n; i++ {
			p := builtinProducts[b.rng.IntN(len(builtinProducts))]
			body = fmt.Appendf(body, `<Status><CmdID>%d</CmdID><MsgRef>1</MsgRef><CmdRef>%d</CmdRef><Cmd>Exec</Cmd>`+
				`<TargetRef>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%s/DownloadInstall</TargetRef><Data>%s</Data></Status>`,
				cmd, 20+i, p, []string{"200", "202", "500", "404"}[b.rng.IntN(4)])
			cmd++
			ev++
		}
	}
	body = append(body, "<Final/></SyncBody></SyncML>"...)
	return Message{DeviceID: devID, Body: body, GenericAlert: alert, Events: ev}
}

func item(dst []byte, loc, format, data string) []byte {
	return fmt.Appendf(dst, `<Item><Source><LocURI>%s</LocURI></Source><Meta><Format xmlns="syncml:metinf">%s</Format></Meta><Data>%s</Data></Item>`,
		loc, format, data)
}

// Pool holds messages made in advance, so that making them costs the load
// generator no CPU while it measures; the messages stay distinct.
type Pool struct {
	next Source
	msgs []Message
	i    int
	// Exhausted counts messages made live because the pool ran out.
	Exhausted int
}

// NewPool returns an empty pool drawing from next.
func NewPool(next Source) *Pool { return &Pool{next: next} }

// Fill replaces what is left in the pool with new messages from next until
// they fill maxBytes or number maxMsgs.
func (p *Pool) Fill(maxBytes int64, maxMsgs int) {
	p.msgs, p.i = p.msgs[:0], 0
	var size int64
	for size < maxBytes && len(p.msgs) < maxMsgs {
		m := p.next()
		p.msgs = append(p.msgs, m)
		size += int64(len(m.Body))
	}
}

// Next serves the pool's messages, then messages made live.
func (p *Pool) Next() Message {
	if p.i < len(p.msgs) {
		m := p.msgs[p.i]
		p.msgs[p.i] = Message{} // let the collector have it once sent
		p.i++
		return m
	}
	p.Exhausted++
	return p.next()
}
