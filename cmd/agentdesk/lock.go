package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// dataDirInUseError is the error of a start on a data dir whose embedded
// stores another process has open.
type dataDirInUseError struct {
	dir string
	// holder describes that process, " (pid 1234, started …)", or is
	// empty when its lock file does not say.
	holder string
}

func (e *dataDirInUseError) Error() string {
	return fmt.Sprintf("data dir %s is in use by another agentdesk process%s; "+
		"the embedded stores serve one process at a time: stop it, or use EVENTSTORE_URL and MONGO_URI to run several", e.dir, e.holder)
}

// lockFileName is the lock file in the data dir.
const lockFileName = "agentdesk.lock"

// dataDirLock keeps the embedded stores of a data dir to one process.
// The embedded event store numbers events in the process that writes it:
// a second process appending to the same file makes both fail
// ("UNIQUE constraint failed: events.position"), so a second start must
// fail at once instead. The lock is flock(2) on DATA_DIR/agentdesk.lock:
// the kernel drops it when the process ends, however it ends (SIGKILL
// included), so a lock file left behind never blocks the next start and
// needs no clean-up. The file is never removed: a process that removed it
// while another had it open would let two processes lock two files.
type dataDirLock struct {
	f *os.File
}

// lockDataDir takes the lock of dir, which must exist, without waiting:
// when another process holds it, the error is a *dataDirInUseError.
func lockDataDir(dir string) (*dataDirLock, error) {
	path := filepath.Join(dir, lockFileName)
	// O_TRUNC would wipe the holder's pid before the lock is known to
	// be ours.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	// An open file description of its own, so a second Open in this
	// process is refused as another process would be.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &dataDirInUseError{dir: dir, holder: holder}
		}
		return nil, fmt.Errorf("data dir lock %s: %w", path, err)
	}
	// Who holds it, for the message of the next process refused; the
	// lock works without it.
	holder := fmt.Sprintf("pid %d\nstarted %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(holder), 0)
	}
	return &dataDirLock{f: f}, nil
}

// readHolder describes the process that wrote f, as " (pid 1234,
// started 2026-…)", or "" when f tells nothing (the holder may be between
// locking and writing).
func readHolder(f *os.File) string {
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	var pid, started string
	for line := range strings.Lines(string(b[:n])) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "pid":
			if _, err := strconv.Atoi(v); err == nil {
				pid = v
			}
		case "started":
			if _, err := time.Parse(time.RFC3339, v); err == nil {
				started = v
			}
		}
	}
	switch {
	case pid != "" && started != "":
		return fmt.Sprintf(" (pid %s, started %s)", pid, started)
	case pid != "":
		return fmt.Sprintf(" (pid %s)", pid)
	}
	return ""
}

// release lets another process open the embedded stores; the stores must
// be closed first. A nil lock (no embedded store) releases nothing.
func (l *dataDirLock) release() error {
	if l == nil {
		return nil
	}
	// Closing the only descriptor of the file drops the flock.
	return l.f.Close()
}
