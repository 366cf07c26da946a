package catalog

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

const guid = "6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F34"

func TestParse(t *testing.T) {
	vpn := store.AdminProduct{Tenant: "contoso", CSP: event.CSPMSI, TargetID: guid, Name: "Contoso VPN", Version: "2.1", Publisher: "Contoso Ltd"}
	office := store.AdminProduct{Tenant: "contoso", CSP: event.CSPOffice, TargetID: "INST-1", Name: "Microsoft 365 Apps"}
	tests := []struct {
		name, file, data string
		want             []store.AdminProduct
		// wantErr are the parts every error message must hold, line
		// numbers first; empty for a good file.
		wantErr []string
	}{
		{name: "csv", file: "p.csv", data: "tenant,csp,target_id,name,version,publisher\n" +
			"contoso,msi,{6f7cb29f-9a3b-4c1e-8d2a-0e5b7c9d1f34},Contoso VPN,2.1,Contoso Ltd\n" +
			"contoso,office,INST-1,Microsoft 365 Apps,,\n",
			want: []store.AdminProduct{vpn, office}},
		{name: "csv columns in another order, CSP names, BOM, CRLF, quotes, blank line", file: "p.csv",
			data: "\xef\xbb\xbfName,TARGET_ID,csp,tenant\r\n" +
				"\"Contoso VPN\",%7B6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F34%7D,EnterpriseDesktopAppManagement,contoso\r\n\r\n" +
				"\"Microsoft 365 Apps\",INST-1,OFFICE, contoso \r\n",
			want: []store.AdminProduct{{Tenant: "contoso", CSP: event.CSPMSI, TargetID: guid, Name: "Contoso VPN"}, office}},
		{name: "json", file: "p.json", data: `[
  {"tenant": "contoso", "csp": "MSI", "target_id": "` + strings.ToLower(guid) + `", "name": "Contoso VPN", "version": "2.1", "publisher": "Contoso Ltd"},
  {"tenant": "contoso", "csp": "Office", "target_id": "INST-1", "name": "Microsoft 365 Apps"}
]`, want: []store.AdminProduct{vpn, office}},
		{name: "json recognised without its extension", file: "products", data: ` [{"tenant":"contoso","csp":"office","target_id":"INST-1","name":"Microsoft 365 Apps"}]`,
			want: []store.AdminProduct{office}},
		{name: "csv recognised without its extension", file: "products.txt", data: "tenant,csp,target_id,name\ncontoso,office,INST-1,Microsoft 365 Apps\n",
			want: []store.AdminProduct{office}},

		{name: "csv: every bad row, with its line", file: "p.csv", data: "tenant,csp,target_id,name,version\n" +
			"contoso,msi,{" + guid + "},Contoso VPN,2.1\n" + // 2: good
			"contoso,intune,X,Thing,1\n" + // 3
			"contoso,msi,,Nameless target,1\n" + // 4
			",msi,Y,No tenant,1\n" + // 5
			"contoso,msi,Z,,1\n" + // 6
			"contoso,msi," + strings.ToLower(guid) + ",Again,2\n" + // 7: the same product as line 2
			"contoso,msi,W,Short\n", // 8
			wantErr: []string{"p.csv: line 3: unknown csp \"intune\" (want msi or office)", "line 4: target_id is empty", "line 5: tenant is empty",
				"line 6: name is empty", "line 7: tenant contoso EnterpriseDesktopAppManagement " + guid + " already named on line 2",
				"line 8: 4 fields, the header names 5"}},
		{name: "csv: a field spanning lines counts from its first", file: "p.csv", data: "tenant,csp,target_id,name\n" +
			"contoso,msi,A,\"two\nlines\"\ncontoso,nope,B,x\n",
			wantErr: []string{"line 2: name holds a line break", "line 4: unknown csp \"nope\""}},
		{name: "csv: header", file: "p.csv", data: "tenant,csp,product,name,name\ncontoso,msi,A,x,y\n",
			wantErr: []string{"line 1: unknown column \"product\"", "line 1: column \"name\" twice", "line 1: no column \"target_id\""}},
		{name: "csv: syntax", file: "p.csv", data: "tenant,csp,target_id,name\ncontoso,msi,A,\"unterminated\n",
			wantErr: []string{"p.csv:", "line 2"}},
		{name: "csv: empty", file: "p.csv", data: "", wantErr: []string{"p.csv: empty file"}},
		{name: "csv: header only", file: "p.csv", data: "tenant,csp,target_id,name\n", wantErr: []string{"p.csv: no products"}},

		{name: "json: every bad object, with its line", file: "p.json", data: `[
  {"tenant": "contoso", "csp": "msi", "target_id": "A", "name": "Good"},
  {"tenant": "contoso", "csp": "appx", "target_id": "B", "name": "Bad CSP"},
  {"tenant": "contoso", "csp": "msi", "target_id": "", "name": "No target"},
  {"tenant": "contoso", "csp": "msi", "target_id": "C", "name": "Unknown key", "vendor": "x"},
  {"tenant": "contoso", "csp": "msi", "target_id": "D", "name": 7},
  "not an object"
]`, wantErr: []string{"p.json: line 3: unknown csp \"appx\"", "line 4: target_id is empty", "line 5: unknown key \"vendor\"",
			"line 6: name: want a string, not 7", "line 7: want an object"}},
		{name: "json: syntax error", file: "p.json", data: "[\n  {\"tenant\": \"contoso\",\n   \"csp\": msi}\n]", wantErr: []string{"p.json: line 3: invalid character"}},
		{name: "json: not an array", file: "p.json", data: `{"tenant": "contoso"}`, wantErr: []string{"p.json: line 1: want a JSON array"}},
		{name: "json: cut short", file: "p.json", data: "[\n{\"tenant\": \"contoso\"", wantErr: []string{"p.json: line 2: unexpected end"}},
		{name: "json: empty array", file: "p.json", data: `[]`, wantErr: []string{"p.json: no products"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.file, []byte(tt.data))
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("got  %+v\nwant %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; got %+v", got)
			}
			if got != nil {
				t.Errorf("a bad file gave products %+v", got)
			}
			msg := err.Error()
			for _, w := range tt.wantErr {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if t.Failed() {
				return
			}
			// One error a line, each naming its line.
			if n := strings.Count(msg, "\n") + 1; len(tt.wantErr) > 2 && n != len(tt.wantErr) {
				t.Errorf("%d error lines, want %d:\n%s", n, len(tt.wantErr), msg)
			}
		})
	}
}

func TestParseBoundsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("tenant,csp,target_id,name\n")
	for range 50 {
		b.WriteString("contoso,nope,A,x\n")
	}
	_, err := Parse("p.csv", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "line 21: ") || strings.Contains(err.Error(), "line 22: ") || !strings.Contains(err.Error(), "and 30 more errors") {
		t.Fatalf("err = %v, want the first 20 and a count of the rest", err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "products.csv")
	if err := os.WriteFile(path, []byte("tenant,csp,target_id,name\ncontoso,msi,A,App\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := ReadFile(path)
	if err != nil || len(ps) != 1 || ps[0].Name != "App" {
		t.Fatalf("ReadFile = %+v, %v", ps, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.csv")); err == nil {
		t.Fatal("a missing file read")
	}
}
