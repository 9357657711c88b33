package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is an agentdesk server this tool started, on a fresh data dir.
type child struct {
	cmd      *exec.Cmd
	url      string
	dir      string
	password string // the superadmin's
	logs     *lineWriter
	exited   chan struct{} // closed once the process has ended
	waitErr  error         // how it ended; read after exited is closed
}

// startServer starts bin serve on a free loopback port with a new
// temporary data dir and waits, through hc, until it is ready. The
// environment is this process's, so EVENTSTORE_URL or MONGO_URI set here
// select those stores; extra entries override it. The server's log lines
// (at warn and above) are counted and the first few copied to logOut.
func startServer(ctx context.Context, bin string, extra []string, logOut io.Writer, hc *http.Client) (*child, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("server binary: %w (build it with make build)", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "agentdesk-load-")
	if err != nil {
		return nil, err
	}
	c := &child{
		url:      "http://127.0.0.1:" + strconv.Itoa(port),
		dir:      dir,
		password: rand.Text(),
		logs:     &lineWriter{out: logOut, prefix: "server| ", show: 20},
		exited:   make(chan struct{}),
	}
	c.cmd = exec.Command(abs, "serve")
	c.cmd.Env = append(os.Environ(),
		"DATA_DIR="+dir,
		"HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"ADMIN_USERNAME=admin",
		"ADMIN_PASSWORD="+c.password,
		"LOG_LEVEL=warn",
		// The tool signs in once per company; a limit meant for password
		// guessing must not stop a run with many companies.
		"SIGN_IN_RATE_LIMIT=0",
	)
	c.cmd.Env = append(c.cmd.Env, extra...)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	probe := &api{http: hc, base: c.url}
	if err := probe.waitReady(ctx, 2*time.Minute, c.exited); err != nil {
		_ = c.stop(false)
		return nil, fmt.Errorf("server %s: %w", c.url, err)
	}
	return c, nil
}

// pid is the server's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop ends the server the way an operator would, with SIGTERM, and waits
// for it (killing it after 40 s, past its 30 s grace period). The data
// dir is removed unless keep. An error means the server did not stop
// cleanly.
func (c *child) stop(keep bool) error {
	var err error
	select {
	case <-c.exited:
		err = fmt.Errorf("the server had already exited: %v", c.waitErr)
	default:
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
			if c.waitErr != nil {
				err = fmt.Errorf("the server's stop failed: %w", c.waitErr)
			}
		case <-time.After(40 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
			err = errors.New("the server did not stop within 40 s of SIGTERM and was killed")
		}
	}
	if !keep {
		if rerr := os.RemoveAll(c.dir); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// freePort returns a loopback TCP port that was free a moment ago. The
// server is given the port rather than :0 because at LOG_LEVEL=warn it
// does not log the address it bound.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// lineWriter counts the lines written to it and copies the first show of
// them to out, each after prefix. It is safe for concurrent use.
type lineWriter struct {
	out    io.Writer
	prefix string
	show   int

	mu      sync.Mutex
	partial []byte
	lines   int
}

// Write implements io.Writer.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.lines++
		if w.lines <= w.show {
			fmt.Fprintf(w.out, "%s%s\n", w.prefix, w.partial[:i])
		} else if w.lines == w.show+1 {
			fmt.Fprintf(w.out, "%s… (further lines are counted, not shown)\n", w.prefix)
		}
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// count is the number of lines written so far.
func (w *lineWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write implements io.Writer.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// procStat is a process's resident memory, open file descriptors and
// CPU time used so far.
type procStat struct {
	rssKiB int64
	fds    int
	cpu    time.Duration // user and system
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 for user space whatever the kernel's tick.
const userHZ = 100

// readProc reads pid's resident set size (VmRSS in /proc/<pid>/status),
// counts its open file descriptors (/proc/<pid>/fd) and reads its CPU
// time (/proc/<pid>/stat). Linux only.
func readProc(pid int) (procStat, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// "pid (comm) state ppid …": comm may hold spaces and parentheses,
	// so the fields are counted from the last ')'. utime and stime are
	// the 14th and 15th fields, the 12th and 13th after comm.
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(f) < 13 {
		return procStat{}, fmt.Errorf("%s/stat: unexpected format", dir)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("%s/stat: %w", dir, err)
		}
		ticks += n
	}
	st := procStat{cpu: time.Duration(ticks) * time.Second / userHZ}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return procStat{}, err
	}
	found := false
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) != 2 || f[1] != "kB" {
				return procStat{}, fmt.Errorf("%s/status: unexpected VmRSS line %q", dir, line)
			}
			if st.rssKiB, err = strconv.ParseInt(f[0], 10, 64); err != nil {
				return procStat{}, fmt.Errorf("%s/status: %w", dir, err)
			}
			found = true
		}
	}
	if !found {
		return procStat{}, fmt.Errorf("%s/status: no VmRSS line", dir)
	}
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return procStat{}, err
	}
	st.fds = len(fds)
	return st, nil
}
