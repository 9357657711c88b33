package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"agentdesk/eventstore"
	"agentdesk/projections"
)

// operator is what the projections commands do, against a running
// server over HTTP (remoteOperator) or on the stores themselves when no
// server runs (localOperator).
type operator interface {
	status(ctx context.Context) ([]operatorLine, error)
	rebuild(ctx context.Context, name string) error
	verify(ctx context.Context, name string) (projections.VerifyResult, error)
	resume(ctx context.Context, name string) error
	close() error
}

const projectionsHelp = `The commands talk to a running server when AGENTDESK_SERVER (or --server) names
it, such as http://127.0.0.1:8080, with a superadmin's bearer token in
AGENTDESK_TOKEN (or --token; POST /auth/token gives one). Without a server they
open the configured stores themselves; on the embedded stores that is refused
while a server runs on DATA_DIR.`

func newProjectionsCmd(getenv func(string) string) *cobra.Command {
	var server, token string
	var asJSON, all bool
	open := func(cmd *cobra.Command) (operator, error) {
		if server == "" {
			server = getenv("AGENTDESK_SERVER")
		}
		if token == "" {
			token = getenv("AGENTDESK_TOKEN")
		}
		if server != "" {
			return newRemoteOperator(server, token)
		}
		return newLocalOperator(cmd.Context(), getenv, cmd.ErrOrStderr())
	}
	run := func(do func(cmd *cobra.Command, op operator, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) (err error) {
			op, err := open(cmd)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, op.close()) }()
			return do(cmd, op, args)
		}
	}
	oneName := func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef(cmd, "%s takes one projection NAME, got %d arguments", subcommand(cmd), len(args))
		}
		return nil
	}

	status := &cobra.Command{
		Use:   "status",
		Short: "Show every projection and reaction: version, generation, checkpoint, lag, rate, state, error",
		Long:  "Show every projection and reaction: projector version, generation, checkpoint,\nlag behind the log's head (events and seconds), recent events/s, state (running,\ncatching up, rebuilding, halted) and the last error with its position.\n\n" + projectionsHelp,
		Args:  noArgs,
		RunE: run(func(cmd *cobra.Command, op operator, _ []string) error {
			lines, err := op.status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(lines)
			}
			return printStatus(cmd.OutOrStdout(), lines)
		}),
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")

	rebuild := &cobra.Command{
		Use:   "rebuild NAME | --all",
		Short: "Rebuild a projection into a new generation while the live one serves, with progress",
		Long: "Rebuild projection NAME (or every one, --all) from the start of the log into a\n" +
			"new generation. The live generation keeps serving and updating meanwhile; at the\n" +
			"head readers switch to the new one and the old one is dropped. A terminal shows a\n" +
			"progress bar; otherwise a line every 5 s. A crash resumes the rebuild where it was.\n\n" + projectionsHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if all != (len(args) == 0) || len(args) > 1 {
				return usagef(cmd, "%s takes one projection NAME, or --all", subcommand(cmd))
			}
			return nil
		},
		RunE: run(func(cmd *cobra.Command, op operator, args []string) error {
			names := args
			if all {
				lines, err := op.status(cmd.Context())
				if err != nil {
					return err
				}
				names = nil
				for _, l := range lines {
					if l.Kind == kindProjection {
						names = append(names, l.Name)
					}
				}
			}
			for _, name := range names {
				if err := rebuildWithProgress(cmd.Context(), op, name, cmd.ErrOrStderr()); err != nil {
					return fmt.Errorf("rebuild %s: %w", name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s rebuilt\n", name)
			}
			return nil
		}),
	}
	rebuild.Flags().BoolVar(&all, "all", false, "rebuild every projection, one after the other")

	verify := &cobra.Command{
		Use:   "verify NAME",
		Short: "Replay the log into a scratch generation and compare it with the live read model",
		Long: "Replay the whole log for projection NAME into a scratch generation and compare\n" +
			"it with the live read model, document by document. It prints the first\n" +
			"differences and exits 1 when there are any.\n\n" + projectionsHelp,
		Args: oneName,
		RunE: run(func(cmd *cobra.Command, op operator, args []string) error {
			res, err := op.verify(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: %d documents compared at position %s in %s\n", res.Projection, res.Documents, res.Position, res.Took)
			if len(res.Differences) == 0 {
				fmt.Fprintln(out, "no differences: the read model is what the log says")
				return nil
			}
			for _, d := range res.Differences {
				fmt.Fprintf(out, "\n%s differs", d.ID)
				if len(d.Fields) > 0 {
					fmt.Fprintf(out, " in %s", strings.Join(d.Fields, ", "))
				}
				fmt.Fprintf(out, "\n  live:    %s\n  rebuilt: %s\n", d.Live, d.Rebuilt)
			}
			more := ""
			if res.More {
				more = " (and more)"
			}
			return fmt.Errorf("%s differs from a replay of the log in %d documents%s: rebuild it (agentdesk projections rebuild %s)", res.Projection, len(res.Differences), more, res.Projection)
		}),
	}

	resume := &cobra.Command{
		Use:   "resume NAME",
		Short: "Resume a halted projection once its cause is fixed",
		Long:  "Resume projection NAME, halted after a failure outlasted its retries: it tries the\nfailing batch again. It needs the running server.\n\n" + projectionsHelp,
		Args:  oneName,
		RunE: run(func(cmd *cobra.Command, op operator, args []string) error {
			if err := op.resume(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s resumed\n", args[0])
			return nil
		}),
	}

	cmd := group(&cobra.Command{Use: "projections", Short: "See, rebuild, verify and resume the projections"})
	cmd.PersistentFlags().StringVar(&server, "server", "", "a running server's URL (default AGENTDESK_SERVER)")
	cmd.PersistentFlags().StringVar(&token, "token", "", "a superadmin's bearer token (default AGENTDESK_TOKEN)")
	cmd.AddCommand(status, rebuild, verify, resume)
	return cmd
}

// printStatus prints lines as a table.
func printStatus(w io.Writer, lines []operatorLine) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tGEN\tSTATE\tCHECKPOINT\tLAG\tLAG (s)\tEVENTS/S\tPARKED\tERROR")
	for _, l := range lines {
		version, gen := "-", "-"
		if l.Kind == kindProjection {
			version, gen = fmt.Sprint(l.Version), fmt.Sprint(l.Generation)
		}
		state := l.State
		if rb := l.Rebuild; rb != nil {
			state = fmt.Sprintf("%s (g%d: %d/%d)", state, rb.Generation, rb.Done, max(rb.Total, rb.Done))
		}
		errText := l.Error
		if errText != "" && l.ErrorPosition != "" {
			errText = "at " + l.ErrorPosition + ": " + errText
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.1f\t%.0f\t%d\t%s\n", l.Name, l.Kind, version, gen, state, shortKey(l.Checkpoint), l.LagEvents, l.LagSeconds, l.EventsPerSecond, l.Parked, errText)
	}
	return tw.Flush()
}

// shortKey shows a position key as the position it is: an event number
// in the embedded store, commit/prepare in EventStoreDB.
func shortKey(k string) string {
	pos, err := eventstore.ParseKey(k)
	if k == "" || err != nil {
		return "-"
	}
	return pos.String()
}

// rebuildWithProgress starts a rebuild of name and follows it to the end:
// a progress bar on a terminal, a line every 5 s otherwise.
func rebuildWithProgress(ctx context.Context, op operator, name string, w io.Writer) error {
	before, err := lineOf(ctx, op, name)
	if err != nil {
		return err
	}
	if err := op.rebuild(ctx, name); err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	f, isFile := w.(*os.File)
	if isFile && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(name),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionFullWidth(),
			progressbar.OptionClearOnFinish())
		defer bar.Close()
	}
	lastLine := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		l, err := lineOf(ctx, op, name)
		if err != nil {
			return err
		}
		rb := l.Rebuild
		if rb == nil {
			if l.Generation > before.Generation || l.Version != before.Version {
				if bar != nil {
					bar.Finish()
				}
				fmt.Fprintf(w, "%s: generation %d is live (projector version %d)\n", name, l.Generation, l.Version)
				return nil
			}
			return fmt.Errorf("the rebuild ended without switching: %s", l.Error)
		}
		total := max(rb.Total, rb.Done)
		if bar != nil {
			if bar.GetMax64() != int64(total) {
				bar.ChangeMax64(int64(total))
			}
			bar.Set64(int64(rb.Done))
			continue
		}
		if time.Since(lastLine) >= 5*time.Second {
			lastLine = time.Now()
			left := "-"
			if rb.EventsPerSecond > 0 && total > rb.Done {
				left = (time.Duration(float64(total-rb.Done)/rb.EventsPerSecond) * time.Second).Round(time.Second).String()
			}
			pct := 100.0
			if total > 0 {
				pct = 100 * float64(rb.Done) / float64(total)
			}
			fmt.Fprintf(w, "%s: %d/%d events (%.0f%%), %.0f events/s, about %s left\n", name, rb.Done, total, pct, rb.EventsPerSecond, left)
		}
	}
}

