// Command agentdesk is the agentdesk server and its operator tools.
//
// Usage:
//
//	agentdesk [serve]                             start the HTTP server (the default)
//	agentdesk version                             print the version
//	agentdesk users reset-password [--generate] USERNAME
//	                                              set a user's password
//	agentdesk projections status|rebuild|verify|resume
//	                                              operate the projections
//	agentdesk audit export --company ID [--as-of TIME] [--out FILE]
//	agentdesk audit verify [--company ID]
//	                                              export a company's events as JSON lines
//	agentdesk migrate status|up                   show and apply the read-store migrations
//	agentdesk help [command]                      show help
//
// Configuration comes from the environment, over an AWS Secrets Manager
// secret when AWS_SECRETS_MANAGER_SECRET_ID names one; see the README. Exit codes:
// 0 success, 1 failure, 2 a command line that was not understood.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/netutil"
	"golang.org/x/term"

	"agentdesk/commands"
	"agentdesk/domain/user"
	"agentdesk/internal/auth"
	"agentdesk/internal/awssecret"
	"agentdesk/internal/config"
)

// version is the release, set at build time with
// -ldflags "-X main.version=v1.2.3"; see buildVersion for the fallback.
var version string

const envHelp = `Configuration is read from the environment (HTTP_ADDR, DATA_DIR, JWT_SECRET,
SECRETS_KEY, ADMIN_USERNAME, ADMIN_PASSWORD, TOKEN_TTL, IDEMPOTENCY_TTL,
CORS_ORIGINS, BCRYPT_COST, SIGN_IN_RATE_LIMIT, SIGN_IN_USER_RATE_LIMIT,
SIGN_IN_CLIENT_USER_RATE_LIMIT, TRUSTED_PROXIES, EVENTSTORE_URL, MONGO_URI,
MONGO_DATABASE, CONNECT_TIMEOUT, MAX_CONNECTIONS, WRITE_WAIT, QUERY_TIMEOUT,
COMPANY_MAX_IN_FLIGHT, COMPANY_MAX_QUERIES, QUERY_CONCURRENCY,
COMPANY_RATE_LIMIT, NATS_URL, NATS_GROUP, INTEGRATION_TOPIC, REACTION_RETRIES, SYNC_INTERVAL,
READY_MAX_LAG, PROJECTION_RETRIES, PROJECTION_SKIP_FAILING, LEASE_TTL,
OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL,
LLM_MODEL, LLM_TIMEOUT, LLM_EMBEDDING_MODEL, LLM_MONTHLY_TOKEN_QUOTA, LOG_LEVEL, LOG_FORMAT,
DEBUG_ADDR, AWS_S3_BUCKET, AWS_S3_PREFIX, AWS_S3_PATH_STYLE, ADMIN_DIR,
EVENTS_KEEPALIVE, GOMAXPROCS, GOGC). With
AWS_SECRETS_MANAGER_SECRET_ID set, the keys of that JSON secret supply the
variables the environment leaves unset (AWS_REGION and the standard AWS
credential chain apply); see the README.`

func main() {
	moreProcs(os.Getenv("GOMAXPROCS"))
	lessGC(os.Getenv("GOGC"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// moreProcs runs Go code on twice as many threads as the process has
// CPUs, unless GOMAXPROCS says otherwise. A goroutine inside SQLite (a
// cgo call: every read-store and event-store statement) holds its thread
// and the runtime's slot with it until the scheduler notices, so with one
// slot a CPU the HTTP handlers queued behind SQLite while a CPU idled:
// on 2 CPUs, 64 connections creating tickets over loopback went from
// 2,220–2,340 to 2,420–2,610 creates/s (p99 57–59 ms to 51–56 ms).
func moreProcs(env string) {
	cpus = runtime.GOMAXPROCS(0)
	if env == "" {
		runtime.GOMAXPROCS(2 * cpus)
	}
}

// gcPercent is the binary's GOGC unless the environment sets one: the
// heap grows to three times what is live before the collector runs, not
// twice. A rebuild allocates about 1.6 GB for 1,000,000 events, most of
// it gone within a batch; at Go's 100 the collector and its allocation
// work took 10 % of the rebuild's CPU. At 200 the rebuild of 1,000,000
// events took 6.2–6.9 s against 6.6–6.8 s (9.1–10.2 s of CPU against
// 9.95–10.0 s), peak RSS 276–314 MB against 224–271 MB; at 250 the RSS
// passed 350 MB, at 400 480 MB. Creates over HTTP: +2–4 %.
const gcPercent = 200

// lessGC sets GOGC to gcPercent unless env (the GOGC variable) is set.
func lessGC(env string) {
	if env == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// cpus is GOMAXPROCS as it was before moreProcs (the CPUs the process
// may use), or 0 when moreProcs did not run (tests). What is sized by
// CPU uses it, such as the read store's pool, each connection of which
// keeps a page cache of its own.
var cpus int

// run runs the command line args; it is main without the process: the
// environment, standard streams and cancellation come in as arguments.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRoot(getenv)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if args == nil {
		args = []string{} // nil makes cobra read os.Args
	}
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// usageError is a command line that was not understood: exit code 2.
type usageError struct {
	command string // the command path, for the help hint
	err     error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{command: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// report prints err for a person and returns the process's exit code:
// 0 without an error, 2 for a usage error, 1 for any other.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "agentdesk:", err)
	var u *usageError
	if errors.As(err, &u) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", u.command)
		return 2
	}
	return 1
}

// newRoot builds the command tree. Commands read their configuration
// through getenv when they run, never from flags.
func newRoot(getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "agentdesk",
		Short: "Event-sourced backend for tickets, agents and campaigns",
		Long: "agentdesk — event-sourced backend for tickets, agents and campaigns.\n\n" +
			"With no command it serves (agentdesk serve).\n\n" + envHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return usagef(cmd, "%s", msg)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), getenv, cmd.ErrOrStderr())
		},
		SilenceErrors:     true, // report prints them, once
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{command: cmd.CommandPath(), err: err}
	})
	root.AddCommand(
		&cobra.Command{
			Use:   "serve",
			Short: "Start the HTTP server (the default)",
			Long: "Start the HTTP server: bind HTTP_ADDR, open the stores, run the projections and\n" +
				"create the superadmin on first start. SIGINT or SIGTERM shut it down gracefully.\n\n" + envHelp,
			Args: noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return serve(cmd.Context(), getenv, cmd.ErrOrStderr())
			},
		},
		&cobra.Command{
			Use:   "version",
			Short: "Print the version and the Go version it was built with",
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "agentdesk %s (%s %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return err
			},
		},
		newUsersCmd(getenv),
		newProjectionsCmd(getenv),
		newAuditCmd(getenv),
		newMigrateCmd(getenv),
	)
	return root
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef(cmd, "%s takes no arguments, got %q", subcommand(cmd), args)
	}
	return nil
}

