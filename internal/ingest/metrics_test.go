package ingest

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"
)

// publishErrors returns the publish errors counter's value by cause.
func publishErrors(t *testing.T, m *metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "cspwatch_ingest_publish_errors_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			cause := ""
			for _, l := range s.GetLabel() {
				if l.GetName() == "cause" {
					cause = l.GetValue()
				}
			}
			got[cause] = s.GetCounter().GetValue()
		}
	}
	return got
}

// The publish errors counter starts with every cause at 0, so that the
// alerting rules in deploy/prometheus see the first 503, and a 503 counts
// in the series of its cause.
func TestPublishErrorCausesStartAtZero(t *testing.T) {
	m := newMetrics(func() float64 { return 0 })
	got := publishErrors(t, m)
	if len(got) != len(publishCauses) {
		t.Fatalf("publish error series at start %v, want one per cause %q", got, publishCauses)
	}
	for _, c := range publishCauses {
		if v, ok := got[c]; !ok || v != 0 {
			t.Fatalf("cause %s starts at %v (exported: %v)", c, v, ok)
		}
	}
	s := &Server{m: m}
	if e := s.unavailable("backpressure", errors.New("full")); e.status != 503 {
		t.Fatalf("unavailable answers %d", e.status)
	}
	got = publishErrors(t, m)
	if got["backpressure"] != 1 || len(got) != len(publishCauses) {
		t.Fatalf("after one backpressure 503: %v", got)
	}
}

// Every cause server.go passes to unavailable is one of publishCauses: a
// new cause must be added there, or it would appear only at its first 503.
func TestPublishCausesListsServerCauses(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "server.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	lit := func(e ast.Expr) {
		if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			v, _ := strconv.Unquote(bl.Value)
			found = append(found, v)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "unavailable" && len(n.Args) > 0 {
				lit(n.Args[0])
			}
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name == "cause" && i < len(n.Rhs) {
					lit(n.Rhs[i])
				}
			}
		}
		return true
	})
	if len(found) < 5 {
		t.Fatalf("found only causes %q in server.go; has the code moved?", found)
	}
	for _, c := range found {
		if !slices.Contains(publishCauses[:], c) {
			t.Errorf("server.go answers 503 with cause %q, not in publishCauses (metrics.go)", c)
		}
	}
}
