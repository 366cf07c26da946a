package event

import (
	"bytes"
	"strings"
	"testing"
)

const guid = "6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F34"

func TestTargetID(t *testing.T) {
	for in, want := range map[string]string{
		"{" + guid + "}":                         guid,
		"{" + strings.ToLower(guid) + "}":        guid,
		strings.ToLower(guid):                    guid,
		"%7B" + strings.ToLower(guid) + "%7D":    guid,
		"%7b" + guid + "%7d":                     guid,
		"%7B%7B" + guid + "%7D%7D":               "{" + guid + "}",
		"{Office365-Install}":                    "Office365-Install", // not a GUID: case kept
		"Office%20Install":                       "Office Install",
		"lower-case-id":                          "lower-case-id",
		"":                                       "",
		"%ZZ":                                    "%ZZ",
		"%7":                                     "%7",
		"{":                                      "{",
		"{}":                                     "",
		"{6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F3}":  "6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F3",
		"{6f7cb29f_9a3b-4c1e-8d2a-0e5b7c9d1f34}": "6f7cb29f_9a3b-4c1e-8d2a-0e5b7c9d1f34",
		"%7b6f7cb29f-9a3b-4c1e-8d2a-0e5b7c9d1f3g}": "6f7cb29f-9a3b-4c1e-8d2a-0e5b7c9d1f3g",
	} {
		if got := TargetID(in); got != want {
			t.Errorf("TargetID(%q) = %q, want %q", in, got, want)
		}
		if got := AppendTargetID([]byte("x"), []byte(in)); string(got) != "x"+want {
			t.Errorf("AppendTargetID(x, %q) = %q, want x%q", in, got, want)
		}
	}
	raw := []byte("%7b" + strings.ToLower(guid) + "%7d")
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { AppendTargetID(dst, raw) }); n != 0 {
		t.Errorf("AppendTargetID allocates %.1f times", n)
	}
}

// FuzzTargetID: the fast path for GUIDs agrees with the definition, and a
// canonical id is its own canonical form once it holds no '%' or braces.
func FuzzTargetID(f *testing.F) {
	for _, s := range []string{"{" + guid + "}", "%7b" + strings.ToLower(guid) + "%7D", guid, "my%20install", "{x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkFastPath(t, raw)
	})
}

// TestTargetIDFastPath runs FuzzTargetID's check over every byte at every
// position of the wrapped GUIDs the fast path takes.
func TestTargetIDFastPath(t *testing.T) {
	for _, g := range []string{"{" + guid + "}", "%7B" + strings.ToLower(guid) + "%7d"} {
		for pos := range len(g) {
			for c := range 256 {
				b := []byte(g)
				b[pos] = byte(c)
				checkFastPath(t, string(b))
			}
		}
	}
}

func checkFastPath(t *testing.T, raw string) {
	t.Helper()
	got := AppendTargetID([]byte("x"), []byte(raw))
	want := appendTargetIDSlow([]byte("x"), []byte(raw))
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendTargetID(%q) = %q, the definition %q", raw, got, want)
	}
	if len(got)-1 > len(raw) {
		t.Fatalf("target id %q longer than its source %q", got[1:], raw)
	}
}

// TestIsGUIDEveryByte: the eight-bytes-at-a-time isGUID agrees with the
// 8-4-4-4-12 form read a byte at a time, for every byte at every position.
func TestIsGUIDEveryByte(t *testing.T) {
	slow := func(b []byte) bool {
		if len(b) != 36 {
			return false
		}
		for i, c := range b {
			dash := i == 8 || i == 13 || i == 18 || i == 23
			if dash != (c == '-') || !dash && !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
				return false
			}
		}
		return true
	}
	for _, g := range []string{guid, strings.ToLower(guid)} {
		for pos := range len(g) {
			for c := range 256 {
				b := []byte(g)
				b[pos] = byte(c)
				if got, want := isGUID(b), slow(b); got != want {
					t.Fatalf("isGUID(%q) = %v, byte by byte %v", b, got, want)
				}
			}
		}
	}
}