// subcommand names cmd without the program's name, which report prints.
func subcommand(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// group makes cmd a command that only holds subcommands: run alone, or
// with an unknown subcommand, it is a usage error (cobra would print its
// help and succeed).
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef(cmd, "unknown command %q for %s", args[0], subcommand(cmd))
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return usagef(cmd, "%s needs a command", subcommand(cmd))
	}
	return cmd
}

func newUsersCmd(getenv func(string) string) *cobra.Command {
	var generate bool
	reset := &cobra.Command{
		Use:   "reset-password USERNAME",
		Short: "Set a user's password (for an operator locked out)",
		Long: "Set the password of USERNAME, acting as the operator. The new password is read\n" +
			"from standard input (one line; prompted for without echo on a terminal), or\n" +
			"generated and printed with --generate. It opens the configured stores: when\n" +
			"either is embedded (EVENTSTORE_URL or MONGO_URI unset), it refuses to run while\n" +
			"a server uses the data dir; stop the server first.\n\n" + envHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef(cmd, "%s takes one USERNAME, got %d arguments", subcommand(cmd), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return resetPassword(cmd.Context(), getenv, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], generate)
		},
	}
	reset.Flags().BoolVar(&generate, "generate", false, "generate a random password and print it instead of reading one")
	users := group(&cobra.Command{Use: "users", Short: "Manage users from the command line"})
	users.AddCommand(reset)
	users.AddCommand(newForgetCmd(getenv))
	return users
}

// buildVersion returns the version set at link time or, without one, the
// VCS revision the go command stamped ("-dirty" when the tree had
// changes), or "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	return rev[:min(len(rev), 12)] + dirty
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadConfig reads the configuration: the environment, over the keys of
// the AWS Secrets Manager secret that AWS_SECRETS_MANAGER_SECRET_ID names.
// The fetch waits CONNECT_TIMEOUT as the environment sets it (the secret
// cannot set how long to wait for itself).
func loadConfig(ctx context.Context, getenv func(string) string) (config.Config, config.Env, error) {
	timeout := 10 * time.Second
	if d, err := time.ParseDuration(getenv("CONNECT_TIMEOUT")); err == nil && d >= time.Second {
		timeout = d
	}
	env, err := config.LoadEnv(ctx, getenv, awssecret.Source{Getenv: getenv, Timeout: timeout}.Fetch)
	if err != nil {
		return config.Config{}, env, err
	}
	cfg, err := config.FromEnv(env.Getenv)
	return cfg, env, err
}

// logSources logs which variables came from the secret and which from
// the environment: names only, never a value.
func logSources(log *slog.Logger, env config.Env) {
	s := env.Sources()
	if s.SecretID == "" {
		log.Info("configuration", "from_environment", s.Environment)
		return
	}
	log.Info("configuration", "secret", s.SecretID, "from_secret", s.Secret, "from_environment", s.Environment,
		"environment_overrides_secret", s.Overridden)
	if len(s.Unknown) > 0 {
		log.Warn("the secret holds keys the configuration does not read; they are ignored", "secret", s.SecretID, "keys", s.Unknown)
	}
}

