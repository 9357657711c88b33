package main

import (
	"os"
	"runtime"
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
