package normalize

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"slices"
)

// eventID hashes what identifies an item across retries of the same webhook:
// tenant, device, session, message, the command's position in the message
// and the item's position in the command. Fields are length-prefixed so that
// no two different inputs hash the same bytes. The hex id goes to the text.
func (b *Builder) eventID(kind string, ci, ii int) span {
	x := &b.ctx
	if !x.made {
		h := &x.msg.Header
		s := append(b.scratch[:0], "cspwatch.event.v1"...)
		s = appendField(s, x.meta.Tenant)
		s = appendField(s, x.device)
		s = appendField(s, h.SessionID)
		s = appendField(s, h.MsgID)
		b.scratch, b.prefix, x.made = s, len(s), true
	}
	s := appendField(b.scratch[:b.prefix], kind)
	s = binary.AppendUvarint(s, uint64(b.ordinal[ci]))
	s = binary.AppendUvarint(s, uint64(ii))
	b.scratch = s
	off := len(b.text)
	b.text = appendHex(b.text, b.hash(s)[:16])
	return span{off, len(b.text) - off}
}

// appendHex is hex.AppendEncode, growing dst once.
func appendHex(dst, src []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 2*len(src))[:n+2*len(src)]
	out := dst[n:]
	i := 0
	for ; i+4 <= len(src); i += 4 {
		binary.BigEndian.PutUint64(out[2*i:], uint64(hexPairs[src[i]])<<48|uint64(hexPairs[src[i+1]])<<32|
			uint64(hexPairs[src[i+2]])<<16|uint64(hexPairs[src[i+3]]))
	}
	for ; i < len(src); i++ {
		binary.BigEndian.PutUint16(out[2*i:], hexPairs[src[i]])
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// hexPairs holds the two hex digits of every byte.
var hexPairs = func() (t [256]uint16) {
	for c := range t {
		t[c] = uint16(hexDigits[c>>4])<<8 | uint16(hexDigits[c&0xf])
	}
	return t
}()

// hash is sha256.Sum256(s), where s starts with the per-message part of
// scratch. Device ids make that part longer than a SHA-256 block, which
// every event of the message would compress again: hash compresses the
// message's whole blocks once and resumes from that state for each event.
func (b *Builder) hash(s []byte) []byte {
	x := &b.ctx
	const block = 64
	cut := b.prefix / block * block
	if cut == 0 {
		b.sum = sha256.Sum256(s)
		return b.sum[:]
	}
	if b.digest == nil {
		b.digest = sha256.New()
	}
	d := b.digest
	if !x.hashed {
		d.Reset()
		d.Write(s[:cut])
		b.state, _ = d.(encoding.BinaryAppender).AppendBinary(b.state[:0])
		x.hashed = true
	} else if err := d.(encoding.BinaryUnmarshaler).UnmarshalBinary(b.state); err != nil {
		// The state is what this digest marshalled: it always unmarshals.
		panic(err)
	}
	d.Write(s[cut:])
	return d.Sum(b.sum[:0])
}

func appendField[S string | []byte](dst []byte, f S) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(f)))
	return append(dst, f...)
}
