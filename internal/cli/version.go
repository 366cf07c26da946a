package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Commit are stamped at build time:
//
//	go build -ldflags "-X github.com/cspwatch/cspwatch/internal/cli.Version=$(git describe --tags --always --dirty) -X github.com/cspwatch/cspwatch/internal/cli.Commit=$(git rev-parse --short HEAD)"
//
// Left empty, Build falls back to what the Go toolchain recorded.
var (
	Version string
	Commit  string
)

// BuildInfo says which build a binary is.
type BuildInfo struct {
	Binary, Version, Commit, GoVersion string
}

// Build returns the build of binary: the stamped version and commit, or
// else the module version and the VCS revision the toolchain recorded
// ("devel" and "unknown" when there is none).
func Build(binary string) BuildInfo {
	b := BuildInfo{Binary: binary, Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		modified := false
		rev := ""
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if b.Commit == "" && rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if modified {
				rev += "-dirty"
			}
			b.Commit = rev
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// String is "aggregator v1.2.0 (commit 1a2b3c4, go1.26.8 linux/amd64)".
func (b BuildInfo) String() string {
	return fmt.Sprintf("%s %s (commit %s, %s %s/%s)", b.Binary, b.Version, b.Commit, b.GoVersion, runtime.GOOS, runtime.GOARCH)
}
