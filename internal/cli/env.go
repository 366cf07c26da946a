package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// namespaces are the prefixes of the variables of the binaries that have
// their own: a binary warns of none under another binary's namespace.
var namespaces = []string{"CSPWATCH_DEMO_", "CSPWATCH_LOADGEN_", "CSPWATCH_TEST_"}

// deployment are the variables docker-compose.yml reads for itself (bind
// addresses, the image's version, Grafana's password): an operator exports
// them beside the binaries' own, so no binary warns of them.
var deployment = map[string]bool{
	"CSPWATCH_BIND": true, "CSPWATCH_INGEST_BIND": true, "CSPWATCH_GRAFANA_PASSWORD": true,
	"CSPWATCH_VERSION": true, "CSPWATCH_COMMIT": true,
}

// WarnUnknownEnv writes a warning to w for every variable of environ
// (KEY=VALUE) under prefix that getenv sees, that is not in known (variable
// to flag name) and that does not belong to another binary's namespace. The
// warning names the closest known variable and its flag.
func WarnUnknownEnv(w io.Writer, binary, prefix string, environ []string, getenv func(string) string, known map[string]string) {
	warnUnknownEnv(w, binary, prefix, environ, getenv, known, nil)
}

// warnUnknownEnv is WarnUnknownEnv that also warns of the variables of
// cmdLine (variable to flag name), those of flags taken from the command
// line only, that they are ignored.
func warnUnknownEnv(w io.Writer, binary, prefix string, environ []string, getenv func(string) string, known, cmdLine map[string]string) {
	own := prefix + "_"
	var unknown []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, own) || known[k] != "" || deployment[k] || getenv(k) == "" || foreign(k, own) {
			continue
		}
		unknown = append(unknown, k)
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		if name := cmdLine[k]; name != "" {
			fmt.Fprintf(w, "%s: warning: %s is ignored: --%s is taken from the command line only\n", binary, k, name)
		} else if best := suggestKey(k, own, known); best != "" {
			fmt.Fprintf(w, "%s: warning: %s is not a variable of %s; did you mean %s (--%s)?\n", binary, k, binary, best, known[best])
		} else {
			fmt.Fprintf(w, "%s: warning: %s is not a variable of %s\n", binary, k, binary)
		}
	}
}

func foreign(k, own string) bool {
	for _, ns := range namespaces {
		if len(ns) > len(own) && strings.HasPrefix(k, ns) {
			return true
		}
	}
	return false
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Closest returns the candidate nearest to s by edit distance, the first in
// order among equals; "" when there is none.
func Closest(s string, candidates []string) string {
	best, dist := "", -1
	for _, c := range candidates {
		if d := distance(s, c); dist < 0 || d < dist {
			best, dist = c, d
		}
	}
	return best
}

// Suggest returns the candidate Closest to s when it is near enough to be
// a misspelling of it, at most max(1, len(s)/3) edits away; "" otherwise.
// Give it names without their shared prefix (NATS_UR, not
// CSPWATCH_NATS_UR), or every name is near every other.
func Suggest(s string, candidates []string) string {
	best := Closest(s, candidates)
	if best == "" || distance(s, best) > max(1, len(s)/3) {
		return ""
	}
	return best
}

// suggestKey is the known variable that k, a variable under own
// ("CSPWATCH_"), misspells, compared without own; "" when none is near.
func suggestKey(k, own string, known map[string]string) string {
	byName := map[string]string{}
	var names []string
	for _, key := range keys(known) {
		n := strings.TrimPrefix(key, own)
		if _, dup := byName[n]; !dup {
			byName[n] = key
			names = append(names, n)
		}
	}
	if best := Suggest(strings.TrimPrefix(k, own), names); best != "" {
		return byName[best]
	}
	return ""
}

// distance is the Levenshtein distance of a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
