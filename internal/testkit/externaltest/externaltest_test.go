package externaltest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "data")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    Program
		want string
	}{
		{"from its paths", Program{Name: "cspwatch-no-such-tool", Paths: []string{filepath.Join(dir, "none"), exe}}, exe},
		{"not executable", Program{Name: "cspwatch-no-such-tool", Paths: []string{plain}}, ""},
		{"missing", Program{Name: "cspwatch-no-such-tool"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Lookup(); got != tt.want {
				t.Fatalf("Lookup = %q, want %q", got, tt.want)
			}
		})
	}
}
