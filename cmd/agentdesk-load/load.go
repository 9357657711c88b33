package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Config is one run of the load generator.
type Config struct {
	// ServerBinary is the agentdesk binary started for the run when URL
	// is empty.
	ServerBinary string
	// ServerEnv adds to (or overrides) the started server's environment,
	// as KEY=value.
	ServerEnv []string
	// KeepData keeps the started server's data dir instead of removing it.
	KeepData bool

	// URL targets a server that is already running instead; AdminUser
	// and AdminPassword are its superadmin's.
	URL           string
	AdminUser     string
	AdminPassword string
	// PID is the process of the server at URL, for a soak's samples.
	PID int

	// Companies are created for the run, each with one company_admin
	// and Tickets tickets.
	Companies int
	Tickets   int
	// Concurrency is the number of workers, each with one request in
	// flight at a time; seeding uses as many.
	Concurrency int
	// Duration is how long the workload runs (and the ceiling after it).
	Duration time.Duration
	// Scenario is mixed, creates, list or get.
	Scenario string
	// Ceiling also drives a bare net/http handler for Duration.
	Ceiling bool
	// Soak, when set, samples the server process while the workload runs
	// and judges whether its memory and file descriptors stayed flat.
	Soak *SoakRule
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" && c.ServerBinary == "" {
		errs = append(errs, errors.New("give a server binary to start or the URL of a running server"))
	}
	if c.URL != "" && c.AdminPassword == "" {
		errs = append(errs, errors.New("a running server (-url) needs its superadmin's password"))
	}
	if c.Companies < 1 {
		errs = append(errs, errors.New("at least one company is needed"))
	}
	if c.Tickets < 1 {
		errs = append(errs, errors.New("at least one ticket per company is needed"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("the concurrency must be at least 1"))
	}
	if c.Duration <= 0 {
		errs = append(errs, errors.New("the duration must be positive"))
	}
	if !slices.Contains(scenarios, c.Scenario) {
		errs = append(errs, fmt.Errorf("unknown scenario %q (want one of %s)", c.Scenario, strings.Join(scenarios, ", ")))
	}
	if c.Soak != nil {
		if err := c.Soak.Validate(); err != nil {
			errs = append(errs, err)
		}
		if c.URL != "" && c.PID == 0 {
			errs = append(errs, errors.New("a soak against a running server (-url) needs its process id (-pid)"))
		}
	}
	return errors.Join(errs...)
}

