package event_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestConsumersDoNotDependOnSyncML: the consumers of events (the
// aggregator, the store) and the contract and codec packages they use build
// without the SyncML scanner and the normaliser, so that a change there
// cannot reach them.
func TestConsumersDoNotDependOnSyncML(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH: %v", err)
	}
	const mod = "github.com/cspwatch/cspwatch/internal/"
	forbidden := []string{mod + "syncml", mod + "normalize"}
	for _, pkg := range []string{"aggregator", "store", "event", "eventjson"} {
		t.Run(pkg, func(t *testing.T) {
			cmd := exec.Command(goBin, "list", "-deps", mod+pkg)
			cmd.Dir = "../.."
			out, err := cmd.Output()
			if err != nil {
				msg := err.Error()
				if ee, ok := err.(*exec.ExitError); ok {
					msg += ": " + string(ee.Stderr)
				}
				t.Fatalf("go list -deps %s: %s", pkg, msg)
			}
			for dep := range strings.FieldsSeq(string(out)) {
				for _, f := range forbidden {
					if dep == f || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s depends on %s", pkg, dep)
					}
				}
			}
		})
	}
}
