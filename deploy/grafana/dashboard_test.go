// Package grafana holds the tests of cspwatch's Grafana provisioning: the
// dashboard JSON for the ClickHouse data-source plugin, its data source and
// dashboard provider, and the grafana service of docker-compose.yml that
// mounts them (README "Grafana").
package grafana

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/testkit/compose"
)

// The files this directory provisions, relative to it.
const (
	dashboardFile  = "dashboards/cspwatch.json"
	datasourceFile = "provisioning/datasources/clickhouse.yaml"
	providerFile   = "provisioning/dashboards/cspwatch.yaml"
	pluginID       = "grafana-clickhouse-datasource"
)

// Plugin query formats (sqlutil.FormatQueryOption).
const (
	formatTimeSeries = 0
	formatTable      = 1
)

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	Datasource dsRef  `json:"datasource"`
	EditorType string `json:"editorType"`
	Format     *int   `json:"format"`
	RawSQL     string `json:"rawSql"`
	RefID      string `json:"refId"`
}

type panel struct {
	ID          int      `json:"id"`
	Type        string   `json:"type"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Datasource  dsRef    `json:"datasource"`
	Targets     []target `json:"targets"`
	Panels      []panel  `json:"panels"` // a row's
}

type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Datasource dsRef  `json:"datasource"`
	Definition string `json:"definition"`
	Query      struct {
		EditorType string `json:"editorType"`
		RawSQL     string `json:"rawSql"`
	} `json:"query"`
	Multi      bool `json:"multi"`
	IncludeAll bool `json:"includeAll"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// queryPanels returns the dashboard's panels that query, rows flattened.
func (d dashboard) queryPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...)
			continue
		}
		out = append(out, p)
	}
	return out
}

func (d dashboard) variable(name string) (variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return variable{}, false
}

// yamlLeaves reads the "key: value" lines of a small provisioning file,
// "- " list markers and comments dropped, into a map. A key may appear only
// once, so the files stay one data source and one provider, which is what
// the tests check. items counts the list items.
func yamlLeaves(t *testing.T, path string) (leaves map[string]string, items int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	leaves = map[string]string{}
	sc := bufio.NewScanner(f)
	for no := 1; sc.Scan(); no++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "- "); ok {
			items++
			line = rest
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s:%d: want key: value, got %q", path, no, line)
		}
		if _, dup := leaves[k]; dup {
			t.Fatalf("%s:%d: key %s twice", path, no, k)
		}
		leaves[k] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return leaves, items
}

// The dashboard is one the plugin can run: every panel queries the
// provisioned data source with raw SQL, tables as tables and time series
// as time series; the tenant and product variables exist, query that data
// source and take several values or All.
func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	ds, items := yamlLeaves(t, datasourceFile)
	if items != 1 || ds["type"] != pluginID || ds["uid"] == "" {
		t.Fatalf("%s: want one %s data source with a uid, got %d items, type %q uid %q", datasourceFile, pluginID, items, ds["type"], ds["uid"])
	}
	want := dsRef{Type: pluginID, UID: ds["uid"]}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q: both needed for a stable link", d.UID, d.Title)
	}
	panels := d.queryPanels()
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	ids, titles := map[int]bool{}, map[string]bool{}
	for _, p := range panels {
		if ids[p.ID] || titles[p.Title] {
			t.Errorf("panel %d %q: id or title not unique", p.ID, p.Title)
		}
		ids[p.ID], titles[p.Title] = true, true
		if p.Description == "" {
			t.Errorf("panel %q: no description saying what it counts", p.Title)
		}
		if p.Datasource != want {
			t.Errorf("panel %q: data source %+v, want %+v", p.Title, p.Datasource, want)
		}
		if len(p.Targets) != 1 {
			t.Errorf("panel %q: %d targets, want 1", p.Title, len(p.Targets))
			continue
		}
		tg := p.Targets[0]
		if tg.Datasource != want || tg.EditorType != "sql" || strings.TrimSpace(tg.RawSQL) == "" || tg.RefID == "" {
			t.Errorf("panel %q: target %+v: want the provisioned data source, editorType sql, rawSql and a refId", p.Title, tg)
		}
		wantFormat := map[string]int{"timeseries": formatTimeSeries, "table": formatTable}
		if f, ok := wantFormat[p.Type]; !ok {
			t.Errorf("panel %q: type %s, want timeseries or table", p.Title, p.Type)
		} else if tg.Format == nil || *tg.Format != f {
			t.Errorf("panel %q (%s): format %v, want %d", p.Title, p.Type, tg.Format, f)
		}
	}
	for _, name := range []string{"tenant", "product"} {
		v, ok := d.variable(name)
		if !ok {
			t.Errorf("no variable %s", name)
			continue
		}
		if v.Type != "query" || v.Datasource != want || v.Query.EditorType != "sql" || v.Query.RawSQL == "" || v.Definition != v.Query.RawSQL {
			t.Errorf("variable %s: want a SQL query variable on the provisioned data source (definition = rawSql), got %+v", name, v)
		}
		if !v.Multi || !v.IncludeAll {
			t.Errorf("variable %s: want multi-value with All", name)
		}
	}
}

