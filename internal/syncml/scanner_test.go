package syncml

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
)

const testHdr = `<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>2</MsgID>` +
	`<Target><LocURI>https://mdm</LocURI></Target><Source><LocURI>DEV1</LocURI></Source></SyncHdr>`

// msg wraps a SyncBody's content into a whole message.
func msg(body string) string {
	return `<SyncML xmlns="SYNCML:SYNCML1.2">` + testHdr + `<SyncBody>` + body + `</SyncBody></SyncML>`
}

func alertItem(item string) string {
	return msg(`<Alert><CmdID>2</CmdID><Data>1224</Data><Item>` + item + `</Item></Alert>`)
}

func utf16Bytes(s string, big, bom bool) []byte {
	u := utf16.Encode([]rune(s))
	var b []byte
	if bom {
		if big {
			b = append(b, 0xFE, 0xFF)
		} else {
			b = append(b, 0xFF, 0xFE)
		}
	}
	for _, x := range u {
		if big {
			b = append(b, byte(x>>8), byte(x))
		} else {
			b = append(b, byte(x), byte(x>>8))
		}
	}
	return b
}

func item0(m *Message) *Item { return &m.Commands[0].Items[0] }

func TestParseFields(t *testing.T) {
	tests := []struct {
		name  string
		input string
		get   func(m *Message) string
		want  string
	}{
		{"header VerDTD", msg(""), func(m *Message) string { return string(m.Header.VerDTD) }, "1.2"},
		{"header VerProto", msg(""), func(m *Message) string { return string(m.Header.VerProto) }, "DM/1.2"},
		{"header SessionID", msg(""), func(m *Message) string { return string(m.Header.SessionID) }, "1"},
		{"header MsgID", msg(""), func(m *Message) string { return string(m.Header.MsgID) }, "2"},
		{"header Target", msg(""), func(m *Message) string { return string(m.Header.Target) }, "https://mdm"},
		{"header Source", msg(""), func(m *Message) string { return string(m.Header.Source) }, "DEV1"},
		{"header Meta ignored", `<SyncML><SyncHdr><Meta><LocURI>x</LocURI></Meta><Source><LocURI>D</LocURI></Source></SyncHdr></SyncML>`,
			func(m *Message) string { return string(m.Header.Source) + "|" + string(m.Header.Target) }, "D|"},
		{"version 1.2", msg(""), func(m *Message) string { return string(m.Version) }, "1.2"},
		{"version 1.1 lower case", strings.Replace(msg(""), "SYNCML:SYNCML1.2", "syncml:SyncML1.1", 1),
			func(m *Message) string { return string(m.Version) }, "1.1"},
		{"version absent", strings.Replace(msg(""), ` xmlns="SYNCML:SYNCML1.2"`, "", 1),
			func(m *Message) string { return string(m.Version) }, ""},
		{"version of prefixed root", `<s:SyncML xmlns="x" xmlns:s='SYNCML:SYNCML1.1'><s:SyncHdr><s:Source><s:LocURI>D</s:LocURI></s:Source></s:SyncHdr></s:SyncML>`,
			func(m *Message) string { return string(m.Version) }, "1.1"},
		{"status fields", msg(`<Status><CmdID>3</CmdID><MsgRef>1</MsgRef><CmdRef>7</CmdRef><Cmd>Exec</Cmd><TargetRef>./a</TargetRef><SourceRef>./b</SourceRef><Data>500</Data></Status>`),
			func(m *Message) string {
				c := m.Commands[0]
				return strings.Join([]string{c.Kind.String(), string(c.CmdID), string(c.MsgRef), string(c.CmdRef), string(c.Cmd), string(c.TargetRef), string(c.SourceRef), string(c.Data)}, "|")
			}, "Status|3|1|7|Exec|./a|./b|500"},
		{"first TargetRef and SourceRef", msg(`<Status><TargetRef>one</TargetRef><TargetRef>two</TargetRef><SourceRef>s1</SourceRef><SourceRef>s2</SourceRef></Status>`),
			func(m *Message) string {
				return string(m.Commands[0].TargetRef) + "|" + string(m.Commands[0].SourceRef)
			}, "one|s1"},
		{"status originalerror", msg(`<Status><Data xmlns:msft="urn:m" msft:originalerror=" 0x86000002 ">500</Data></Status>`),
			func(m *Message) string { return string(m.Commands[0].OriginalError) }, "0x86000002"},
		{"originalerror without prefix", alertItem(`<Data originalerror='0x1'>5</Data>`),
			func(m *Message) string { return string(item0(m).OriginalError) }, "0x1"},
		{"xmlns:originalerror is a declaration", alertItem(`<Data xmlns:originalerror='urn:x'>5</Data>`),
			func(m *Message) string { return string(item0(m).OriginalError) }, ""},
		{"first originalerror wins", alertItem(`<Data a:originalerror="1" b:originalerror="2">5</Data>`),
			func(m *Message) string { return string(item0(m).OriginalError) }, "1"},
		{"results command meta", msg(`<Results><CmdID>4</CmdID><Meta><Format xmlns="syncml:metinf">xml</Format><Type>text/plain</Type></Meta><Item><Data>x</Data></Item></Results>`),
			func(m *Message) string {
				c := m.Commands[0]
				return c.Kind.String() + "|" + string(c.Format) + "|" + string(c.Type) + "|" + string(c.Items[0].Format)
			}, "Results|xml|text/plain|"},
		{"alert fields", msg(`<Alert><CmdID>9</CmdID><Data>1201</Data></Alert>`),
			func(m *Message) string {
				return m.Commands[0].Kind.String() + "|" + string(m.Commands[0].CmdID) + "|" + string(m.Commands[0].Data)
			}, "Alert|9|1201"},
		{"item source and target", alertItem(`<Source><LocURI>./s</LocURI></Source><Target><LocURI>./t</LocURI></Target>`),
			func(m *Message) string { return string(item0(m).Source) + "|" + string(item0(m).Target) }, "./s|./t"},
		{"item meta with metinf namespace", alertItem(`<Meta><Format xmlns="syncml:metinf">int</Format><Type xmlns="syncml:metinf">T</Type><Mark xmlns="syncml:metinf">critical</Mark><Size>3</Size></Meta>`),
			func(m *Message) string {
				return string(item0(m).Format) + "|" + string(item0(m).Type) + "|" + string(item0(m).Mark)
			}, "int|T|critical"},
		{"item meta with prefix", alertItem(`<Meta><m:Format xmlns:m="syncml:metinf">int</m:Format></Meta>`),
			func(m *Message) string { return string(item0(m).Format) }, "int"},
		{"type directly under item", alertItem(`<Type>T</Type><Format>int</Format><Mark>informational</Mark>`),
			func(m *Message) string {
				return string(item0(m).Format) + "|" + string(item0(m).Type) + "|" + string(item0(m).Mark)
			}, "int|T|informational"},
		{"meta wins over direct type", alertItem(`<Type>direct</Type><Meta><Type>meta</Type></Meta>`),
			func(m *Message) string { return string(item0(m).Type) }, "meta"},
		{"several items in order", msg(`<Results><Item><Data>a</Data></Item><Item/><Item><Data>c</Data></Item></Results>`),
			func(m *Message) string {
				var s []string
				for _, it := range m.Commands[0].Items {
					s = append(s, string(it.Data))
				}
				return strings.Join(s, ",")
			}, "a,,c"},
		{"entities", alertItem(`<Data>&lt;a&gt; &amp; &quot;b&quot; &apos;c&apos;</Data>`),
			func(m *Message) string { return string(item0(m).Data) }, `<a> & "b" 'c'`},
		{"character references", alertItem(`<Data>&#65;&#x42;&#x1F600;&#169;</Data>`),
			func(m *Message) string { return string(item0(m).Data) }, "AB\x00"}, // replaced below
		{"CDATA verbatim", alertItem(`<Data><![CDATA[<x>&amp;</x>]]></Data>`),
			func(m *Message) string { return string(item0(m).Data) }, "<x>&amp;</x>"},
		{"text and CDATA joined", alertItem(`<Data> a &amp; <![CDATA[<b>]]> c </Data>`),
			func(m *Message) string { return string(item0(m).Data) }, "a & <b> c"},
		{"CDATA between whitespace", alertItem("<Data>\n  <![CDATA[ payload ]]>\n</Data>"),
			func(m *Message) string { return string(item0(m).Data) }, "payload"},
		{"comments and PIs inside a value", alertItem(`<Data>16<!-- x --><?pi y?>03</Data>`),
			func(m *Message) string { return string(item0(m).Data) }, "1603"},
		{"whitespace kept between segments", alertItem(`<Data>a<!--x-->  <!--y-->b</Data>`),
			func(m *Message) string { return string(item0(m).Data) }, "a  b"},
		{"whitespace trimmed", alertItem("<Source><LocURI>\n\t ./Device/Vendor/MSFT/x \r\n</LocURI></Source><Data>  0  </Data>"),
			func(m *Message) string { return string(item0(m).Source) + "|" + string(item0(m).Data) }, "./Device/Vendor/MSFT/x|0"},
		{"CRLF inside a value becomes LF", alertItem("<Data>a\r\nb\rc</Data>"),
			func(m *Message) string { return string(item0(m).Data) }, "a\nb\nc"},
		{"Data with child elements is raw markup", alertItem("<Data>\n <s a='1'>x &amp; y</s><t/>\n</Data>"),
			func(m *Message) string { return string(item0(m).Data) }, "<s a='1'>x &amp; y</s><t/>"},
		{"self-closing Data", alertItem(`<Data/>`), func(m *Message) string { return string(item0(m).Data) }, ""},
		{"final", msg(`<Final/>`), func(m *Message) string { return boolStr(m.Final) }, "true"},
		{"no final", msg(``), func(m *Message) string { return boolStr(m.Final) }, "false"},
		{"other commands counted", msg(`<Sync><Replace><CmdID>1</CmdID><Item><Data>&amp;</Data></Item></Replace></Sync><Map/><Copy/><x:Put xmlns:x="u"/><Exec><Status/></Exec>`),
			func(m *Message) string { return string(rune('0'+m.Other)) + "|" + kinds(m) }, "4|Exec/-1"},
		{"atomic and sequence nesting", msg(`<Atomic><CmdID>1</CmdID><Sequence><Atomic><Status><Data>200</Data></Status></Atomic></Sequence><Alert><Data>1</Data></Alert></Atomic><Get/>`),
			func(m *Message) string {
				return kinds(m) + "|" + string(m.Commands[3].Data) + "|" + string(m.Commands[4].Data)
			}, "Atomic/-1 Sequence/0 Atomic/1 Status/2 Alert/0 Get/-1|200|1"},
		{"server commands", msg(`<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>` +
			`<Add><CmdID>a1</CmdID><Item><Target><LocURI>./a</LocURI></Target><Meta><Format>chr</Format></Meta><Data>1</Data></Item></Add>` +
			`<Replace><CmdID>r1</CmdID><Meta><Format xmlns="syncml:metinf">int</Format><Type>text/plain</Type></Meta><Item><Target><LocURI>./r</LocURI></Target><Data>2</Data></Item></Replace>` +
			`<Exec><CmdID>e1</CmdID><Item><Target><LocURI>./e</LocURI></Target><Meta><Format>xml</Format><Type>text/plain</Type></Meta><Data>&lt;Job id="{X}"&gt;&lt;/Job&gt;</Data></Item></Exec>` +
			`<Get><CmdID>g1</CmdID><Item><Target><LocURI>./g1</LocURI></Target></Item><Item><Target><LocURI>./g2</LocURI></Target></Item></Get>` +
			`<Delete><CmdID>d1</CmdID><Item><Target><LocURI>./d</LocURI></Target></Item></Delete><Final/>`),
			func(m *Message) string {
				var s []string
				for _, c := range m.Commands[1:] {
					f := c.Kind.String() + ":" + string(c.CmdID) + ":" + string(c.Format) + ":" + string(c.Type)
					for _, it := range c.Items {
						f += ":" + string(it.Target) + "=" + string(it.Format) + "," + string(it.Type) + "," + string(it.Data)
					}
					s = append(s, f)
				}
				return strings.Join(s, " ") + "|" + string(rune('0'+m.Other))
			}, `Add:a1:::./a=chr,,1 Replace:r1:int:text/plain:./r=,,2 Exec:e1:::./e=xml,text/plain,<Job id="{X}"></Job> Get:g1:::./g1=,,:./g2=,, Delete:d1:::./d=,,|0`},
		{"UUID CmdID", msg(`<Atomic><CmdID> 5d0e1f7a-3c2b-4a19-8e6d-2f4b7c9a0e13 </CmdID><Replace><CmdID>a81f44c2-9b0e-4d5f-b7a3-6c1e2d3f4a5b</CmdID></Replace></Atomic>`),
			func(m *Message) string { return string(m.Commands[0].CmdID) + "|" + string(m.Commands[1].CmdID) }, "5d0e1f7a-3c2b-4a19-8e6d-2f4b7c9a0e13|a81f44c2-9b0e-4d5f-b7a3-6c1e2d3f4a5b"},
		{"container CmdID and Meta after its commands", msg(`<Atomic><Replace><CmdID>2</CmdID><Meta><Type>t2</Type></Meta></Replace><CmdID>1</CmdID><Meta><Format>chr</Format><Type>t1</Type></Meta><NoResp/><Cred/></Atomic>`),
			func(m *Message) string {
				a, r := m.Commands[0], m.Commands[1]
				return string(a.CmdID) + "," + string(a.Format) + "," + string(a.Type) + "|" + string(r.CmdID) + "," + string(r.Format) + "," + string(r.Type) + "|" + string(rune('0'+m.Other))
			}, "1,chr,t1|2,,t2|0"},
		{"container with other fields", msg(`<Sequence><Data>x</Data><Item><Data>y</Data></Item><Final/></Sequence>`),
			func(m *Message) string {
				return kinds(m) + "|" + string(m.Commands[0].Data) + "|" + string(rune('0'+m.Other)) + "|" + boolStr(m.Final)
			}, "Sequence/-1||2|true"},
		{"self-closing containers", msg(`<Atomic/><Sequence/><Atomic><Sequence/><Get/></Atomic><Get/>`),
			func(m *Message) string { return kinds(m) }, "Atomic/-1 Sequence/-1 Atomic/-1 Sequence/2 Get/2 Get/-1"},
		{"SyncBody CmdID and Meta ignored", msg(`<CmdID>9</CmdID><Meta><Format>x</Format></Meta><Exec><CmdID>1</CmdID></Exec>`),
			func(m *Message) string {
				return kinds(m) + "|" + string(m.Commands[0].CmdID) + string(m.Commands[0].Format)
			}, "Exec/-1|1"},
		{"prefixed server commands", msg(`<s:Sequence xmlns:s="SYNCML:SYNCML1.2"><s:CmdID>1</s:CmdID><s:Exec><s:CmdID>2</s:CmdID><s:Item><s:Target><s:LocURI>./x</s:LocURI></s:Target></s:Item></s:Exec></s:Sequence>`),
			func(m *Message) string {
				return kinds(m) + "|" + string(m.Commands[0].CmdID) + "|" + string(m.Commands[1].Items[0].Target)
			}, "Sequence/-1 Exec/0|1|./x"},
		{"Exec Data in CDATA", msg(`<Exec><Item><Data><![CDATA[<MsiInstallJob id="{A}"><Product Version="1.0"/></MsiInstallJob>]]></Data></Item></Exec>`),
			func(m *Message) string { return string(item0(m).Data) }, `<MsiInstallJob id="{A}"><Product Version="1.0"/></MsiInstallJob>`},
		{"Exec Data as child elements", msg("<Exec><Item><Data>\n <MsiInstallJob id=\"{A}\"><Product Version=\"1.0\">&amp;</Product></MsiInstallJob>\n</Data></Item></Exec>"),
			func(m *Message) string { return string(item0(m).Data) }, `<MsiInstallJob id="{A}"><Product Version="1.0">&amp;</Product></MsiInstallJob>`},
		{"attributes with both quotes and spaces", `<SyncML xmlns = 'SYNCML:SYNCML1.2'  a="x'y" b='x"y' ><SyncHdr ><Source><LocURI>D</LocURI></Source></SyncHdr ></SyncML >`,
			func(m *Message) string { return string(m.Version) + "|" + string(m.Header.Source) }, "1.2|D"},
		{"xml declaration, comments, PIs around the root", `<?xml version="1.0" encoding="utf-8"?><!-- c --><?pi?>` + "\n" + msg("") + "\n<!-- after --><?after?>\n",
			func(m *Message) string { return string(m.Header.Source) }, "DEV1"},
		{"UTF-8 BOM", "\xEF\xBB\xBF" + msg(""), func(m *Message) string { return string(m.Header.Source) }, "DEV1"},
		{"UTF-16 LE with BOM", string(utf16Bytes(alertItem(`<Data>für 🚀</Data>`), false, true)),
			func(m *Message) string { return string(item0(m).Data) }, "für 🚀"},
		{"UTF-16 BE with BOM", string(utf16Bytes(alertItem(`<Data>für 🚀</Data>`), true, true)),
			func(m *Message) string { return string(item0(m).Data) }, "für 🚀"},
		{"UTF-16 LE without BOM", string(utf16Bytes(alertItem(`<Data>x</Data>`), false, false)),
			func(m *Message) string { return string(item0(m).Data) }, "x"},
		{"entity in device id", strings.Replace(msg(""), "DEV1", "D&amp;1", 1),
			func(m *Message) string { return string(m.Header.Source) }, "D&1"},
		{"unknown elements ignored", msg(`<Status><Chal><Meta><Type>x</Type></Meta></Chal><Data>200</Data><Item><Extra>y</Extra></Item></Status>`),
			func(m *Message) string { return string(m.Commands[0].Data) + "|" + string(m.Commands[0].Type) }, "200|"},
	}
	for i := range tests {
		if tests[i].name == "character references" {
			tests[i].want = "AB\U0001F600\u00a9"
		}
	}
	s := NewScanner(Limits{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := s.Parse([]byte(tc.input))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := tc.get(m); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			checkAgainstReference(t, []byte(tc.input), m, nil)
		})
	}
}