// run seeds the server, drives the workload (and the ceiling) and prints
// the report to out. It fails when the setup failed, any request of the
// workload failed, or a soak's resources did not stay flat.
func run(ctx context.Context, cfg Config, out io.Writer) (err error) {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// The server's log lines and the soak's samples arrive from their own
	// goroutines.
	out = &lockedWriter{w: out}
	hc := newHTTPClient(cfg.Concurrency)
	defer hc.CloseIdleConnections()
	base, adminUser, adminPassword, pid := cfg.URL, cfg.AdminUser, cfg.AdminPassword, cfg.PID
	target := "running server"
	if cfg.URL == "" {
		srv, err := startServer(ctx, cfg.ServerBinary, cfg.ServerEnv, out, hc)
		if err != nil {
			return err
		}
		defer func() {
			if n := srv.logs.count(); n > 0 {
				fmt.Fprintf(out, "\nthe server logged %d lines at warn or above (the first ones are shown above, prefixed server|)\n", n)
			}
			if serr := srv.stop(cfg.KeepData); serr != nil {
				err = errors.Join(err, serr)
			}
			if cfg.KeepData {
				fmt.Fprintf(out, "the server's data dir is kept in %s\n", srv.dir)
			}
		}()
		base, adminUser, adminPassword, pid = srv.url, "admin", srv.password, srv.pid()
		target = "started from " + cfg.ServerBinary
	} else if err := (&api{http: hc, base: base}).waitReady(ctx, 10*time.Second, nil); err != nil {
		return fmt.Errorf("server %s: %w", base, err)
	}
	fmt.Fprintf(out, "agentdesk-load: scenario %s, %d workers for %s; %d companies × %d tickets; server %s (%s)\n",
		cfg.Scenario, cfg.Concurrency, cfg.Duration, cfg.Companies, cfg.Tickets, base, target)

	root, err := (&api{http: hc, base: base}).signIn(ctx, adminUser, adminPassword)
	if err != nil {
		return err
	}
	companies, err := seed(ctx, root, cfg.Companies, cfg.Tickets, cfg.Concurrency, out)
	if err != nil {
		return err
	}

	live := &counters{}
	workers := newWorkers(companies, cfg.Concurrency, live)
	var smp *sampler
	stopSampling, sampled := make(chan struct{}), make(chan struct{})
	if cfg.Soak != nil {
		smp = &sampler{pid: pid, rule: *cfg.Soak, live: live, out: out, start: time.Now()}
		go func() {
			defer close(sampled)
			smp.run(stopSampling)
		}()
	} else {
		close(sampled)
	}
	before, cpuErr := procIfKnown(pid)
	res := drive(ctx, "agentdesk, scenario "+cfg.Scenario, opsFor(cfg.Scenario), workers, cfg.Duration)
	after, err := procIfKnown(pid)
	close(stopSampling)
	<-sampled
	report(out, res)
	if cpuErr == nil && err == nil && pid != 0 {
		cpu, n := after.cpu-before.cpu, res.total().count()
		fmt.Fprintf(out, "  server CPU: %.1f s in %s (%.2f cores), %s per request\n",
			cpu.Seconds(), res.elapsed.Round(time.Millisecond), cpu.Seconds()/res.elapsed.Seconds(), cpuPerRequest(cpu, int64(n)))
	}

	failed := res.errorCount()
	if cfg.Ceiling && ctx.Err() == nil {
		ceil, err := driveCeiling(ctx, hc, companies[0], cfg.Concurrency, cfg.Duration)
		if err != nil {
			return err
		}
		report(out, ceil)
		failed += ceil.errorCount()
		served, bare := res.rate(res.total().count()), ceil.rate(ceil.total().count())
		if bare > 0 {
			fmt.Fprintf(out, "\nagentdesk served %.0f req/s, %.0f %% of the bare handler's %.0f req/s on this machine\n", served, 100*served/bare, bare)
		}
	}

	var problems []error
	if ctx.Err() != nil {
		problems = append(problems, fmt.Errorf("interrupted: %w", ctx.Err()))
	}
	if failed > 0 {
		problems = append(problems, fmt.Errorf("%d requests failed", failed))
	}
	if smp != nil {
		if err := smp.verdict(out, failed); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// procIfKnown reads the server process when its id is known.
func procIfKnown(pid int) (procStat, error) {
	if pid == 0 {
		return procStat{}, nil
	}
	return readProc(pid)
}

// driveCeiling serves a ticket of co, as the server answers it, from a
// bare handler and drives that for d at the same concurrency.
func driveCeiling(ctx context.Context, hc *http.Client, co *company, concurrency int, d time.Duration) (*result, error) {
	var doc bytes.Buffer
	path := "/api/tickets/" + co.seeded[0]
	status, err := co.admin.do(ctx, http.MethodGet, path, nil, &doc)
	if err != nil {
		return nil, fmt.Errorf("fetch the ceiling's document: %w", err)
	}
	if status != http.StatusOK {
		return nil, &statusError{method: http.MethodGet, path: path, status: status, body: snippet(doc.Bytes())}
	}
	c, err := startCeiling(doc.Bytes())
	if err != nil {
		return nil, err
	}
	live := &counters{}
	workers := make([]*worker, concurrency)
	for n := range workers {
		workers[n] = &worker{n: n, api: &api{http: hc, base: c.url}, rng: rand.New(rand.NewPCG(uint64(n), 0xce11)), live: live}
	}
	res := drive(ctx, fmt.Sprintf("ceiling: a bare net/http handler answering a stored %d-byte ticket", doc.Len()), ceilingOps(), workers, d)
	return res, c.stop()
}
