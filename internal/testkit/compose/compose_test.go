package compose

import (
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseSubset(t *testing.T) {
	f, err := Parse([]byte(`# comment
services:
  a:
    image: "x:1"   # trailing comment
    command: ["run", "--flag", "a,b"]
    ports:
      - "80:80"
      - 9000:9000
    environment:
      K: 'it''s'
      URL: http://h:1/p#frag
    depends_on:
      b:
        condition: service_healthy
  b:
    image: y
volumes:
  data:
`))
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := f.Services()
	if err != nil {
		t.Fatal(err)
	}
	a := svcs["a"]
	checks := []struct {
		name      string
		got, want any
	}{
		{"image", a.Image, "x:1"},
		{"command", strings.Join(a.Command, "|"), "run|--flag|a,b"},
		{"ports", strings.Join(a.Ports, "|"), "80:80|9000:9000"},
		{"single quotes", a.Environment["K"], "it's"},
		{"hash inside a word", a.Environment["URL"], "http://h:1/p#frag"},
		{"depends_on", strings.Join(a.DependsOn, "|"), "b"},
		{"b image", svcs["b"].Image, "y"},
		{"volumes", strings.Join(f.Volumes(), "|"), "data"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := map[string]string{
		"tab":           "services:\n\ta: x\n",
		"anchor":        "x: &a 1\n",
		"flow mapping":  "x: {a: 1}\n",
		"block scalar":  "x: |\n  text\n",
		"duplicate key": "x: 1\nx: 2\n",
		"bad indent":    "x: 1\n  y: 2\n",
		"open flow":     "x: [a,\n  b]\n",
		"open quote":    "x: \"abc\n",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(in)); !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) = %v, want ErrSyntax", in, err)
			}
		})
	}
}

// TestRepositoryComposeFile checks the shipped docker-compose.yml for what
// every deployment relies on; cmd/ingest and cmd/aggregator check that their
// services' settings are ones their binaries accept.
func TestRepositoryComposeFile(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := f.Services()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nats", "clickhouse", "ingest", "aggregator"} {
		s, ok := svcs[name]
		if !ok {
			t.Errorf("service %s missing", name)
			continue
		}
		if len(s.Healthcheck) < 2 || s.Healthcheck[0] != "CMD" {
			t.Errorf("service %s: health check %q, want an exec-form CMD", name, s.Healthcheck)
		}
	}
	// Images are pinned; ClickHouse is a current LTS, not the 18.16 the tests use.
	ch := regexp.MustCompile(`^clickhouse/clickhouse-server:(\d+)\.(3|8)(\.[0-9.]+)?$`).FindStringSubmatch(svcs["clickhouse"].Image)
	if ch == nil {
		t.Errorf("clickhouse image %q: want a pinned LTS (YY.3 or YY.8)", svcs["clickhouse"].Image)
	} else if y, _ := strconv.Atoi(ch[1]); y < 25 {
		t.Errorf("clickhouse image %q: older than the current LTS line", svcs["clickhouse"].Image)
	}
	if img := svcs["nats"].Image; !regexp.MustCompile(`^nats:2\.\d+\.\d+`).MatchString(img) {
		t.Errorf("nats image %q: want a pinned 2.x.y", img)
	}
	if !slices.Contains(svcs["nats"].Command, "--jetstream") {
		t.Errorf("nats command %q lacks --jetstream", svcs["nats"].Command)
	}
	for _, name := range []string{"ingest", "aggregator"} {
		s := svcs[name]
		if s.Build == "" {
			t.Errorf("%s: not built from the repository's Dockerfile", name)
		}
		if !slices.Contains(s.DependsOn, "nats") {
			t.Errorf("%s: does not wait for nats", name)
		}
		if s.Environment["CSPWATCH_NATS_URL"] != "nats://nats:4222" {
			t.Errorf("%s: CSPWATCH_NATS_URL = %q", name, s.Environment["CSPWATCH_NATS_URL"])
		}
	}
	if !slices.Contains(svcs["aggregator"].DependsOn, "clickhouse") {
		t.Error("aggregator does not wait for clickhouse")
	}
	vols := f.Volumes()
	for _, v := range []string{"nats-data", "clickhouse-data"} {
		if !slices.Contains(vols, v) {
			t.Errorf("named volume %s missing", v)
		}
	}
}

func TestUnknownEnv(t *testing.T) {
	help := "Usage of x:\n  -nats-url string\n    \tNATS\n  -listen string\n    \taddress\n"
	s := Service{Environment: map[string]string{"CSPWATCH_NATS_URL": "n", "CSPWATCH_LISTN": ":1", "OTHER": "x"}}
	if got := strings.Join(s.UnknownEnv("CSPWATCH_", help), ","); got != "CSPWATCH_LISTN,OTHER" {
		t.Fatalf("UnknownEnv = %s, want CSPWATCH_LISTN,OTHER", got)
	}
}