// kinds lists the commands of m as Kind/Parent.
func kinds(m *Message) string {
	var s []string
	for _, c := range m.Commands {
		s = append(s, fmt.Sprintf("%v/%d", c.Kind, c.Parent))
	}
	return strings.Join(s, " ")
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestParseRejects(t *testing.T) {
	deep := `<SyncML>` + testHdr + `<SyncBody>` + strings.Repeat("<Atomic>", 100) + strings.Repeat("</Atomic>", 100) + `</SyncBody></SyncML>`
	tests := []struct {
		name  string
		input string
		want  Reason
	}{
		{"empty input", "", ReasonEmpty},
		{"only whitespace and comments", " <!-- x --> <?pi?>\n", ReasonEmpty},
		{"doctype", `<?xml version="1.0"?><!DOCTYPE SyncML><SyncML/>`, ReasonDoctype},
		{"entity declaration", `<!ENTITY x "y">`, ReasonDoctype},
		{"doctype inside the body", msg(`<!DOCTYPE x>`), ReasonDoctype},
		{"unknown entity", alertItem(`<Data>&nbsp;</Data>`), ReasonUnknownEntity},
		{"unknown entity in ignored text", msg(`<Replace><Data>&xxe;</Data></Replace>`), ReasonUnknownEntity},
		{"unknown entity in attribute", msg(`<Replace a="&x;"/>`), ReasonUnknownEntity},
		{"bare ampersand", alertItem(`<Data>a & b</Data>`), ReasonMalformed},
		{"bad character reference", alertItem(`<Data>&#0;</Data>`), ReasonMalformed},
		{"upper-case X in character reference", alertItem(`<Data>&#X41;</Data>`), ReasonMalformed},
		{"huge character reference", alertItem(`<Data>&#99999999999;</Data>`), ReasonMalformed},
		{"mismatched end tag", msg(`<Status></Alert>`), ReasonMalformed},
		{"end tag prefix of name", msg(`<Status></Stat>`), ReasonMalformed},
		{"end tag longer than name", msg(`<Status></StatusX>`), ReasonMalformed},
		{"stray end tag", msg("") + "</x>", ReasonMalformed},
		{"second root", msg("") + "<SyncML/>", ReasonMalformed},
		{"text after root", msg("") + "x", ReasonMalformed},
		{"text before root", "x" + msg(""), ReasonMalformed},
		{"unclosed elements", strings.TrimSuffix(msg(""), "</SyncBody></SyncML>"), ReasonTruncated},
		{"truncated in a tag", msg("")[:40], ReasonTruncated},
		{"truncated after <", "<SyncML><", ReasonTruncated},
		{"truncated end tag", "<SyncML></Sync", ReasonTruncated},
		{"unterminated comment", msg("<!-- x"), ReasonTruncated},
		{"double hyphen in comment", msg("<!-- a -- b -->"), ReasonMalformed},
		{"unterminated CDATA", msg("<Alert><Data><![CDATA[x"), ReasonTruncated},
		{"unterminated PI", "<?xml version='1.0'", ReasonTruncated},
		{"unterminated attribute", `<SyncML a="x`, ReasonTruncated},
		{"unquoted attribute", `<SyncML a=x>`, ReasonMalformed},
		{"attribute without value", `<SyncML a>`, ReasonMalformed},
		{"< in attribute", `<SyncML a="<">`, ReasonMalformed},
		{"attributes not separated", `<SyncML a="1"b="2">`, ReasonMalformed},
		{"bad name", `<1SyncML/>`, ReasonMalformed},
		{"two colons", `<a:b:SyncML/>`, ReasonMalformed},
		{"empty local name", `<a:/>`, ReasonMalformed},
		{"CDATA outside root", `<![CDATA[x]]>`, ReasonMalformed},
		{"invalid UTF-8", alertItem("<Data>\xff</Data>"), ReasonInvalidUTF8},
		{"overlong UTF-8", alertItem("<Data>\xc0\xaf</Data>"), ReasonInvalidUTF8},
		{"UTF-16 unpaired high surrogate", string(append(utf16Bytes("<SyncML>", false, true), 0x00, 0xD8, '<', 0)), ReasonEncoding},
		{"UTF-16 unpaired low surrogate", string(append(utf16Bytes("<SyncML>", true, true), 0xDC, 0x00)), ReasonEncoding},
		{"UTF-16 odd length", string(append(utf16Bytes("<SyncML>", false, true), '<')), ReasonEncoding},
		{"too deep", deep, ReasonTooDeep},
		{"root not SyncML", `<Envelope/>`, ReasonNotSyncML},
		{"no SyncHdr", `<SyncML><SyncBody/></SyncML>`, ReasonNoHeader},
		{"no SyncHdr at all", `<SyncML/>`, ReasonNoHeader},
		{"SyncBody before SyncHdr", `<SyncML><SyncBody/>` + testHdr + `</SyncML>`, ReasonNoHeader},
		{"no device id", `<SyncML><SyncHdr><Target><LocURI>x</LocURI></Target></SyncHdr></SyncML>`, ReasonNoDevice},
		{"empty device id", `<SyncML><SyncHdr><Source><LocURI> </LocURI></Source></SyncHdr></SyncML>`, ReasonNoDevice},
		{"element name too long", `<SyncML><` + strings.Repeat("x", 70000) + `/></SyncML>`, ReasonTooLarge},
		{"attribute too long", `<SyncML a="` + strings.Repeat("x", 5000) + `"/>`, ReasonTooLarge},
	}
	s := NewScanner(Limits{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := s.Parse([]byte(tc.input))
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Parse = %v, %v; want *Error %s", m, err, tc.want)
			}
			if se.Reason != tc.want {
				t.Fatalf("reason %s (%v), want %s", se.Reason, err, tc.want)
			}
			if m != nil {
				t.Errorf("message returned with an error")
			}
			if se.Offset < 0 || se.Offset > len(tc.input) {
				t.Errorf("offset %d outside the input", se.Offset)
			}
		})
	}
}

