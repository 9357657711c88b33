package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	rule := SoakRule{Every: 10 * time.Second, Warmup: time.Minute, RSSGrowth: 0.25, FDGrowth: 8}
	at := func(sec int, rssMiB int64, fds int) sample {
		return sample{at: time.Duration(sec) * time.Second, proc: procStat{rssKiB: rssMiB << 10, fds: fds}}
	}
	tests := []struct {
		name    string
		samples []sample
		ok      bool
		because string
	}{
		{"flat after warm-up", []sample{at(0, 40, 30), at(30, 90, 50), at(60, 100, 52), at(300, 110, 52), at(600, 120, 54)}, true, "+20.0 %"},
		{"the trend of the second half is told", []sample{at(0, 40, 30), at(60, 100, 50), at(360, 110, 50), at(600, 120, 50)}, true, "RSS trend from 6m0s to the end: +2.5 MiB/min"},
		{"the warm-up's growth does not count", []sample{at(0, 10, 10), at(60, 100, 50), at(600, 100, 50)}, true, "ok"},
		{"memory growing past the tolerance", []sample{at(0, 40, 30), at(60, 100, 50), at(600, 126, 50)}, false, "+26.0 %"},
		{"file descriptors leaking", []sample{at(0, 40, 30), at(60, 100, 50), at(600, 100, 59)}, false, "fds 50 → 59 (+9, allowed +8) FAIL"},
		{"a run no longer than the warm-up", []sample{at(0, 40, 30), at(50, 100, 50)}, false, "run longer"},
		{"a baseline with nothing after it", []sample{at(0, 40, 30), at(60, 100, 50)}, false, "run longer"},
		{"the baseline is the first sample past the warm-up", []sample{at(0, 40, 30), at(55, 60, 40), at(65, 100, 50), at(600, 124, 50)}, true, "at 1m5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := judge(rule, tt.samples)
			if ok != tt.ok || !strings.Contains(why, tt.because) {
				t.Errorf("judge = %v, %q; want %v and a reason with %q", ok, why, tt.ok, tt.because)
			}
		})
	}
}

func TestReadProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("SKIPPED: no /proc on this system (%v): soaks need Linux", err)
	}
	st, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.rssKiB < 1024 || st.fds < 3 {
		t.Errorf("readProc(self) = %+v: want at least 1 MiB resident and stdin, stdout, stderr open", st)
	}
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	after, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.fds <= st.fds {
		t.Errorf("open fds %d after opening a file, %d before: want more", after.fds, st.fds)
	}
	// Spin until the kernel has counted a few ticks more of CPU time.
	deadline := time.Now().Add(5 * time.Second)
	for after.cpu < st.cpu+30*time.Millisecond && time.Now().Before(deadline) {
		for i := 0; i < 1_000_000; i++ {
			sink += i
		}
		if after, err = readProc(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after.cpu < st.cpu+30*time.Millisecond {
		t.Errorf("CPU time %v after spinning, %v before: want at least 30ms more", after.cpu, st.cpu)
	}
}

// sink keeps the spinning loop from being optimized away.
var sink int
