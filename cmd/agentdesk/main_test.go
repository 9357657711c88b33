package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchFill.temp {
		os.RemoveAll(benchFill.dir)
	}
	if auditBench.temp {
		os.RemoveAll(auditBench.dir)
	}
	os.Exit(code)
}

// TestLessGC: GOGC is gcPercent unless the environment sets it.
func TestLessGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	lessGC("100")
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set: GC percent %d, want 100", got)
	}
	lessGC("")
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Fatalf("GOGC unset: GC percent %d, want %d", got, gcPercent)
	}
}

// TestMoreProcs: twice the threads unless GOMAXPROCS is set.
func TestMoreProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(3)
	defer func(c int) { cpus = c }(cpus)
	moreProcs("3")
	if n := runtime.GOMAXPROCS(0); n != 3 || cpus != 3 {
		t.Fatalf("GOMAXPROCS set: %d threads, %d CPUs; want 3, 3", n, cpus)
	}
	moreProcs("")
	if n := runtime.GOMAXPROCS(0); n != 6 || cpus != 3 {
		t.Fatalf("GOMAXPROCS unset: %d threads, %d CPUs; want 6, 3", n, cpus)
	}
}