func lineOf(ctx context.Context, op operator, name string) (operatorLine, error) {
	lines, err := op.status(ctx)
	if err != nil {
		return operatorLine{}, err
	}
	for _, l := range lines {
		if l.Kind == kindProjection && l.Name == name {
			return l, nil
		}
	}
	var names []string
	for _, l := range lines {
		if l.Kind == kindProjection {
			names = append(names, l.Name)
		}
	}
	return operatorLine{}, fmt.Errorf("no projection %q; projections: %s", name, strings.Join(names, ", "))
}

// remoteOperator talks to a running server.
type remoteOperator struct {
	base  string
	token string
	http  *http.Client
}

func newRemoteOperator(server, token string) (*remoteOperator, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want a URL such as http://127.0.0.1:8080", server)
	}
	if token == "" {
		return nil, errors.New("a server needs a superadmin's token: set AGENTDESK_TOKEN or pass --token (POST /auth/token gives one)")
	}
	return &remoteOperator{base: strings.TrimRight(server, "/"), token: token, http: &http.Client{}}, nil
}

func (o *remoteOperator) close() error { return nil }

// call sends a request and decodes a 2xx answer into out.
func (o *remoteOperator) call(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, o.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	resp, err := o.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var p struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(body, &p) != nil || p.Detail == "" {
			p.Detail = string(bytes.TrimSpace(body))
		}
		return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, p.Detail)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

