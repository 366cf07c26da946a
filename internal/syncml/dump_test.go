package syncml

import (
	"fmt"
	"strings"
)

// dump renders a Message as stable, readable text for golden files and
// failure messages.
func dump(m *Message) string {
	var b strings.Builder
	q := func(name string, v []byte) {
		if len(v) > 0 {
			fmt.Fprintf(&b, "  %s: %q\n", name, v)
		}
	}
	fmt.Fprintf(&b, "version: %q\nfinal: %v\nother: %d\nheader:\n", m.Version, m.Final, m.Other)
	h := m.Header
	q("VerDTD", h.VerDTD)
	q("VerProto", h.VerProto)
	q("SessionID", h.SessionID)
	q("MsgID", h.MsgID)
	q("Target", h.Target)
	q("Source", h.Source)
	for i := range m.Commands {
		c := &m.Commands[i]
		fmt.Fprintf(&b, "command %d: %s\n", i, c.Kind)
		if c.Parent != -1 {
			fmt.Fprintf(&b, "  Parent: %d\n", c.Parent)
		}
		q("CmdID", c.CmdID)
		q("MsgRef", c.MsgRef)
		q("CmdRef", c.CmdRef)
		q("Cmd", c.Cmd)
		q("TargetRef", c.TargetRef)
		q("SourceRef", c.SourceRef)
		q("Data", c.Data)
		q("OriginalError", c.OriginalError)
		q("Format", c.Format)
		q("Type", c.Type)
		for j := range c.Items {
			it := &c.Items[j]
			fmt.Fprintf(&b, "  item %d:\n", j)
			q("  Source", it.Source)
			q("  Target", it.Target)
			q("  Format", it.Format)
			q("  Type", it.Type)
			q("  Mark", it.Mark)
			q("  Data", it.Data)
			q("  OriginalError", it.OriginalError)
		}
	}
	return b.String()
}
