package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"agentdesk/domain"
	"agentdesk/eventstore"
	"agentdesk/readapi"
)

// newAuditExportCmd returns the audit group's export command.
func newAuditExportCmd(getenv func(string) string) *cobra.Command {
	var company, out, asOf string
	cmd := &cobra.Command{
		Use:   "export --company ID [--as-of TIME] [--out FILE]",
		Short: "Export a company's events, or its entities as of a time, as JSON lines",
		Long: "Write every event of company ID stored when the export starts, in log order, as\n" +
			"JSON lines (id, stream_id, revision, position, type, schema_version, data,\n" +
			"metadata) to FILE, or to standard output. With --as-of TIME (RFC 3339), write\n" +
			"instead every entity of the company that existed then, as it was then, one line\n" +
			"each ({resource, id, revision, record}), replayed from the log; erased personal\n" +
			"data shows as erased. A terminal on standard error shows a progress bar. It opens\n" +
			"the configured stores: when the event store is embedded (EVENTSTORE_URL unset) it\n" +
			"refuses to run while a server uses the data dir; export through the server\n" +
			"instead, GET /api/audit/export?company_id=ID.\n\n" + envHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !domain.ValidID(company) {
				return usagef(cmd, "%s needs --company, a company id (UUID)", subcommand(cmd))
			}
			var at time.Time
			if asOf != "" {
				t, err := time.Parse(time.RFC3339Nano, asOf)
				if err != nil {
					return usagef(cmd, "--as-of %q: want an RFC 3339 time, such as 2026-11-30T09:00:00Z", asOf)
				}
				at = t
			}
			return exportAuditLog(cmd.Context(), getenv, company, out, at, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&asOf, "as-of", "", "export every entity's state at this RFC 3339 time instead of the events")
	cmd.Flags().StringVar(&company, "company", "", "the company whose events to export (required)")
	cmd.Flags().StringVar(&out, "out", "", "the file to write (created, or truncated); standard output when unset")
	return cmd
}

// exportAuditLog writes company's events to the file out, or to stdout
// when out is empty. The file is written in place: an export that fails
// leaves what it wrote, and says so.
func exportAuditLog(ctx context.Context, getenv func(string) string, company, out string, asOf time.Time, stdout, stderr io.Writer) (err error) {
	_, st, err := openCommandStores(ctx, getenv, stderr)
	if err != nil {
		var busy *dataDirInUseError
		if errors.As(err, &busy) {
			return fmt.Errorf("%w; export through the running server instead: GET /api/audit/export?company_id=%s", err, company)
		}
		return err
	}
	defer st.closeInto(&err)
	w := stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}()
		w = f
	}
	bar := exportBar(stderr)
	if !asOf.IsZero() {
		a := &auditor{events: upcastingLog{st.events}, pii: st.pii}
		n, err := a.ExportStates(ctx, w, company, asOf, func() {
			if bar != nil {
				_ = bar.Add(1)
			}
		})
		if bar != nil {
			_ = bar.Finish()
		}
		if err != nil {
			return fmt.Errorf("export stopped after %d records: %w", n, err)
		}
		if out != "" {
			fmt.Fprintf(stderr, "exported %d records of company %s as of %s to %s\n", n, company, asOf.Format(time.RFC3339), out)
		}
		return nil
	}
	n, err := readapi.ExportEvents(ctx, upcastingLog{st.events}, company, w, func(at, head eventstore.Position) error {
		if bar != nil {
			// Positions are progress: SQLite numbers its events, and
			// EventStoreDB's commit positions grow with the log's bytes.
			bar.ChangeMax64(int64(head.Commit))
			_ = bar.Set64(int64(at.Commit))
		}
		return nil
	}, (&auditor{events: upcastingLog{st.events}, pii: st.pii}).Redact)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return fmt.Errorf("export stopped after %d events: %w", n, err)
	}
	if out != "" {
		fmt.Fprintf(stderr, "exported %d events of company %s to %s\n", n, company, out)
	}
	return nil
}

// exportBar is a progress bar on stderr when it is a terminal, else nil:
// a log or a pipe gets no bar.
func exportBar(stderr io.Writer) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("export"),
		progressbar.OptionShowIts(), progressbar.OptionSetItsString("positions"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionFullWidth(),
		progressbar.OptionClearOnFinish())
}
