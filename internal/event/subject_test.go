package event

import "testing"

func TestAppendSubject(t *testing.T) {
	tests := []struct {
		tenant, csp, outcome, want string
	}{
		{"contoso", CSPOffice, "failed", "cspwatch.install.contoso.office.failed"},
		{"contoso", CSPMSI, "in_progress", "cspwatch.install.contoso.msi.in_progress"},
		{"contoso", "", "failed", "cspwatch.install.contoso.none.failed"},
		{"a.b *>c", CSPMSI, "succeeded", "cspwatch.install.a_b___c.msi.succeeded"},
		{"", CSPMSI, "", "cspwatch.install._.msi._"},
		{"tenant-é", CSPMSI, "x", "cspwatch.install.tenant-__.msi.x"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			e := Event{Tenant: tc.tenant, CSP: tc.csp, Outcome: tc.outcome}
			if got := string(e.AppendSubject(nil)); got != tc.want {
				t.Fatalf("AppendSubject = %q, want %q", got, tc.want)
			}
		})
	}
}
