package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSmoke builds the server, then runs the whole tool against it for a
// short while: start, seed, the mixed workload with the soak's samples,
// the ceiling, the stop. Every route must have been driven and nothing
// may have failed.
func TestSmoke(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "agentdesk")
	if out, err := exec.Command("go", "build", "-o", bin, "../agentdesk").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := Config{
		ServerBinary: bin,
		ServerEnv:    []string{"BCRYPT_COST=4"}, // the tool's users sign in at once
		Companies:    2,
		Tickets:      40,
		Concurrency:  6,
		Duration:     1500 * time.Millisecond,
		Scenario:     scenarioMixed,
		Ceiling:      true,
		// A run this short is all warm-up: the rule only has to see the
		// samples and judge them, not to hold the server to a tolerance.
		Soak: &SoakRule{Every: 500 * time.Millisecond, RSSGrowth: 10, FDGrowth: 1000},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, cfg, &out)
	report := out.String()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, report)
	}
	routes := []string{ceilingRoute}
	for _, o := range opsFor(scenarioMixed) {
		routes = append(routes, o.route)
	}
	for _, route := range routes {
		count, errs, ok := tableRow(report, route)
		if !ok {
			t.Errorf("the report has no row for %s", route)
			continue
		}
		if count == 0 || errs != "0" {
			t.Errorf("%s: %d requests, errors %s; want some and no errors", route, count, errs)
		}
	}
	for _, want := range []string{"seeded 2 companies", "RSS MiB", "soak verdict: PASS", "% of the bare handler's"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", report)
	}
}

// tableRow finds route's row in a report and returns its count and
// errors columns.
func tableRow(report, route string) (count int, errs string, ok bool) {
	for line := range strings.Lines(report) {
		rest, found := strings.CutPrefix(line, "  "+route+" ")
		if !found {
			continue
		}
		f := strings.Fields(rest) // count req/s p50 p99 max errors…
		if len(f) < 6 {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			continue // a longer route that starts with this one
		}
		return n, strings.Join(f[5:], " "), true
	}
	return 0, "", false
}

func TestParseFlags(t *testing.T) {
	t.Setenv("ADMIN_PASSWORD", "")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"a soak", []string{"-soak", "-d", "10m", "-c", "16", "-ceiling=false"}, ""},
		{"a running server", []string{"-url", "http://127.0.0.1:8080", "-admin-password", "pw"}, ""},
		{"unknown scenario", []string{"-scenario", "deletes"}, `unknown scenario "deletes"`},
		{"a running server without a password", []string{"-url", "http://127.0.0.1:8080"}, "superadmin's password"},
		{"a soak of a running server without its pid", []string{"-url", "http://x", "-admin-password", "pw", "-soak"}, "process id"},
		{"stray arguments", []string{"mixed"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := parseFlags(tt.args, &stderr)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("parseFlags(%q) = %v, want no error", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("parseFlags(%q) = %v, want an error with %q", tt.args, err, tt.wantErr)
			case tt.wantErr == "" && (cfg.Scenario != scenarioMixed || cfg.Concurrency < 1):
				t.Errorf("parseFlags(%q) = %+v: want the mixed scenario and workers", tt.args, cfg)
			}
		})
	}
	_, err := parseFlags([]string{"-c", "0", "-d", "0s", "-tickets", "0"}, &bytes.Buffer{})
	for _, want := range []string{"concurrency", "duration", "ticket"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors %v do not mention %q: every problem must be reported at once", err, want)
		}
	}
}

// TestAdminPasswordFromEnvironment: ADMIN_PASSWORD stands in for
// -admin-password, and the help never shows it.
func TestAdminPasswordFromEnvironment(t *testing.T) {
	t.Setenv("ADMIN_PASSWORD", "from-the-environment")
	cfg, err := parseFlags([]string{"-url", "http://127.0.0.1:8080"}, &bytes.Buffer{})
	if err != nil || cfg.AdminPassword != "from-the-environment" {
		t.Errorf("parseFlags = %q, %v; want the password from ADMIN_PASSWORD", cfg.AdminPassword, err)
	}
	var help bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &help); err == nil {
		t.Fatal("-h: want flag.ErrHelp")
	}
	if strings.Contains(help.String(), "from-the-environment") {
		t.Errorf("the help shows the password:\n%s", help.String())
	}
}
