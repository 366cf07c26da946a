package syncml

import (
	"encoding/binary"
	"testing"
)

// TestFastTagsAgreeWithGrammar checks the fast path against the grammar both
// ways: every name of seven bytes or fewer below the root is found
// by fast, whatever byte ends it, with the role and kind the general lookup
// gives, and every tag fast knows is such a name.
func TestFastTagsAgreeWithGrammar(t *testing.T) {
	l := &lexer{maxName: maxName}
	want := 0
	for parent := range rVal {
		for _, c := range grammar[parent].children {
			role, kind := lookup(parent, []byte(c.name))
			if role != c.role || kind != c.kind {
				t.Errorf("lookup(%d, %s) = %d, %v, want %d, %v", parent, c.name, role, kind, c.role, c.kind)
			}
			for _, end := range []string{">", "/>", " a='1'>", "\n>", "\t>", "\r>"} {
				l.data = []byte("<" + c.name + end + "        ")
				f := l.fast(parent, 1)
				if parent < rHdr || len(c.name) > 7 {
					if f != nil {
						t.Errorf("fast knows %s under role %d, which the general path reads", c.name, parent)
					}
					continue
				}
				if f == nil || int(f.n) != len(c.name) || f.role != role || f.kind != kind {
					t.Errorf("fast(%d, %q) = %+v, want the grammar's role %d, kind %v", parent, l.data, f, role, kind)
				}
			}
			// A longer name that starts with this one is not this one.
			l.data = []byte("<" + c.name + "X>        ")
			if f := l.fast(parent, 1); f != nil {
				t.Errorf("fast(%d, %q) = %+v, want nil", parent, l.data, f)
			}
			if parent >= rHdr && len(c.name) <= 7 {
				want++
			}
		}
	}
	got := 0
	for parent, tags := range fastTags {
		for _, f := range tags {
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], f.key)
			name := w[:f.n]
			role, kind := lookup(uint8(parent), name)
			if !known(uint8(parent), string(name)) || role != f.role || kind != f.kind {
				t.Errorf("fast tag %s under role %d has role %d, kind %v; the grammar says %d, %v", name, parent, f.role, f.kind, role, kind)
			}
			got++
		}
	}
	if got != want {
		t.Errorf("fast knows %d tags, the grammar %d names it can hold", got, want)
	}
}

func known(parent uint8, name string) bool {
	for _, c := range grammar[parent].children {
		if c.name == name {
			return true
		}
	}
	return false
}
