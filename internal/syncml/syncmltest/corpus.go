// Package syncmltest holds the realistic SyncML corpus that the benchmarks
// of the scanner and of the whole ingest pipeline share, so that their
// MB/s figures are over the same bytes.
package syncmltest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
)

// Corpus returns 300 deterministic, realistic device messages (see corpus).
// It is built once; callers must not modify the messages.
func Corpus() [][]byte { return corpus() }

// Bytes is the total size of msgs.
func Bytes(msgs [][]byte) int64 {
	var n int64
	for _, m := range msgs {
		n += int64(len(m))
	}
	return n
}

// corpus is a deterministic set of realistic device messages: 1–20 KB,
// most 2–5 KB, mixing session Status, MSI and Office Results, generic install
// alerts, LoginStatus alerts, some entity-escaped and CDATA payloads and some
// indented bodies.
var corpus = sync.OnceValue(func() [][]byte {
	r := rand.New(rand.NewPCG(2, 1224))
	guid := func() string {
		return fmt.Sprintf("%08X-%04X-%04X-%04X-%012X", r.Uint32(), r.Uint32()&0xFFFF, r.Uint32()&0xFFFF, r.Uint32()&0xFFFF, r.Uint64()&0xFFFFFFFFFFFF)
	}
	var out [][]byte
	for i := 0; i < 300; i++ {
		var target int
		switch p := r.IntN(100); {
		case p < 15:
			target = 1000 + r.IntN(1000)
		case p < 85:
			target = 2000 + r.IntN(3000)
		default:
			target = 5000 + r.IntN(15000)
		}
		nl, ind := "", ""
		if r.IntN(3) == 0 { // a third of devices pretty-print
			nl, ind = "\n", "  "
		}
		dev := guid()
		var b strings.Builder
		fmt.Fprintf(&b, `<SyncML xmlns="SYNCML:SYNCML1.2">%s<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>%X</SessionID><MsgID>%d</MsgID><Target><LocURI>https://mdm.contoso.com/EnrollmentServer/Management.svc</LocURI></Target><Source><LocURI>{%s}</LocURI></Source></SyncHdr>%s<SyncBody xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM">%s`, nl, r.IntN(4096), 1+r.IntN(9), dev, nl, nl)
		fmt.Fprintf(&b, `%s<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>%s`, ind, nl)
		cmd := 2
		for b.Len() < target-40 {
			scope := "./Device"
			if r.IntN(4) == 0 {
				scope = "./User"
			}
			prod := guid()
			switch k := r.IntN(10); {
			case k < 3:
				fmt.Fprintf(&b, `%s<Status><CmdID>%d</CmdID><MsgRef>1</MsgRef><CmdRef>%d</CmdRef><Cmd>Exec</Cmd><TargetRef>%s/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%%7B%s%%7D/DownloadInstall</TargetRef><Data msft:originalerror="0x86000002">%d</Data></Status>%s`,
					ind, cmd, cmd+10, scope, prod, []int{200, 202, 500, 405}[r.IntN(4)], nl)
			case k < 6:
				fmt.Fprintf(&b, `%s<Results><CmdID>%d</CmdID><MsgRef>1</MsgRef><CmdRef>%d</CmdRef>%s`, ind, cmd, cmd+10, nl)
				for _, node := range []string{"Name", "Version", "Publisher", "InstallDate", "InstallPath", "Status", "LastError", "LastErrorDesc"} {
					val := map[string]string{"Name": "Contoso Agent &amp; Tools", "Version": "4.12.1873.0", "Publisher": "Contoso Ltd.", "InstallDate": "20261122",
						"InstallPath": `C:\Program Files\Contoso\`, "Status": "70", "LastError": "-2147023293", "LastErrorDesc": "Fatal error during installation."}[node]
					f := "chr"
					if node == "Status" || node == "LastError" {
						f = "int"
					}
					fmt.Fprintf(&b, `%s%s<Item><Source><LocURI>%s/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{%s}/%s</LocURI></Source><Meta><Format xmlns="syncml:metinf">%s</Format></Meta><Data>%s</Data></Item>%s`, ind, ind, scope, prod, node, f, val, nl)
				}
				fmt.Fprintf(&b, "%s</Results>%s", ind, nl)
			case k < 8:
				fmt.Fprintf(&b, `%s<Alert><CmdID>%d</CmdID><Data>1224</Data><Item><Source><LocURI>%s/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%%7B%s%%7D/DownloadInstall</LocURI></Source><Meta><Type xmlns="syncml:metinf">Reversed-Domain-Name:com.microsoft.mdm.win32csp_install</Type><Format xmlns="syncml:metinf">int</Format><Mark xmlns="syncml:metinf">%s</Mark></Meta><Data>%s</Data></Item></Alert>%s`,
					ind, cmd, scope, prod, []string{"informational", "critical"}[r.IntN(2)], []string{"0", "1603", "0x80070643", "-2147023293", "3010"}[r.IntN(5)], nl)
			case k < 9:
				payload := `&lt;status&gt;&lt;time&gt;1479257400&lt;/time&gt;&lt;result&gt;17002&lt;/result&gt;&lt;description&gt;Click-to-Run failed&lt;/description&gt;&lt;/status&gt;`
				if r.IntN(2) == 0 {
					payload = `<![CDATA[<status><time>1479257400</time><result>0</result><description>Installed</description></status>]]>`
				}
				fmt.Fprintf(&b, `%s<Results><CmdID>%d</CmdID><MsgRef>1</MsgRef><CmdRef>%d</CmdRef><Item><Source><LocURI>./Vendor/MSFT/Office/Installation/{%s}/Status</LocURI></Source><Meta><Format xmlns="syncml:metinf">int</Format></Meta><Data>997</Data></Item><Item><Source><LocURI>./Vendor/MSFT/Office/Installation/{%s}/CurrentStatus</LocURI></Source><Meta><Format xmlns="syncml:metinf">xml</Format></Meta><Data>%s</Data></Item></Results>%s`,
					ind, cmd, cmd+10, prod, prod, payload, nl)
			default:
				fmt.Fprintf(&b, `%s<Alert><CmdID>%d</CmdID><Data>1224</Data><Item><Meta><Type xmlns="syncml:metinf">com.microsoft/MDM/LoginStatus</Type></Meta><Data>user</Data></Item></Alert>%s`, ind, cmd, nl)
			}
			cmd++
		}
		fmt.Fprintf(&b, "%s<Final/>%s</SyncBody>%s</SyncML>", ind, nl, nl)
		out = append(out, []byte(b.String()))
	}
	return out
})