func TestLimitsCommands(t *testing.T) {
	for _, body := range []string{strings.Repeat("<Get/>", 50), strings.Repeat("<Alert/>", 50), "<Atomic>" + strings.Repeat("<Sequence/>", 49) + "</Atomic>"} {
		in := []byte(msg(body))
		_, err := NewScanner(Limits{MaxCommands: 49}).Parse(in)
		var se *Error
		if !errors.As(err, &se) || se.Reason != ReasonTooManyElements || !strings.Contains(se.Detail, "commands") {
			t.Fatalf("%.40s…: got %v, want too_many_elements for commands", body, err)
		}
		if m, err := NewScanner(Limits{MaxCommands: 50}).Parse(in); err != nil || len(m.Commands) != 50 {
			t.Fatalf("%.40s…: at the limit: %v", body, err)
		}
	}
	if n := NewScanner(Limits{}).Limits.MaxCommands; n != DefaultLimits.MaxCommands {
		t.Fatalf("zero MaxCommands becomes %d, want the default %d", n, DefaultLimits.MaxCommands)
	}
}

func TestKindString(t *testing.T) {
	want := []string{"Kind(0)", "Status", "Results", "Alert", "Add", "Replace", "Exec", "Get", "Delete", "Atomic", "Sequence", "Kind(11)"}
	for k := range want {
		if got := Kind(k).String(); got != want[k] {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want[k])
		}
		if c := Kind(k).Container(); c != (k == 9 || k == 10) {
			t.Errorf("Kind(%d).Container() = %v", k, c)
		}
	}
}

