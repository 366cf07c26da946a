package compose

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// repoFile is the repository's compose file.
var repoFile = filepath.Join("..", "..", "..", "docker-compose.yml")

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	// The host's environment is never read: only the map given to LoadEnv.
	t.Setenv("BIND", "192.0.2.1")
	t.Setenv("PASS", "from-the-host")
	p := writeFile(t, `# comment
name: demo
services:
  a:
    build: .
    image: "x:1"
    entrypoint: ["/bin/a"]
    command: ["run", "--flag", "a,b"]
    ports:
      - "${BIND:-127.0.0.1}:80:8080"
      - 9000:9000
      - "127.0.0.1:53:53/udp"
    environment:
      K: 'it''s'
      URL: http://h:1/p#frag
      PASS: ${PASS:-default-pass}
      EMPTY:
    volumes:
      - ./conf/a.json:/etc/a.json:ro
      - data:/var/lib/a
    depends_on:
      b:
        condition: service_healthy
    healthcheck:
      test: ["CMD", "/bin/a", "healthcheck"]
    stop_grace_period: 1m30s
  b:
    image: y
    depends_on: [c]
  c:
    image: z
volumes:
  data:
`)
	for _, tc := range []struct {
		name           string
		env            map[string]string
		bind, password string
	}{
		{"defaults", nil, "127.0.0.1", "default-pass"},
		{"set", map[string]string{"BIND": "0.0.0.0", "PASS": "s3cret"}, "0.0.0.0", "s3cret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := LoadEnv(p, tc.env)
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
				{"project", f.Project.Name, "demo"},
				{"image", a.Image, "x:1"},
				{"build", a.Build, "."},
				{"entrypoint", strings.Join(a.Entrypoint, "|"), "/bin/a"},
				{"command", strings.Join(a.Command, "|"), "run|--flag|a,b"},
				{"ports", strings.Join(a.Ports, "|"), tc.bind + ":80:8080|9000:9000|127.0.0.1:53:53/udp"},
				{"single quotes", a.Environment["K"], "it's"},
				{"hash inside a word", a.Environment["URL"], "http://h:1/p#frag"},
				{"interpolated", a.Environment["PASS"], tc.password},
				{"empty value", a.Environment["EMPTY"], ""},
				{"volumes", strings.Join(a.Volumes, "|"), "./conf/a.json:/etc/a.json:ro|data:/var/lib/a"},
				{"depends_on", strings.Join(a.DependsOn, "|"), "b"},
				{"depends_on list", strings.Join(svcs["b"].DependsOn, "|"), "c"},
				{"healthcheck", strings.Join(a.Healthcheck, "|"), "CMD|/bin/a|healthcheck"},
				{"stop_grace_period", a.StopGracePeriod, 90 * time.Second},
				{"no stop_grace_period", svcs["b"].StopGracePeriod, time.Duration(0)},
				{"b image", svcs["b"].Image, "y"},
				{"volumes", strings.Join(f.Volumes(), "|"), "data"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
				}
			}
		})
	}
}

// TestLoadRejects: what `docker compose` refuses, Load refuses, so a test
// never checks a file that Compose would not run.
func TestLoadRejects(t *testing.T) {
	tests := map[string]string{
		"not YAML":           "services: [\n",
		"unknown attribute":  "services:\n  a:\n    image: x\n    stop_grace_perod: 1m\n",
		"wrong type":         "services:\n  a:\n    image: x\n    ports: 8080\n",
		"bad duration":       "services:\n  a:\n    image: x\n    stop_grace_period: soon\n",
		"unknown dependency": "services:\n  a:\n    image: x\n    depends_on: [b]\n",
		"undeclared volume":  "services:\n  a:\n    image: x\n    volumes: [\"data:/d\"]\n",
		"missing variable":   "services:\n  a:\n    image: ${IMAGE:?set IMAGE}\n",
		"no image or build":  "services:\n  a:\n    command: [x]\n",
		"duplicate key":      "services:\n  a:\n    image: x\n    image: y\n",
		"bad variable":       "services:\n  a:\n    image: ${IMAGE\n",
		"bad port":           "services:\n  a:\n    image: x\n    ports: [\"80:http\"]\n",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := Load(writeFile(t, in))
			if err == nil {
				svcs, _ := f.Services()
				t.Fatalf("Load(%q) accepted it: %+v", in, svcs)
			}
			t.Log(err)
		})
	}
}

func TestUnknownEnv(t *testing.T) {
	// flag.PrintDefaults, and the "--name" and "-name=default" forms of
	// other CLI libraries.
	help := "Usage of x:\n  -nats-url string\n    \tNATS\n  -listen string\n    \taddress\n" +
		"FLAGS\n  --log-format json\n  -insecure=false  accept\n"
	s := Service{Environment: map[string]string{
		"CSPWATCH_NATS_URL": "n", "CSPWATCH_LISTN": ":1", "OTHER": "x",
		"CSPWATCH_LOG_FORMAT": "json", "CSPWATCH_INSECURE": "1",
	}}
	if got := strings.Join(s.UnknownEnv("CSPWATCH_", help), ","); got != "CSPWATCH_LISTN,OTHER" {
		t.Fatalf("UnknownEnv = %s, want CSPWATCH_LISTN,OTHER", got)
	}
}

