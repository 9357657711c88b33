package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// SoakRule is how a soak run judges the server's resources: after the
// warm-up, resident memory and open file descriptors must stay flat.
// The baseline is the first sample taken at or after Warmup; the run
// passes when its last sample (taken as the workload ends) holds at most
// RSSGrowth more resident memory than the baseline (0.2 = 20 %) and at
// most FDGrowth more open file descriptors.
type SoakRule struct {
	Every     time.Duration // time between two samples
	Warmup    time.Duration
	RSSGrowth float64
	FDGrowth  int
}

// Validate reports what is wrong with r.
func (r SoakRule) Validate() error {
	var errs []error
	if r.Every <= 0 {
		errs = append(errs, errors.New("the soak's sampling interval must be positive"))
	}
	if r.Warmup < 0 {
		errs = append(errs, errors.New("the soak's warm-up must not be negative"))
	}
	if r.RSSGrowth < 0 {
		errs = append(errs, errors.New("the soak's RSS tolerance must not be negative"))
	}
	if r.FDGrowth < 0 {
		errs = append(errs, errors.New("the soak's fd tolerance must not be negative"))
	}
	return errors.Join(errs...)
}

// String states the rule for the report.
func (r SoakRule) String() string {
	return fmt.Sprintf("baseline = first sample at or after %s of warm-up; pass when the last sample's RSS ≤ baseline + %.0f %% and its open fds ≤ baseline + %d",
		r.Warmup, 100*r.RSSGrowth, r.FDGrowth)
}

// sample is one reading of the server process during a soak.
type sample struct {
	at       time.Duration // since the workload started
	proc     procStat
	requests int64 // requests made since the previous sample
	errors   int64 // failed ones among them
	interval time.Duration
}

// sampler reads the server process every rule.Every while the workload
// runs, printing each reading as it takes it.
type sampler struct {
	pid   int
	rule  SoakRule
	live  *counters
	out   io.Writer
	start time.Time

	samples            []sample
	lastAt, lastCPU    time.Duration
	lastReqs, lastErrs int64
	err                error // the first reading that failed
}

// run samples at once and then every rule.Every until stop is closed, and
// once more then. It is the sampler's only goroutine; read samples after
// it returns.
func (s *sampler) run(stop <-chan struct{}) {
	fmt.Fprintf(s.out, "\n  %8s %9s %6s %9s %9s %7s %6s %9s\n", "at", "RSS MiB", "fds", "requests", "req/s", "errors", "cores", "CPU/req")
	s.take()
	tick := time.NewTicker(s.rule.Every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.take()
		case <-stop:
			// The last sample is the run's end, unless one was just taken.
			if time.Since(s.start)-s.lastAt > s.rule.Every/10 {
				s.take()
			}
			return
		}
	}
}

// take reads the process once.
func (s *sampler) take() {
	at := time.Since(s.start)
	st, err := readProc(s.pid)
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	reqs, errs := s.live.requests.Load(), s.live.errors.Load()
	sm := sample{at: at, proc: st, requests: reqs - s.lastReqs, errors: errs - s.lastErrs, interval: at - s.lastAt}
	cpu := st.cpu - s.lastCPU
	first := len(s.samples) == 0
	s.lastAt, s.lastCPU, s.lastReqs, s.lastErrs = at, st.cpu, reqs, errs
	s.samples = append(s.samples, sm)
	rate, cores := 0.0, "-" // the first sample has no interval before it
	if !first && sm.interval > 0 {
		rate = float64(sm.requests) / sm.interval.Seconds()
		cores = strconv.FormatFloat(cpu.Seconds()/sm.interval.Seconds(), 'f', 2, 64)
	}
	fmt.Fprintf(s.out, "  %8s %9.1f %6d %9d %9.0f %7d %6s %9s\n", at.Round(time.Second), float64(st.rssKiB)/1024, st.fds,
		sm.requests, rate, sm.errors, cores, cpuPerRequest(cpu, sm.requests))
}

// cpuPerRequest formats the server's CPU time per request, "-" for no
// requests. On a machine shared with other work it is the steadier
// figure: throughput and latency depend on what else runs, the CPU a
// request costs much less.
func cpuPerRequest(cpu time.Duration, requests int64) string {
	if requests <= 0 {
		return "-"
	}
	return ms(cpu / time.Duration(requests))
}

// verdict prints the rule and the soak's verdict, which also needs no
// request to have failed, and returns an error unless the resources
// stayed flat.
func (s *sampler) verdict(out io.Writer, failed int) error {
	fmt.Fprintf(out, "\nsoak rule: %s\n", s.rule)
	if s.err != nil {
		return fmt.Errorf("soak: reading the server process: %w", s.err)
	}
	ok, why := judge(s.rule, s.samples)
	verdict := "PASS"
	if !ok || failed > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(out, "soak verdict: %s: %d failed requests; %s\n", verdict, failed, why)
	if !ok {
		return errors.New("soak: the server's resources did not stay flat")
	}
	return nil
}

// judge applies rule to samples: whether the resources stayed flat, and
// why.
func judge(rule SoakRule, samples []sample) (bool, string) {
	var base *sample
	for i := range samples {
		if samples[i].at >= rule.Warmup {
			base = &samples[i]
			break
		}
	}
	if base == nil || base == &samples[len(samples)-1] {
		return false, fmt.Sprintf("no sample after the %s warm-up to compare with the baseline: run longer", rule.Warmup)
	}
	last := samples[len(samples)-1]
	growth := float64(last.proc.rssKiB-base.proc.rssKiB) / float64(base.proc.rssKiB)
	rssOK := growth <= rule.RSSGrowth
	fdsOK := last.proc.fds-base.proc.fds <= rule.FDGrowth
	why := fmt.Sprintf("RSS %.1f MiB at %s → %.1f MiB at %s (%+.1f %%, allowed +%.0f %%) %s; fds %d → %d (%+d, allowed +%d) %s",
		float64(base.proc.rssKiB)/1024, base.at.Round(time.Second), float64(last.proc.rssKiB)/1024, last.at.Round(time.Second),
		100*growth, 100*rule.RSSGrowth, okWord(rssOK), base.proc.fds, last.proc.fds, last.proc.fds-base.proc.fds, rule.FDGrowth, okWord(fdsOK))
	// The trend over the second half of the judged stretch is not part
	// of the rule; it tells a reader whether growth was slowing down.
	for _, m := range samples {
		if m.at >= base.at+(last.at-base.at)/2 && m.at < last.at {
			perMin := float64(last.proc.rssKiB-m.proc.rssKiB) / 1024 / (last.at - m.at).Minutes()
			why += fmt.Sprintf("; RSS trend from %s to the end: %+.1f MiB/min", m.at.Round(time.Second), perMin)
			break
		}
	}
	return rssOK && fdsOK, why
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}
