package ingest

import (
	"bufio"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

type vector struct {
	secret, id string
	ts         int64
	body       []byte
	sig        string
}

// loadVectors reads testdata/signature_vectors.txt, made by
// testdata/make_vectors.sh with openssl, not with this package.
func loadVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open("testdata/signature_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 5 {
			t.Fatalf("bad vector line %q", line)
		}
		ts, err := strconv.ParseInt(fs[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		body, err := os.ReadFile("testdata/" + fs[3])
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, vector{fs[0], fs[1], ts, body, fs[4]})
	}
	if len(vs) < 4 {
		t.Fatalf("%d vectors, want at least 4", len(vs))
	}
	return vs
}

func TestSignatureVectorsFromOpenSSL(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.id, func(t *testing.T) {
			got, err := webhooksig.SignSecret(v.secret, v.id, v.ts, v.body)
			if err != nil {
				t.Fatal(err)
			}
			if got != v.sig {
				t.Errorf("Sign = %s, openssl says %s", got, v.sig)
			}
			key, err := webhooksig.ParseSecret(v.secret)
			if err != nil {
				t.Fatal(err)
			}
			ts := strconv.FormatInt(v.ts, 10)
			if !webhooksig.Match([][]byte{key}, v.id, ts, v.body, v.sig) {
				t.Error("verify rejects the openssl signature")
			}
			flipped := append([]byte(nil), v.body...)
			flipped[len(flipped)/2] ^= 1
			if webhooksig.Match([][]byte{key}, v.id, ts, flipped, v.sig) {
				t.Error("verify accepts a changed body")
			}
			if webhooksig.Match([][]byte{key}, v.id+"x", ts, v.body, v.sig) {
				t.Error("verify accepts a changed id")
			}
			if webhooksig.Match([][]byte{key}, v.id, strconv.FormatInt(v.ts+1, 10), v.body, v.sig) {
				t.Error("verify accepts a changed timestamp")
			}
		})
	}
}

// The openssl vectors through authenticate, with the clock at the vector's
// time, then past the 5-minute window either way.
func TestAuthenticateVectorsAndWindow(t *testing.T) {
	creds, err := LoadCredentials("testdata/credentials.json")
	if err != nil {
		t.Fatal(err)
	}
	tenantOf := map[string]string{ // vector secret -> tenant holding it
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw": "contoso",
		"whsec_Y29udG9zby1zZWNyZXQta2V5LTAwMDE=": "contoso",
		"fabrikam-raw-secret-0001":               "fabrikam",
	}
	for _, v := range loadVectors(t) {
		tenant := tenantOf[v.secret]
		h := http.Header{}
		h.Set(HeaderWebhookID, v.id)
		h.Set(HeaderWebhookTimestamp, strconv.FormatInt(v.ts, 10))
		h.Set(HeaderWebhookSignature, v.sig)
		at := time.Unix(v.ts, 0)
		tests := []struct {
			name   string
			tenant string
			now    time.Time
			want   *authError
		}{
			{"on time", tenant, at, nil},
			{"4m59s late", tenant, at.Add(4*time.Minute + 59*time.Second), nil},
			{"4m59s early", tenant, at.Add(-4*time.Minute - 59*time.Second), nil},
			{"5m01s late", tenant, at.Add(5*time.Minute + time.Second), errExpired},
			{"5m01s early", tenant, at.Add(-5*time.Minute - time.Second), errExpired},
			{"other tenant", otherThan(tenant), at, errBadSignature},
			{"no tenant", "", at, errTenantNeeded},
		}
		for _, tt := range tests {
			t.Run(v.id+"/"+tt.name, func(t *testing.T) {
				got, aerr := creds.authenticate(h, tt.tenant, v.body, tt.now, 5*time.Minute)
				if aerr != tt.want {
					t.Fatalf("authenticate = %q, %v; want error %v", got, aerr, tt.want)
				}
				if tt.want == nil && got != tenant {
					t.Fatalf("tenant %q, want %q", got, tenant)
				}
			})
		}
	}
}

func otherThan(tenant string) string {
	if tenant == "contoso" {
		return "fabrikam"
	}
	return "contoso"
}

func TestParseCredentialsRejects(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"empty", `{"tenants":[]}`, "no tenants"},
		{"unknown field", `{"tenants":[{"name":"a","tokens":["0123456789abcdef"]}],"x":1}`, "unknown field"},
		{"bad name", `{"tenants":[{"name":"a.b","tokens":["0123456789abcdef"]}]}`, "only letters"},
		{"long name", `{"tenants":[{"name":"` + strings.Repeat("a", 65) + `","tokens":["0123456789abcdef"]}]}`, "1 to 64"},
		{"reserved name", `{"tenants":[{"name":"commands","tokens":["0123456789abcdef"]}]}`, "reserved"},
		{"twice", `{"tenants":[{"name":"a","tokens":["0123456789abcdef"]},{"name":"a","tokens":["0123456789abcdeg"]}]}`, "twice"},
		{"nothing", `{"tenants":[{"name":"a"}]}`, "neither"},
		{"short secret", `{"tenants":[{"name":"a","secrets":["short"]}]}`, "shorter than 16"},
		{"bad whsec", `{"tenants":[{"name":"a","secrets":["whsec_!!!"]}]}`, "whsec_"},
		{"short token", `{"tenants":[{"name":"a","tokens":["short"]}]}`, "shorter than 16"},
		{"shared token", `{"tenants":[{"name":"a","tokens":["0123456789abcdef"]},{"name":"b","tokens":["0123456789abcdef"]}]}`, "already a token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCredentials([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseCredentials = %v, want error containing %q", err, tt.want)
			}
		})
	}
}
