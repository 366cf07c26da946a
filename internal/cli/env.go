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
		if best := Closest(k, keys(known)); best != "" {
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
