package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"agentdesk/eventstore/esdb/esdbtest"
	"agentdesk/readstore/mongo/mongotest"
)

// wantInUse fails unless err is the refusal of a data dir that process
// pid holds.
func wantInUse(t *testing.T, err error, dir string, pid int) {
	t.Helper()
	if err == nil {
		t.Fatal("a second process opened the embedded stores of a data dir in use")
	}
	msg := err.Error()
	for _, want := range []string{
		"data dir " + dir + " is in use by another agentdesk process",
		fmt.Sprintf("(pid %d, started ", pid),
		"the embedded stores serve one process at a time",
		"EVENTSTORE_URL and MONGO_URI",
	} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q: want it to contain %q", msg, want)
		}
	}
}

// TestDataDirLockRefusesASecondServer: a second Open on a data dir whose
// embedded stores a server has open fails at once, names the holder, and
// leaves the first server's lock alone; once the first is shut down the
// data dir opens again.
func TestDataDirLockRefusesASecondServer(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	for range 2 { // a refused Open must not release the holder's lock
		start := time.Now()
		srv, err := Open(context.Background(), testConfig(t, dir), quietLogger(t))
		if err == nil {
			srv.Shutdown(context.Background())
		}
		wantInUse(t, err, dir, os.Getpid())
		var inUse *dataDirInUseError
		if !errors.As(err, &inUse) {
			t.Fatalf("error %v: want a *dataDirInUseError", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("refused after %s, want at once", took)
		}
	}
	login(t, ts.URL, "admin", testAdminPassword)
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts2 := startServer(t, dir)
	login(t, ts2.URL, "admin", testAdminPassword)
}

// TestDataDirLockWithExternalStores: with both stores external nothing
// is embedded and no lock is taken: two servers on the same stores and
// the same data dir both run.
func TestDataDirLockWithExternalStores(t *testing.T) {
	b := backend{name: "esdb-mongo", env: map[string]string{
		"EVENTSTORE_URL": esdbtest.MustStart(t, esdbtest.Config{}).URL(),
		"MONGO_URI":      mongotest.Start(t),
		"MONGO_DATABASE": strings.ReplaceAll(t.Name(), "/", "_"),
	}}
	dir := t.TempDir()
	first := startServerOn(t, dir, b)
	second := startServerOn(t, dir, b)
	for _, ts := range []*testServer{first, second} {
		login(t, ts.URL, "admin", testAdminPassword)
	}
	if _, err := os.Stat(filepath.Join(dir, lockFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("lock file: %v, want none with both stores external", err)
	}
}

// TestDataDirLockRefusesResetPassword: the offline password reset
// refuses to run beside a server on the same data dir (on another port,
// so only the lock can tell), before it asks for a password, and appends
// nothing.
func TestDataDirLockRefusesResetPassword(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	ctx := t.Context()
	before, err := ts.srv.events.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"users", "reset-password", "--generate", "admin"},
		{"users", "reset-password", "admin"}, // no password on stdin
	} {
		r := runCLI(t, ctx, cliEnv(dir), "", args...)
		if r.code != 1 {
			t.Fatalf("%v: exit %d, want 1", args, r.code)
		}
		wantInUse(t, r.err, dir, os.Getpid())
		if !strings.Contains(r.stderr, "is in use by another agentdesk process") {
			t.Fatalf("%v: stderr %q, want the refusal", args, r.stderr)
		}
	}
	if after, err := ts.srv.events.Head(ctx); err != nil || after != before {
		t.Fatalf("event store head moved from %v to %v (%v), want nothing appended", before, after, err)
	}
	login(t, ts.URL, "admin", testAdminPassword)
}

// TestDataDirLockAcrossProcesses runs the binary: a second process on the
// same DATA_DIR exits at once with the refusal; after the first is killed
// with SIGKILL, which leaves its lock file behind, a new one starts.
func TestDataDirLockAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	first := startProcess(t, bin, dir)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "serve")
	second.Env = append(os.Environ(), "DATA_DIR="+dir, "HTTP_ADDR=127.0.0.1:0", "ADMIN_PASSWORD="+testAdminPassword, "BCRYPT_COST=4")
	var stderr bytes.Buffer
	second.Stderr = &stderr
	start := time.Now()
	err := second.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("second process: %v after %s, want exit status 1; stderr:\n%s", err, time.Since(start), stderr.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("second process exited after %s, want at once", took)
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("is in use by another agentdesk process (pid %d, started ", first.cmd.Process.Pid)) ||
		!strings.Contains(stderr.String(), "EVENTSTORE_URL and MONGO_URI") {
		t.Fatalf("second process stderr:\n%s\nwant the refusal naming pid %d", stderr.String(), first.cmd.Process.Pid)
	}
	login(t, first.URL, "admin", testAdminPassword)

	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, lockFileName)); err != nil {
		t.Fatalf("lock file after SIGKILL: %v, want it left behind", err)
	}
	third := startProcess(t, bin, dir)
	login(t, third.URL, "admin", testAdminPassword)
}