// serve runs the server until ctx ends, then shuts down gracefully:
// requests in flight finish and the stores close cleanly. It binds
// HTTP_ADDR (and DEBUG_ADDR) before anything else, so a port in use fails
// the start before the data dir, the stores or the superadmin are touched.
func serve(ctx context.Context, getenv func(string) string, logOut io.Writer) error {
	cfg, env, err := loadConfig(ctx, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, logOut)
	logSources(log, env)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	ln = netutil.LimitListener(ln, cfg.MaxConnections)
	var debugLn net.Listener
	if cfg.DebugAddr != "" {
		if debugLn, err = net.Listen("tcp", cfg.DebugAddr); err != nil {
			ln.Close()
			return fmt.Errorf("DEBUG_ADDR: %w", err)
		}
	}
	srv, err := Open(ctx, cfg, log)
	if err != nil {
		ln.Close()
		if debugLn != nil {
			debugLn.Close()
		}
		return err
	}
	log.Info("agentdesk listening", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "version", buildVersion())
	if _, err := os.Stat(filepath.Join(cfg.AdminDir, "index.html")); err == nil {
		log.Info("admin app", "url", "http://"+ln.Addr().String()+adminPath, "dir", cfg.AdminDir)
	} else {
		log.Warn("the admin app is not built, so /admin answers 503; run make admin (needs Node.js and npm) or set ADMIN_DIR", "dir", cfg.AdminDir)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	debugDone := make(chan struct{})
	if debugLn != nil {
		log.Info("debug listening", "addr", debugLn.Addr().String(), "serves", "/debug/pprof/ /metrics")
		go func() {
			defer close(debugDone)
			if err := srv.ServeDebug(debugLn); err != nil {
				log.Error("debug listener failed", "err", err)
			}
		}()
	} else {
		close(debugDone)
	}

	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down")
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil && !errors.Is(serr, context.Canceled) {
		err = errors.Join(err, serr)
	}
	<-debugDone
	log.Info("stopped")
	return err
}

// resetPassword sets username's password from stdin, or to a generated
// one it prints, through the stores the configuration names.
func resetPassword(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, username string, generate bool) (err error) {
	// The stores open first, so that a running server is reported before
	// a password is asked for.
	cfg, st, err := openCommandStores(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer st.closeInto(&err)
	var password string
	if generate {
		password = rand.Text()
	} else if password, err = readPassword(ctx, stdin, stderr, username); err != nil {
		return err
	}
	app, err := commands.New(commands.Config{Store: st.events, Hasher: auth.Bcrypt{Cost: cfg.BcryptCost}})
	if err != nil {
		return err
	}
	res, err := app.ResetPassword(ctx, username, password)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	fmt.Fprintf(stdout, "password of %q reset (user %s)\n", username, res.ID)
	if generate {
		fmt.Fprintf(stdout, "new password: %s\n", password)
	}
	if user.NormalizeUsername(username) == user.NormalizeUsername(cfg.AdminUsername) {
		// A file that still offers the old password is the trap this
		// command gets an operator out of.
		path := initialPasswordPath(cfg)
		switch err := os.Remove(path); {
		case err == nil:
			fmt.Fprintf(stdout, "removed %s, which held the old password\n", path)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("remove %s, which holds the old password: %w", path, err)
		}
	}
	return nil
}

// checkDataDir refuses a data dir that does not exist: it is a mistyped
// DATA_DIR, and opening the embedded stores there would create empty
// ones. (A server running on it is refused by openStores, which locks
// it.)
func checkDataDir(cfg config.Config) error {
	if _, err := os.Stat(cfg.DataDir); err != nil {
		return fmt.Errorf("DATA_DIR: %w", err)
	}
	return nil
}

// readPassword reads the new password: one line from stdin or, on a
// terminal, typed twice without echo.
func readPassword(ctx context.Context, stdin io.Reader, prompt io.Writer, username string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pw, err := readTerminal(ctx, f, prompt, fmt.Sprintf("New password for %s: ", username))
		if err != nil {
			return "", err
		}
		again, err := readTerminal(ctx, f, prompt, "Repeat it: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the passwords differ")
		}
		return pw, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input (give one line, or use --generate)")
	}
	return line, nil
}

// readTerminal prompts and reads one line from the terminal f without
// echo. When ctx ends first it restores the terminal, which would
// otherwise stay silent after an interrupt, and gives up; the read itself
// cannot be stopped and ends with the process.
func readTerminal(ctx context.Context, f *os.File, prompt io.Writer, question string) (string, error) {
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	fmt.Fprint(prompt, question)
	type line struct {
		b   []byte
		err error
	}
	read := make(chan line, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		read <- line{b, err}
	}()
	select {
	case l := <-read:
		fmt.Fprintln(prompt)
		if l.err != nil {
			return "", fmt.Errorf("read password: %w", l.err)
		}
		return string(l.b), nil
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		fmt.Fprintln(prompt)
		return "", fmt.Errorf("read password: interrupted: %w", ctx.Err())
	}
}
