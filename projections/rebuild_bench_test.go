package projections_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
	"agentdesk/readstore/mongo"
	"agentdesk/readstore/mongo/mongotest"
)

// BenchmarkRebuild measures a rebuild of the tickets projection from the
// start of an event log of AGENTDESK_BENCH_EVENTS (default 1,000,000)
// ticket events, into a new generation while the live one, already built,
// serves: from Rebuild until the new generation is live (RebuildDone).
// Beside it, it reports the process's peak RSS during the rebuild and the
// rate at which a subscription reads the same log with no projection, the
// ceiling of the rebuild's read side. Run it with -benchtime 1x.
func BenchmarkRebuild(b *testing.B) {
	n := benchEvents(b)
	dir := b.TempDir()
	es, head := filledLog(b, dir, n)
	defer es.Close()

	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(dir, "reads.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	scanned, scanTook := scanLog(b, es, projections.TicketsProjector().Filter())
	scanRate := float64(scanned) / scanTook.Seconds()
	b.Logf("raw scan: a subscription read %d events in %s (%.0f events/s)", scanned, scanTook.Round(time.Millisecond), scanRate)

	rate, peakMB := benchRebuild(b, es, rs, head, int64(n/5))
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(peakMB, "peak-RSS-MB")
	b.ReportMetric(scanRate, "scan-events/s")
}

// BenchmarkRebuildFerretDB runs the same rebuild on the MongoDB read store
// against an in-process FerretDB, on AGENTDESK_BENCH_FERRET_EVENTS
// (default 10,000) events: a check that the rebuild works through the
// real driver, not a speed figure (FerretDB slows down beyond a few
// thousand documents). It skips when FerretDB cannot start.
func BenchmarkRebuildFerretDB(b *testing.B) {
	n := 10_000
	if s := os.Getenv("AGENTDESK_BENCH_FERRET_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 5 {
			b.Fatalf("AGENTDESK_BENCH_FERRET_EVENTS=%q: want an integer >= 5", s)
		}
		n = v
	}
	uri := mongotest.Start(skipOnFatal{b})
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(b.TempDir(), "events.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer es.Close()
	fillTickets(b, es, n)
	head, err := es.Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	rs, err := mongo.Open(context.Background(), mongo.Config{URI: uri, Database: "agentdesk_bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	rate, _ := benchRebuild(b, es, rs, head, int64(n/5))
	b.ReportMetric(rate, "events/s")
}

// skipOnFatal turns mongotest.Start's failure into a skip: a machine that
// cannot run FerretDB says so instead of failing the benchmarks.
type skipOnFatal struct{ testing.TB }

func (s skipOnFatal) Fatal(args ...any) {
	s.TB.Helper()
	s.TB.Skip(append([]any{"FerretDB cannot start, NOT benchmarking the rebuild on MongoDB's protocol:"}, args...)...)
}

func (s skipOnFatal) Fatalf(format string, args ...any) {
	s.TB.Helper()
	s.TB.Skipf("FerretDB cannot start, NOT benchmarking the rebuild on MongoDB's protocol: "+format, args...)
}

// benchRebuild builds the tickets read model in rs from es up to head,
// then times b.N rebuilds of it, each until its generation is live, and
// checks the rebuilt model holds want tickets. It returns the events of
// the log a second and the peak RSS in MB (the highest of the runs).
func benchRebuild(b *testing.B, es eventstore.Store, rs readstore.Store, head eventstore.Position, want int64) (rate, peakMB float64) {
	b.Helper()
	// The collector as the binary sets it: GOGC 200 unless the
	// environment says (cmd/agentdesk's lessGC).
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(200))
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The replaced generation is dropped at once, and waited for between
	// two rebuilds: each is timed alone. With the server's 10 s grace,
	// the third rebuild of a run dropped the first one's generation
	// (200,000 tickets) meanwhile, and its indexes took 3.55-3.81 s
	// against 2.65-3.46 s for the first two (five runs).
	r, err := projections.New(ctx, projections.Config{Events: es, Reads: rs, Projectors: []projections.Projector{projections.TicketsProjector()}, DropGrace: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	built := time.Now()
	if err := r.Wait(ctx, projections.Tickets, head); err != nil {
		b.Fatal(err)
	}
	b.Logf("live generation built in %s", time.Since(built).Round(time.Millisecond))

	// A live write every 20 ms during the rebuilds, to another
	// collection of the same store: what the live projections' batches
	// wait for the writer while a rebuild loads and builds its indexes.
	if err := rs.Ensure(ctx, readstore.Collection{Name: "bench_live"}); err != nil {
		b.Fatal(err)
	}
	var liveMax time.Duration
	liveCtx, stopLive := context.WithCancel(ctx)
	liveDone := make(chan struct{})
	go func() {
		defer close(liveDone)
		for i := 0; liveCtx.Err() == nil; i++ {
			w := readstore.Write{Collection: "bench_live", Doc: readstore.Doc{ID: "live", Version: fmt.Sprintf("%012d", i+1), Data: []byte(`{"id":"live"}`)}}
			start := time.Now()
			if err := rs.Apply(liveCtx, readstore.Batch{Writes: []readstore.Write{w}}); err != nil && liveCtx.Err() == nil {
				b.Error(err)
				return
			}
			liveMax = max(liveMax, time.Since(start))
			select {
			case <-liveCtx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	defer func() {
		stopLive()
		<-liveDone
		b.Logf("a live write waited at most %s during the rebuilds", liveMax.Round(time.Millisecond))
		b.ReportMetric(float64(liveMax.Microseconds())/1000, "live-write-max-ms")
	}()

	b.ResetTimer()
	var total, cpuTotal time.Duration
	for range b.N {
		peak := watchPeakRSS(b)
		stopProfile := profileCPU(b)
		cpuStart := processCPU(b)
		start := time.Now()
		startRebuild(ctx, b, r)
		loaded := make(chan time.Duration, 1)
		go func() { loaded <- untilLoaded(ctx, r, start) }()
		if err := r.RebuildDone(ctx, projections.Tickets); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		cpu := processCPU(b) - cpuStart
		total += took
		stopProfile()
		mb, how := peak()
		peakMB = max(peakMB, mb)
		split := "" // a store without a bulk load switches as it catches up
		if load := <-loaded; load > 0 {
			split = fmt.Sprintf(": loaded in %s, then indexes and switch in %s", load.Round(time.Millisecond), (took - load).Round(time.Millisecond))
		}
		b.Logf("rebuilt %d events in %s%s; %.2f s of CPU (%.2f cores); peak RSS %.0f MB (%s)", head.Commit, took.Round(time.Millisecond), split, cpu.Seconds(), cpu.Seconds()/took.Seconds(), mb, how)
		cpuTotal += cpu
		b.StopTimer()
		dropping := time.Now()
		r.WaitBackground()
		b.Logf("the replaced generation dropped in %s", time.Since(dropping).Round(time.Millisecond))
		b.StartTimer()
	}
	// CPU seconds per million events: a figure that moves less than the
	// wall time with what else the machine runs.
	b.ReportMetric(cpuTotal.Seconds()*1e6/(float64(head.Commit)*float64(b.N)), "cpu-s/1M-events")
	b.StopTimer()
	st := r.Status()[0]
	if st.Generation != 1+b.N {
		b.Fatalf("live generation %d after %d rebuilds, want %d", st.Generation, b.N, 1+b.N)
	}
	docs, count, err := rs.Query(context.Background(), projections.Tickets, readstore.Query{Limit: 1, Count: true})
	if err != nil || count != want || len(docs) != 1 {
		b.Fatalf("rebuilt %d tickets (err %v), want %d", count, err, want)
	}
	return float64(head.Commit) * float64(b.N) / total.Seconds(), peakMB // SQLite numbers events 1, 2, 3, …
}

// startRebuild starts a rebuild of the tickets projection, waiting
// (boundedly) for Run to have started.
func startRebuild(ctx context.Context, tb testing.TB, r *projections.Runner) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.Rebuild(ctx, projections.Tickets, "benchmark")
		if err == nil {
			return
		}
		if !errors.Is(err, projections.ErrNotRunning) || time.Now().After(deadline) {
			tb.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// profileCPU writes a CPU profile of what runs until the returned
// function is called to $AGENTDESK_BENCH_CPUPROFILE, when set: go test's
// -cpuprofile would also profile filling the log and building the live
// generation, which take longer than the rebuild.
func profileCPU(tb testing.TB) (stop func()) {
	tb.Helper()
	path := os.Getenv("AGENTDESK_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		tb.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			tb.Error(err)
		}
	}
}

// untilLoaded polls the status until the rebuild has read the whole log
// (what is left is building its indexes and switching), and returns the
// time since start; 0 if the rebuild ended unseen.
func untilLoaded(ctx context.Context, r *projections.Runner, start time.Time) time.Duration {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	seen := false
	for {
		rb := r.Status()[0].Rebuild
		switch {
		case rb != nil && rb.CaughtUp:
			return time.Since(start)
		case rb != nil:
			seen = true
		case seen:
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
}

// scanLog reads the whole log through a subscription with filter, in
// batches as large as the runner's, and returns the events read and the
// time taken: the log's read rate with nothing projected.
func scanLog(tb testing.TB, es eventstore.Store, filter eventstore.Filter) (int, time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	sub, err := es.Subscribe(ctx, eventstore.Start, filter)
	if err != nil {
		tb.Fatal(err)
	}
	defer sub.Close()
	n := 0
	for {
		batch, err := sub.Next(ctx, 16384)
		if err != nil {
			tb.Fatal(err)
		}
		n += len(batch.Events)
		if batch.CaughtUp {
			return n, time.Since(start)
		}
	}
}

// watchPeakRSS starts measuring the process's peak resident set and
// returns the function that stops and reports it in MB. Where
// /proc/self/clear_refs accepts "5", the kernel's high-water mark (VmHWM)
// is reset now and read at the end, which misses nothing; elsewhere
// VmRSS is sampled every 50 ms.
func watchPeakRSS(tb testing.TB) func() (mb float64, how string) {
	tb.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err == nil {
		return func() (float64, string) {
			kb, err := procStatusKB("VmHWM")
			if err != nil {
				tb.Fatal(err)
			}
			return kb / 1024, "VmHWM after resetting it"
		}
	}
	var (
		mu   sync.Mutex
		peak float64
	)
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb, err := procStatusKB("VmRSS"); err == nil {
				mu.Lock()
				peak = max(peak, kb)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (float64, string) {
		close(stop)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return peak / 1024, "highest VmRSS sampled every 50 ms"
	}
}

// procStatusKB reads a "Name:  123 kB" line of /proc/self/status.
func procStatusKB(name string) (float64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(name+":"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			break
		}
		return strconv.ParseFloat(string(fields[0]), 64)
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", name)
}

// processCPU is the user and system CPU time this process has used.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