func (o *remoteOperator) status(ctx context.Context) ([]operatorLine, error) {
	var page struct {
		Data []operatorLine `json:"data"`
	}
	err := o.call(ctx, http.MethodGet, "/api/admin/projections", &page)
	return page.Data, err
}

func (o *remoteOperator) rebuild(ctx context.Context, name string) error {
	return o.call(ctx, http.MethodPost, "/api/admin/projections/"+url.PathEscape(name)+"/rebuild", nil)
}

func (o *remoteOperator) verify(ctx context.Context, name string) (projections.VerifyResult, error) {
	var res projections.VerifyResult
	err := o.call(ctx, http.MethodPost, "/api/admin/projections/"+url.PathEscape(name)+"/verify", &res)
	return res, err
}

func (o *remoteOperator) resume(ctx context.Context, name string) error {
	return o.call(ctx, http.MethodPost, "/api/admin/projections/"+url.PathEscape(name)+"/resume", nil)
}

// localOperator works on the stores themselves, with the projections
// running in this process while it does.
type localOperator struct {
	srv    *Server
	cancel context.CancelFunc
	done   chan struct{}
}

func newLocalOperator(ctx context.Context, getenv func(string) string, stderr io.Writer) (*localOperator, error) {
	cfg, env, err := loadConfig(ctx, getenv)
	if err != nil {
		return nil, err
	}
	if env.Getenv("LOG_LEVEL") == "" {
		cfg.LogLevel = "warn" // the command's own output is what matters here
	}
	if cfg.EventStoreURL == "" || cfg.MongoURI == "" {
		if err := checkDataDir(cfg); err != nil {
			return nil, err
		}
	}
	log := newLogger(cfg, stderr)
	logSources(log, env)
	srv, err := openOffline(ctx, cfg, log)
	if err != nil {
		var inUse *dataDirInUseError
		if errors.As(err, &inUse) {
			return nil, fmt.Errorf("%w\nto work on the running server's projections, set AGENTDESK_SERVER=http://%s and AGENTDESK_TOKEN (a superadmin's token)", err, cfg.HTTPAddr)
		}
		return nil, err
	}
	return &localOperator{srv: srv}, nil
}

// start runs the projections in this process, for a rebuild or a
// verification: they catch up with the log first.
func (o *localOperator) start() {
	if o.done != nil {
		return
	}
	runCtx, cancel := context.WithCancel(context.Background())
	o.cancel, o.done = cancel, make(chan struct{})
	go func() {
		defer close(o.done)
		_ = o.srv.runner.Run(runCtx)
	}()
}

func (o *localOperator) close() error {
	if o.done != nil {
		o.cancel()
		<-o.done
	}
	o.srv.closeStores()
	return nil
}

func (o *localOperator) status(ctx context.Context) ([]operatorLine, error) {
	lines, err := o.srv.operatorStatus(ctx)
	if o.done == nil {
		for i := range lines {
			if lines[i].State != projections.StateHalted {
				lines[i].State = "stopped"
			}
		}
	}
	return lines, err
}

func (o *localOperator) rebuild(ctx context.Context, name string) error {
	o.start()
	// Run sets up the runner's context first; Rebuild waits for it.
	for {
		err := o.srv.runner.Rebuild(ctx, name, "asked for from the command line")
		if !errors.Is(err, projections.ErrNotRunning) {
			return operationError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (o *localOperator) verify(ctx context.Context, name string) (projections.VerifyResult, error) {
	o.start()
	res, err := o.srv.runner.Verify(ctx, name, 10)
	return res, operationError(err)
}

func (o *localOperator) resume(context.Context, string) error {
	return errors.New("a projection halts in a running server, and only there can it be resumed (set AGENTDESK_SERVER and AGENTDESK_TOKEN); starting the server tries it again anyway")
}
