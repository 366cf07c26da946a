package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/sim/fleet"
	"github.com/cspwatch/cspwatch/internal/sim/loadgen"
)

func TestFleetFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want fleet.Config // Spike compared by value
		err  bool
	}{
		{"defaults", nil, nil, fleet.Config{Devices: 5000, Seed: 1}, false},
		{"flags", []string{"--devices", "100", "--seed", "9", "--spike-product", "Google Chrome", "--spike-version", "130.0.6723.117",
			"--spike-code", "1603", "--spike-at", "20000", "--spike-fraction", "0.4"}, nil,
			fleet.Config{Devices: 100, Seed: 9, Spike: &fleet.Spike{Product: "Google Chrome", Version: "130.0.6723.117", Code: 1603, Start: 20000, Fraction: 0.4}}, false},
		{"environment", []string{"--spike-at", "5"}, map[string]string{
			"CSPWATCH_LOADGEN_SPIKE_PRODUCT": "7-Zip (x64 edition)", "CSPWATCH_LOADGEN_SPIKE_CODE": "0x80070643",
			"CSPWATCH_LOADGEN_SPIKE_AT": "7", "CSPWATCH_LOADGEN_DEVICES": "10"},
			fleet.Config{Devices: 10, Seed: 1, Spike: &fleet.Spike{Product: "7-Zip (x64 edition)", Code: -2147023293, Start: 5, Fraction: 0.3}}, false},
		{"negative hresult", []string{"--spike-product", "Google Chrome", "--spike-code", "-2147023293"}, nil,
			fleet.Config{Devices: 5000, Seed: 1, Spike: &fleet.Spike{Product: "Google Chrome", Code: -2147023293, Fraction: 0.3}}, false},
		{"bad code", []string{"--spike-product", "Google Chrome", "--spike-code", "fatal"}, nil, fleet.Config{}, true},
		{"unknown product", []string{"--spike-product", "Notepad++"}, nil, fleet.Config{}, true},
		{"unknown version", []string{"--spike-product", "Google Chrome", "--spike-version", "1.0"}, nil, fleet.Config{}, true},
		{"fraction 0", []string{"--spike-product", "Google Chrome", "--spike-fraction", "0"}, nil, fleet.Config{}, true},
		{"no devices", []string{"--devices", "0"}, nil, fleet.Config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var ff fleetFlags
			ff.register(fs)
			if err := cli.Parse(fs, tt.args, func(k string) string { return tt.env[k] }, envPrefix, io.Discard); err != nil {
				t.Fatal(err)
			}
			got, err := ff.config()
			if tt.err {
				if !errors.Is(err, errUsage) {
					t.Fatalf("config() = %+v, %v; want a usage error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Devices != tt.want.Devices || got.Seed != tt.want.Seed || (got.Spike == nil) != (tt.want.Spike == nil) ||
				got.Spike != nil && *got.Spike != *tt.want.Spike {
				t.Fatalf("config() = %+v (spike %+v), want %+v (spike %+v)", got, got.Spike, tt.want, tt.want.Spike)
			}
		})
	}
}

// `loadgen run` sends the fleet's messages, spike included, to a real
// ingest and reports them all accepted: the devices' and, by default, the
// server's messages they answer.
func TestRunCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- loadgen.ServeIngest(ctx, pw, t.TempDir(), ingest.DefaultConfig(), "default")
		pw.Close()
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	buf := make([]byte, 256)
	n, err := pr.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(buf[:n]))
	if len(f) != 3 || f[0] != "ready" {
		t.Fatalf("ingest said %q", buf[:n])
	}
	go io.Copy(io.Discard, pr)
	var out, errOut bytes.Buffer
	args := []string{"run", "--url", f[1], "--tenant", loadgen.BenchTenant, "--count", "400", "--duration", "0", "--quiet",
		"--devices", "40", "--spike-product", "Google Chrome", "--spike-at", "100", "--spike-fraction", "0.5"}
	// The commands endpoint is being added to ingest alongside this
	// command; until it routes, only the device messages can be sent.
	res, err := http.Post(f[1]+loadgen.CommandsPath+"/"+loadgen.BenchTenant, "application/vnd.syncml.dm+xml", strings.NewReader("<SyncML/>"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	commands := res.StatusCode != http.StatusNotFound
	if !commands {
		t.Log("ingest does not route " + loadgen.CommandsPath + " yet: sending the device messages only (--commands=false)")
		args = append(args, "--commands=false")
	}
	env := map[string]string{"CSPWATCH_LOADGEN_SECRET": loadgen.BenchSecret}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer rcancel()
	if err := Main(rctx, args, func(k string) string { return env[k] }, nil, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "run         400 msgs") || !strings.Contains(out.String(), " 0 errors") ||
		strings.Contains(out.String(), " server msgs (") != commands {
		t.Fatalf("run printed %q", out.String())
	}
}

// A run line says why requests failed: the first failure of each status.
func TestPrintResultFirstErrors(t *testing.T) {
	var b strings.Builder
	printResult(&b, "run", loadgen.Result{Errors: 3, ByStatus: map[int]int64{0: 1, 401: 2},
		FirstErrors: map[int]string{0: "dial tcp: connection refused", 401: `HTTP 401: {"error":"bad signature"}`}})
	for _, want := range []string{" 0:1 401:2\n", "  first failure (no answer): dial tcp: connection refused\n", `  first failure (status 401): HTTP 401: {"error":"bad signature"}` + "\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("result lacks %q:\n%s", want, b.String())
		}
	}
}