func TestLimitsElements(t *testing.T) {
	in := []byte(msg(strings.Repeat("<Get/>", 50)))
	s := NewScanner(Limits{MaxElements: 40})
	_, err := s.Parse(in)
	var se *Error
	if !errors.As(err, &se) || se.Reason != ReasonTooManyElements {
		t.Fatalf("got %v, want too_many_elements", err)
	}
	if _, err := NewScanner(Limits{MaxElements: 100}).Parse(in); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
}

// TestScannerReuse checks that a reused Scanner's second message does not
// leak values from the first.
func TestScannerReuse(t *testing.T) {
	s := NewScanner(Limits{})
	big := alertItem(`<Source><LocURI>./a</LocURI></Source><Meta><Type>T</Type></Meta><Data originalerror="0x1">&amp;1</Data>`)
	if _, err := s.Parse([]byte(big)); err != nil {
		t.Fatal(err)
	}
	m, err := s.Parse([]byte(alertItem(`<Data>2</Data>`)))
	if err != nil {
		t.Fatal(err)
	}
	it := item0(m)
	if len(it.Source) != 0 || len(it.Type) != 0 || len(it.OriginalError) != 0 || string(it.Data) != "2" || len(m.Commands) != 1 {
		t.Fatalf("stale values after reuse:\n%s", dump(m))
	}
}

