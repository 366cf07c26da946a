// Package compose loads cspwatch's docker-compose.yml with the Compose
// specification's own loader (github.com/compose-spec/compose-go/v2, the
// library `docker compose` uses), so that tests can check the file against
// the code (services, commands, environment, ports, health checks, volumes)
// on machines without Docker. The loader validates the file against the
// Compose schema, interpolates ${VAR:-default}, normalises the short
// syntaxes and checks references (depends_on, named volumes) as
// `docker compose config` does.
//
// Interpolation reads only the map a test passes, never the host's
// environment or a .env file, so a test sees the file's defaults unless it
// sets a variable.
package compose

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// File is a loaded compose file.
type File struct {
	// Project is the file as the Compose loader models it.
	Project *types.Project
	// Dir is the directory of the file, against which relative paths in it
	// resolve.
	Dir string
}

// Service is the part of one service that cspwatch's tests check, in the
// forms a reader of the file writes them.
type Service struct {
	Name  string
	Image string
	// Build is the build context relative to the file's directory ("."),
	// empty when the service is not built.
	Build       string
	Entrypoint  []string
	Command     []string
	Environment map[string]string
	// Ports are the published ports as "HOST_IP:PUBLISHED:TARGET" (or
	// "PUBLISHED:TARGET" without a host address), "/udp" appended for UDP.
	Ports []string
	// Volumes are the mounts as "SOURCE:TARGET", ":ro" appended when read
	// only; a bind mount's source is relative to the file's directory
	// ("./deploy/x"), a named volume's is its name.
	Volumes   []string
	DependsOn []string
	// Healthcheck is the health check's test, e.g. ["CMD", "wget", ...].
	Healthcheck []string
	// StopGracePeriod is how long Compose waits after SIGTERM before it
	// kills the container; 0 when the file leaves Docker's default (10 s).
	StopGracePeriod time.Duration
	// Config is the service as the Compose loader models it.
	Config types.ServiceConfig
}

// Load reads the compose file at path with no variables set, so every
// ${VAR:-default} takes its default.
func Load(path string) (*File, error) {
	return LoadEnv(path, nil)
}

// LoadEnv reads the compose file at path, interpolating variables from env
// only. The project is named by the file's `name:`, else by its directory,
// as `docker compose` names it.
func LoadEnv(path string, env map[string]string) (*File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	dir := filepath.Dir(abs)
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: abs}},
		Environment: types.Mapping(maps.Clone(env)),
	}
	if details.Environment == nil {
		details.Environment = types.Mapping{}
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName(loader.NormalizeProjectName(filepath.Base(dir)), false)
	})
	if err != nil {
		return nil, fmt.Errorf("compose: %s: %w", path, err)
	}
	return &File{Project: p, Dir: dir}, nil
}

// Services returns the file's services by name.
func (f *File) Services() (map[string]Service, error) {
	if len(f.Project.Services) == 0 {
		return nil, fmt.Errorf("compose: no services")
	}
	out := make(map[string]Service, len(f.Project.Services))
	for name, sc := range f.Project.Services {
		s := Service{
			Name:        name,
			Image:       sc.Image,
			Entrypoint:  slices.Clone(sc.Entrypoint),
			Command:     slices.Clone(sc.Command),
			Environment: map[string]string{},
			Config:      sc,
		}
		if sc.Build != nil {
			s.Build = f.rel(sc.Build.Context)
		}
		for k, v := range sc.Environment {
			if v != nil {
				s.Environment[k] = *v
			} else {
				s.Environment[k] = ""
			}
		}
		for _, p := range sc.Ports {
			port := p.Published + ":" + fmt.Sprint(p.Target)
			if p.HostIP != "" {
				port = p.HostIP + ":" + port
			}
			if p.Protocol != "" && p.Protocol != "tcp" {
				port += "/" + p.Protocol
			}
			s.Ports = append(s.Ports, port)
		}
		for _, v := range sc.Volumes {
			src := v.Source
			if v.Type == types.VolumeTypeBind {
				src = f.rel(src)
			}
			m := src + ":" + v.Target
			if v.ReadOnly {
				m += ":ro"
			}
			s.Volumes = append(s.Volumes, m)
		}
		s.DependsOn = slices.Sorted(maps.Keys(sc.DependsOn))
		if sc.HealthCheck != nil && !sc.HealthCheck.Disable {
			s.Healthcheck = slices.Clone(sc.HealthCheck.Test)
		}
		if sc.StopGracePeriod != nil {
			s.StopGracePeriod = time.Duration(*sc.StopGracePeriod)
		}
		out[name] = s
	}
	return out, nil
}

// Volumes returns the names of the top-level named volumes, sorted.
func (f *File) Volumes() []string {
	return slices.Sorted(maps.Keys(f.Project.Volumes))
}

// rel writes an absolute path under the file's directory as "./x" (or
// "." for the directory itself); other paths are returned unchanged.
func (f *File) rel(p string) string {
	r, err := filepath.Rel(f.Dir, p)
	if err != nil || !filepath.IsAbs(p) || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return p
	}
	if r == "." {
		return "."
	}
	return "./" + filepath.ToSlash(r)
}

// helpFlag matches a flag's line in a command's help: "  -name ..." as
// flag.PrintDefaults writes it, "  --name" or "  -name=default" as other
// CLI libraries do.
var helpFlag = regexp.MustCompile(`(?m)^\s+--?([A-Za-z0-9][A-Za-z0-9._-]*)`)

// FlagNames returns the flag names listed in help (a command's -h output).
func FlagNames(help string) []string {
	var out []string
	for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
		out = append(out, m[1])
	}
	return out
}

// envKey is the variable of flag name under prefix: upper case, with "-",
// "." and "/" as "_" ("CSPWATCH_", "nats-url": CSPWATCH_NATS_URL).
func envKey(prefix, name string) string {
	return prefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(name))
}

// UnknownEnv returns the service's environment variables that name none of
// the flags listed in help (a command's -h output) as prefix + the flag
// upper-cased with "-" as "_", sorted. The commands do not act on such
// variables, so each one is a setting that does nothing.
func (s Service) UnknownEnv(prefix, help string) []string {
	known := map[string]bool{}
	for _, name := range FlagNames(help) {
		known[envKey(prefix, name)] = true
	}
	var out []string
	for k := range s.Environment {
		if !known[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
