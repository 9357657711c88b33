// Command agentdesk-load measures an agentdesk server under load over
// HTTP, on loopback.
//
// It starts bin/agentdesk serve on a fresh temporary data dir (or targets
// a running server with -url), seeds companies, their admins and
// tickets, then runs a workload at a fixed concurrency for a fixed time:
// the mixed React Admin workload (70 % list and show reads, 30 % ticket
// commands) or one path alone (-scenario). It prints, per route, the
// count, throughput, p50, p99 and maximum latency and the errors by
// status; then the same for a bare net/http handler in this process,
// driven alike, as the ceiling of the machine. With -soak it samples the
// server's resident memory and open file descriptors and judges whether
// they stayed flat.
//
// Usage:
//
//	agentdesk-load [-scenario mixed|creates|list|get] [-c 64] [-d 20s] [flags]
//
// Exit status: 0 when every request succeeded (and a soak's resources
// stayed flat), 1 otherwise, 2 for a command line that was not understood.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentdesk-load:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line into a Config. Problems are printed
// to stderr with the usage.
func parseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("agentdesk-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{}
	fs.StringVar(&cfg.ServerBinary, "server", "bin/agentdesk", "the agentdesk `binary` to start (without -url)")
	fs.BoolVar(&cfg.KeepData, "keep", false, "keep the started server's data dir")
	fs.StringVar(&cfg.URL, "url", "", "target the server running at this `URL` instead of starting one")
	fs.StringVar(&cfg.AdminUser, "admin-user", "admin", "the superadmin of the server at -url")
	// Not the flag's default: the help would print the password.
	fs.StringVar(&cfg.AdminPassword, "admin-password", "", "its password (default $ADMIN_PASSWORD)")
	fs.IntVar(&cfg.PID, "pid", 0, "the process id of the server at -url, for -soak")
	fs.IntVar(&cfg.Companies, "companies", 4, "companies to create, one company_admin each")
	fs.IntVar(&cfg.Tickets, "tickets", 2000, "tickets to seed per company")
	fs.IntVar(&cfg.Concurrency, "c", 64, "workers, each with one request in flight")
	fs.DurationVar(&cfg.Duration, "d", 20*time.Second, "how long the workload runs (the ceiling runs as long again)")
	fs.StringVar(&cfg.Scenario, "scenario", scenarioMixed, "the workload: "+strings.Join(scenarios, ", "))
	fs.BoolVar(&cfg.Ceiling, "ceiling", true, "also drive a bare net/http handler, as the ceiling")
	soak := fs.Bool("soak", false, "sample the server's RSS and open fds and fail unless they stay flat")
	rule := SoakRule{}
	fs.DurationVar(&rule.Every, "sample", 10*time.Second, "with -soak: time between samples")
	fs.DurationVar(&rule.Warmup, "warmup", time.Minute, "with -soak: the warm-up; the first sample after it is the baseline")
	// Half again as much: the read store's SQLite page caches (32 MiB per
	// connection, five connections on two cores) keep filling while the
	// run grows the database, by 3 to 5 MiB a minute at 16 workers
	// (measured), which is bounded growth, not a leak. A leak of 400
	// bytes per request would exceed the allowance on its own within a
	// 10-minute soak of 240,000 requests.
	fs.Float64Var(&rule.RSSGrowth, "rss-growth", 0.5, "with -soak: RSS growth allowed from the baseline to the end, as a fraction")
	fs.IntVar(&rule.FDGrowth, "fd-growth", 8, "with -soak: open fds allowed above the baseline at the end")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: agentdesk-load [flags]\n\nDrives an agentdesk server over HTTP and reports latency per route (see the README).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments %q", fs.Args())
		fmt.Fprintln(stderr, "agentdesk-load:", err)
		fs.Usage()
		return Config{}, err
	}
	if cfg.AdminPassword == "" {
		cfg.AdminPassword = os.Getenv("ADMIN_PASSWORD")
	}
	if *soak {
		cfg.Soak = &rule
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "agentdesk-load:", err)
		return Config{}, err
	}
	return cfg, nil
}