func TestDiffDetectsDisagreement(t *testing.T) {
	in := []byte(alertItem(`<Data>1603</Data>`))
	m, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := refExtract(in)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(m, ref); d != "" {
		t.Fatalf("unexpected difference: %s", d)
	}
	m.Commands[0].Items[0].Data = []byte("1604")
	if d := diff(m, ref); !strings.Contains(d, "1604") {
		t.Fatalf("diff missed a changed Data: %q", d)
	}

	in = []byte(msg(`<Atomic><CmdID>u-1</CmdID><Sequence><Exec><CmdID>3</CmdID></Exec></Sequence></Atomic>`))
	if m, err = Parse(in); err != nil {
		t.Fatal(err)
	}
	if ref, err = refExtract(in); err != nil {
		t.Fatal(err)
	}
	if d := diff(m, ref); d != "" {
		t.Fatalf("unexpected difference: %s", d)
	}
	for _, change := range []struct {
		what string
		f    func(c []Command)
	}{
		{"parent", func(c []Command) { c[2].Parent = 0 }},
		{"kind", func(c []Command) { c[1].Kind = KindAtomic }},
		{"CmdID", func(c []Command) { c[0].CmdID = []byte("u-2") }},
	} {
		m, _ := Parse(in)
		change.f(m.Commands)
		if d := diff(m, ref); !strings.Contains(d, change.what) {
			t.Errorf("diff missed a changed %s: %q", change.what, d)
		}
	}
}