func loadRepo(t *testing.T, env map[string]string) (*File, map[string]Service) {
	t.Helper()
	f, err := LoadEnv(repoFile, env)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := f.Services()
	if err != nil {
		t.Fatal(err)
	}
	return f, svcs
}

// TestRepositoryComposeFile checks the shipped docker-compose.yml for what
// every deployment relies on; cmd/ingest and cmd/aggregator check that their
// services' settings are ones their binaries accept, deploy/grafana the
// grafana service.
func TestRepositoryComposeFile(t *testing.T) {
	f, svcs := loadRepo(t, nil)
	if f.Project.Name != "cspwatch" {
		t.Errorf("project name %q, want cspwatch (it prefixes the volumes' names)", f.Project.Name)
	}
	for _, name := range []string{"nats", "clickhouse", "ingest", "aggregator", "grafana"} {
		s, ok := svcs[name]
		if !ok {
			t.Errorf("service %s missing", name)
			continue
		}
		if len(s.Healthcheck) < 2 || s.Healthcheck[0] != "CMD" {
			t.Errorf("service %s: health check %q, want an exec-form CMD", name, s.Healthcheck)
		}
		if s.Config.Restart != "unless-stopped" {
			t.Errorf("service %s: restart %q, want unless-stopped", name, s.Config.Restart)
		}
	}
	// Images are pinned; ClickHouse is a current LTS (YY.3 or YY.8), not the
	// 18.16 the tests run on.
	ch := regexp.MustCompile(`^clickhouse/clickhouse-server:(\d+)\.(3|8)(\.[0-9.]+)?$`).FindStringSubmatch(svcs["clickhouse"].Image)
	if ch == nil {
		t.Errorf("clickhouse image %q: want a pinned LTS (YY.3 or YY.8)", svcs["clickhouse"].Image)
	} else if y, _ := strconv.Atoi(ch[1]); y < 26 {
		t.Errorf("clickhouse image %q: older than the current LTS line", svcs["clickhouse"].Image)
	}
	if img := svcs["nats"].Image; !regexp.MustCompile(`^nats:2\.\d+\.\d+`).MatchString(img) {
		t.Errorf("nats image %q: want a pinned 2.x.y", img)
	}
	for _, name := range []string{"ingest", "aggregator"} {
		s := svcs[name]
		if s.Build != "." {
			t.Errorf("%s: build %q, want the repository's Dockerfile (.)", name, s.Build)
		}
		if !slices.Contains(s.DependsOn, "nats") {
			t.Errorf("%s: does not wait for nats", name)
		}
		if s.Environment["CSPWATCH_NATS_URL"] != "nats://nats:4222" {
			t.Errorf("%s: CSPWATCH_NATS_URL = %q", name, s.Environment["CSPWATCH_NATS_URL"])
		}
		// Compose stops a service with SIGTERM and kills it after
		// stop_grace_period, 10 s by default: shorter than the services'
		// drain. cmd/ingest and cmd/aggregator check the bound against
		// their own timeouts.
		if s.StopGracePeriod <= 10*time.Second {
			t.Errorf("%s: stop_grace_period %v, want longer than its drain", name, s.StopGracePeriod)
		}
	}
	if !slices.Contains(svcs["aggregator"].DependsOn, "clickhouse") {
		t.Error("aggregator does not wait for clickhouse")
	}
	vols := f.Volumes()
	for _, v := range []string{"nats-data", "clickhouse-data", "grafana-data"} {
		if !slices.Contains(vols, v) {
			t.Errorf("named volume %s missing", v)
		}
	}
}

// TestComposePortsBindLoopback: by default every published port is reachable
// from this machine only; CSPWATCH_BIND publishes them all on another
// address, CSPWATCH_INGEST_BIND ingest's webhook alone.
func TestComposePortsBindLoopback(t *testing.T) {
	for _, tc := range []struct {
		name        string
		env         map[string]string
		ingest, all string
	}{
		{"default", nil, "127.0.0.1", "127.0.0.1"},
		{"CSPWATCH_BIND", map[string]string{"CSPWATCH_BIND": "0.0.0.0"}, "0.0.0.0", "0.0.0.0"},
		{"CSPWATCH_INGEST_BIND", map[string]string{"CSPWATCH_INGEST_BIND": "0.0.0.0"}, "0.0.0.0", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := loadRepo(t, tc.env)
			n := 0
			for name, s := range f.Project.Services {
				want := tc.all
				if name == "ingest" {
					want = tc.ingest
				}
				for _, p := range s.Ports {
					n++
					if p.HostIP != want {
						t.Errorf("%s publishes %s on %q, want %q", name, p.Published, p.HostIP, want)
					}
				}
			}
			if n == 0 {
				t.Fatal("no published ports")
			}
		})
	}
}

