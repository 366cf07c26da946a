package normalize

import (
	"bytes"
	"encoding/binary"

	"github.com/cspwatch/cspwatch/internal/event"
)

// target gathers what one message says about one (scope, csp, target).
type target struct {
	scope, csp string
	raw        []byte // the target segment as first sent, in msg
	id         span   // canonical id
	// tail of raw and of the id, which tell most targets apart.
	rawTail, idTail uint64
	product         [6][]byte
	hasProduct      bool
	hasState        bool // a status-bearing node was reported
	text            []byte
	// first descriptive item, the anchor of an inventory event
	cmd, item int
	loc       []byte
	prod      *event.Product // set after pass 1 when hasProduct; filled at the end of Build
}

// Indexes into target.product, in Product field order.
const (
	pName = iota
	pVersion
	pPublisher
	pInstallDate
	pInstallPath
	pLastErrorDesc
)

// productNodes are the MSI nodes pass 1 reads into the product of their
// target, by index into target.product.
var productNodes = [...]string{
	pName: "Name", pVersion: "Version", pPublisher: "Publisher",
	pInstallDate: "InstallDate", pInstallPath: "InstallPath", pLastErrorDesc: "LastErrorDesc",
}

// productField is the index into target.product of node, a canonical node
// name, or -1 when node is not a product field. It is productNodes as a
// switch, which the compiler turns into compares of lengths and words:
// a loop over productNodes costs a string compare per name, on every
// Results item. TestProductField checks the two agree.
func productField(node string) int {
	switch node {
	case "Name":
		return pName
	case "Version":
		return pVersion
	case "Publisher":
		return pPublisher
	case "InstallDate":
		return pInstallDate
	case "InstallPath":
		return pInstallPath
	case "LastErrorDesc":
		return pLastErrorDesc
	}
	return -1
}

// descriptive reports whether node is one pass 1 reads into the product
// fields of its target.
func descriptive(node string) bool {
	return node == "UpgradeCode" || productField(node) >= 0
}

// target finds or adds the message's record of p's target and returns its
// index. Targets are few per message, so a linear scan beats a map and
// allocates nothing.
func (b *Builder) target(p *cspPath) int {
	// The items of one target usually spell it alike: compare as sent
	// first, canonicalising only a spelling not seen yet. Each comparison
	// starts with the length and last eight bytes, where GUIDs differ. The
	// items of one target tend to follow each other: newest first.
	raw, rawTail := p.target, tail(p.target)
	for i := len(b.targets) - 1; i >= 0; i-- {
		t := &b.targets[i]
		if t.rawTail == rawTail && len(t.raw) == len(raw) && bytes.Equal(t.raw, raw) &&
			t.scope == p.scope && t.csp == p.csp {
			return i
		}
	}
	off := len(b.text)
	b.text = event.AppendTargetID(b.text, raw)
	id := b.text[off:]
	idTail := tail(id)
	for i := range b.targets {
		t := &b.targets[i]
		if t.idTail == idTail && t.id.n == len(id) && bytes.Equal(b.text[t.id.off:t.id.off+t.id.n], id) &&
			t.scope == p.scope && t.csp == p.csp {
			b.text = b.text[:off]
			return i
		}
	}
	b.targets = append(b.targets, target{scope: p.scope, csp: p.csp, raw: raw, rawTail: rawTail,
		id: span{off, len(id)}, idTail: idTail})
	return len(b.targets) - 1
}

// tail is the last eight bytes of s, or all of them when fewer, as a number.
func tail(s []byte) uint64 {
	if len(s) >= 8 {
		return binary.LittleEndian.Uint64(s[len(s)-8:])
	}
	var x uint64
	for _, c := range s {
		x = x<<8 | uint64(c)
	}
	return x
}
