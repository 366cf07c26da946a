package event

// SubjectPrefix is the NATS subject prefix of install events.
const SubjectPrefix = "cspwatch.install."

// AppendSubject appends cspwatch.install.<tenant>.<csp>.<outcome> for e, with
// <csp> one of office, msi or none, and every token sanitised to NATS subject
// rules: a byte other than an ASCII letter, digit, '-' or '_' becomes '_', and
// an empty token becomes '_'.
func (e *Event) AppendSubject(dst []byte) []byte {
	dst = append(dst, SubjectPrefix...)
	dst = AppendToken(dst, e.Tenant)
	dst = append(dst, '.')
	switch e.CSP {
	case CSPOffice:
		dst = append(dst, "office"...)
	case CSPMSI:
		dst = append(dst, "msi"...)
	default:
		dst = append(dst, "none"...)
	}
	dst = append(dst, '.')
	return AppendToken(dst, e.Outcome)
}

// AppendToken appends s as one NATS subject token (see AppendSubject).
func AppendToken(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '_')
	}
	if tokenSafe(s) {
		// Tenants and outcomes are usually tokens already.
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '_')
		}
	}
	return dst
}

// tokenSafe reports whether every byte of s stays as it is in a token.
func tokenSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// tokenByte marks the bytes a subject token keeps.
var tokenByte = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	return t
}()