// docker-compose.yml's grafana service mounts the provisioning files and
// the dashboard that exist here, installs the plugin, and points the data
// source at the compose clickhouse service with its credentials.
func TestComposeGrafanaService(t *testing.T) {
	root := filepath.Join("..", "..")
	f, err := compose.Load(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := f.Services()
	if err != nil {
		t.Fatal(err)
	}
	g, ok := svcs["grafana"]
	if !ok {
		t.Fatal("no grafana service")
	}
	if !regexp.MustCompile(`^grafana/grafana:\d+\.\d+\.\d+$`).MatchString(g.Image) {
		t.Errorf("grafana image %q: want a pinned grafana/grafana:X.Y.Z", g.Image)
	}
	plugins := g.Environment["GF_PLUGINS_PREINSTALL_SYNC"] + "," + g.Environment["GF_PLUGINS_PREINSTALL"] + "," + g.Environment["GF_INSTALL_PLUGINS"]
	if !regexp.MustCompile(`(^|,)` + pluginID + `@\d+\.\d+\.\d+(,|$)`).MatchString(plugins) {
		t.Errorf("grafana does not install %s at a pinned version (GF_PLUGINS_PREINSTALL_SYNC): %q", pluginID, plugins)
	}
	if len(g.Healthcheck) < 2 || g.Healthcheck[0] != "CMD" {
		t.Errorf("grafana health check %q, want an exec-form CMD", g.Healthcheck)
	}
	if !slices.Contains(g.DependsOn, "clickhouse") {
		t.Error("grafana does not wait for clickhouse")
	}

	// Container path -> repository path of each bind mount.
	mounts := map[string]string{}
	for _, v := range g.Volumes {
		src, rest, _ := strings.Cut(v, ":")
		dst, _, _ := strings.Cut(rest, ":")
		if !strings.HasPrefix(src, "./") {
			continue // a named volume
		}
		if _, err := os.Stat(filepath.Join(root, src)); err != nil {
			t.Errorf("grafana mounts %s, which the repository lacks: %v", src, err)
		}
		mounts[dst] = filepath.Join(root, src)
	}
	// inContainer maps a container path to the repository file behind it.
	inContainer := func(p string) (string, bool) {
		for dst, src := range mounts {
			if rel, ok := strings.CutPrefix(p, dst+"/"); ok {
				return filepath.Join(src, rel), true
			}
		}
		return "", false
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// Every file of provisioning/ and dashboards/ reaches the container.
	for _, dir := range []string{"provisioning", "dashboards"} {
		err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			abs, _ := filepath.Abs(path)
			for _, src := range mounts {
				if s, _ := filepath.Abs(src); strings.HasPrefix(abs, s+string(filepath.Separator)) {
					return nil
				}
			}
			t.Errorf("%s is not mounted into the grafana container", path)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range []string{datasourceFile, providerFile} {
		src, ok := inContainer("/etc/grafana/provisioning/" + strings.TrimPrefix(file, "provisioning/"))
		if abs, _ := filepath.Abs(src); !ok || abs != filepath.Join(here, file) {
			t.Errorf("%s is not at /etc/grafana/provisioning in the container (mounts %v)", file, mounts)
		}
	}
	prov, items := yamlLeaves(t, providerFile)
	if items != 1 || prov["type"] != "file" {
		t.Errorf("%s: want one file provider, got %d items, type %q", providerFile, items, prov["type"])
	}
	src, ok := inContainer(strings.TrimSuffix(prov["path"], "/") + "/" + filepath.Base(dashboardFile))
	if abs, _ := filepath.Abs(src); !ok || abs != filepath.Join(here, dashboardFile) {
		t.Errorf("the provider's path %q does not hold %s in the container (mounts %v)", prov["path"], dashboardFile, mounts)
	}
	if home := g.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		if src, ok := inContainer(home); !ok {
			t.Errorf("home dashboard %s is not mounted", home)
		} else if _, err := os.Stat(src); err != nil {
			t.Errorf("home dashboard %s: %v", home, err)
		}
	}

	// The data source reaches the compose ClickHouse as its user.
	ds, _ := yamlLeaves(t, datasourceFile)
	ch, ok := svcs[ds["host"]]
	if !ok {
		t.Fatalf("data source host %q is no compose service", ds["host"])
	}
	if ds["protocol"] != "native" || !slices.ContainsFunc(ch.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+ds["port"]) }) {
		t.Errorf("data source %s:%s (%s): want the native port clickhouse publishes (%v)", ds["host"], ds["port"], ds["protocol"], ch.Ports)
	}
	if ds["username"] != ch.Environment["CLICKHOUSE_USER"] || ds["defaultDatabase"] != ch.Environment["CLICKHOUSE_DB"] {
		t.Errorf("data source user %q database %q, clickhouse has %q %q", ds["username"], ds["defaultDatabase"],
			ch.Environment["CLICKHOUSE_USER"], ch.Environment["CLICKHOUSE_DB"])
	}
	m := regexp.MustCompile(`^\$\{?(\w+)\}?$`).FindStringSubmatch(ds["password"])
	if m == nil {
		t.Fatalf("data source password %q: want an environment variable, not a literal", ds["password"])
	}
	if got := g.Environment[m[1]]; got == "" || got != ch.Environment["CLICKHOUSE_PASSWORD"] {
		t.Errorf("grafana's %s = %q, clickhouse's password is %q", m[1], got, ch.Environment["CLICKHOUSE_PASSWORD"])
	}
}