// TestComposeNATSAuth: the nats service requires a user and password, as
// nats-server itself reads its command line, and ingest and the aggregator
// log in with them, by default and when CSPWATCH_NATS_* are set. A client
// without them is refused.
func TestComposeNATSAuth(t *testing.T) {
	for _, env := range []map[string]string{
		nil,
		{"CSPWATCH_NATS_USER": "ops", "CSPWATCH_NATS_PASSWORD": "s3cret"},
	} {
		_, svcs := loadRepo(t, env)
		fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		noop := func() {}
		opts, err := server.ConfigureOptions(fs, svcs["nats"].Command, noop, noop, noop)
		if err != nil {
			t.Fatalf("nats-server refuses the nats command %q: %v", svcs["nats"].Command, err)
		}
		if !opts.JetStream {
			t.Errorf("nats command %q: JetStream off", svcs["nats"].Command)
		}
		if opts.Username == "" || opts.Password == "" {
			t.Fatalf("nats command %q: no --user and --pass, any client may connect", svcs["nats"].Command)
		}
		if want := env["CSPWATCH_NATS_PASSWORD"]; want != "" && (opts.Password != want || opts.Username != env["CSPWATCH_NATS_USER"]) {
			t.Errorf("nats user %q password %q, want the CSPWATCH_NATS_* given", opts.Username, opts.Password)
		}
		for _, name := range []string{"ingest", "aggregator"} {
			e := svcs[name].Environment
			if e["CSPWATCH_NATS_USER"] != opts.Username || e["CSPWATCH_NATS_PASSWORD"] != opts.Password {
				t.Errorf("%s logs in as %q/%q, nats wants %q/%q", name,
					e["CSPWATCH_NATS_USER"], e["CSPWATCH_NATS_PASSWORD"], opts.Username, opts.Password)
			}
		}

		// The same options on a real nats-server.
		opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", -1, 0
		opts.StoreDir = t.TempDir()
		opts.NoSigs, opts.NoLog = true, true
		ns, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		if nc, err := nats.Connect(ns.ClientURL()); err == nil {
			nc.Close()
			t.Error("nats-server accepts a client without credentials")
		}
		e := svcs["ingest"].Environment
		nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo(e["CSPWATCH_NATS_USER"], e["CSPWATCH_NATS_PASSWORD"]))
		if err != nil {
			t.Errorf("ingest's credentials refused: %v", err)
		} else {
			nc.Close()
		}
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// TestDockerfile: the image is built with the version stamped into the
// variables the binaries print, and the build context leaves out what is
// not source.
func TestDockerfile(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, arg := range []string{"VERSION", "COMMIT"} {
		if !regexp.MustCompile(`(?m)^ARG ` + arg + `\b`).MatchString(df) {
			t.Errorf("Dockerfile: no ARG %s", arg)
		}
	}
	// -X of a variable that does not exist is silently ignored, so each
	// target must be a package-level string variable of this module.
	xs := regexp.MustCompile(`-X (github\.com/cspwatch/cspwatch/[\w/]+)\.(\w+)=\$\{?(\w+)\}?`).FindAllStringSubmatch(df, -1)
	if len(xs) < 2 {
		t.Fatalf("Dockerfile: want -X of the version and commit in -ldflags, found %q", xs)
	}
	for _, x := range xs {
		dir := filepath.Join(root, strings.TrimPrefix(x[1], "github.com/cspwatch/cspwatch/"))
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("-X %s.%s: no package %s: %v", x[1], x[2], dir, err)
			continue
		}
		src, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		re := regexp.MustCompile(`(?m)^\s*(var\s+)?` + x[2] + `(\s*,\s*\w+)*\s+(string\b|=\s*")`)
		found := false
		for _, s := range src {
			if strings.HasSuffix(s, "_test.go") {
				continue
			}
			if b, err := os.ReadFile(s); err == nil && re.Match(b) {
				found = true
			}
		}
		if !found {
			t.Errorf("-X %s.%s: no string variable %s in %s", x[1], x[2], x[2], dir)
		}
	}
	// Both services use the image built from it, with the same arguments.
	_, svcs := loadRepo(t, map[string]string{"CSPWATCH_VERSION": "1.2.3", "CSPWATCH_COMMIT": "abc"})
	for _, name := range []string{"ingest", "aggregator"} {
		bc := svcs[name].Config.Build
		if bc == nil || bc.Args["VERSION"] == nil || *bc.Args["VERSION"] != "1.2.3" || bc.Args["COMMIT"] == nil || *bc.Args["COMMIT"] != "abc" {
			t.Errorf("%s: build args do not pass CSPWATCH_VERSION and CSPWATCH_COMMIT: %+v", name, bc)
		}
	}

	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(ignore))
	for _, p := range []string{".git", "bin/", "data/", "**/*.test", "cspwatch-report.html", ".env"} {
		if !slices.Contains(lines, p) {
			t.Errorf(".dockerignore lacks %s", p)
		}
	}
}