// TestScannerReuseAfterError is the regression for a fuzz finding: a message
// rejected after its root's xmlns was captured left that capture behind, and
// the next message on the same Scanner lost its Version.
// TestScannerReuseAfterContainerError checks that a message rejected inside
// a container leaves no open container behind for the next message.
func TestScannerReuseAfterContainerError(t *testing.T) {
	s := NewScanner(Limits{})
	if _, err := s.Parse([]byte(msg(`<Atomic><CmdID>1</CmdID><Sequence><Get><Data>&bad;</Data></Get>`))); err == nil {
		t.Fatal("bad message accepted")
	}
	m, err := s.Parse([]byte(msg(`<Get><CmdID>1</CmdID></Get>`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(m); got != "Get/-1" {
		t.Fatalf("commands %s after a rejected message, want Get/-1", got)
	}
}

func TestScannerReuseAfterError(t *testing.T) {
	s := NewScanner(Limits{})
	if _, err := s.Parse([]byte(`<SyncML xmlns="SYNCML:SYNCML1.2" a=x>`)); err == nil {
		t.Fatal("bad attribute accepted")
	}
	m, err := s.Parse([]byte(msg("")))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Version) != "1.2" {
		t.Fatalf("Version %q after a rejected message, want 1.2", m.Version)
	}
}
