package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"agentdesk/eventstore"
)

// auditCommands build the subcommands of agentdesk audit, in the order
// the help lists them; a new one is one more entry.
var auditCommands = []func(getenv func(string) string) *cobra.Command{
	newAuditExportCmd,
	newAuditVerifyCmd,
}

// newAuditCmd is the audit group: commands on the event log itself, the
// audit trail.
func newAuditCmd(getenv func(string) string) *cobra.Command {
	cmd := group(&cobra.Command{Use: "audit", Short: "Export and check the audit trail: the event log itself"})
	for _, build := range auditCommands {
		cmd.AddCommand(build(getenv))
	}
	return cmd
}

const auditStoresHelp = `It opens the configured event store (EVENTSTORE_URL, or events.db in DATA_DIR).
On the embedded stores it takes the data dir's lock, so it is refused while a
server runs on DATA_DIR: stop the server first, or run it on a copy of the data
dir (a backup).`

func newAuditVerifyCmd(getenv func(string) string) *cobra.Command {
	var company string
	cmd := &cobra.Command{
		Use:   "verify [--company ID]",
		Short: "Check the event log's hash chains: was an event edited, deleted or reordered?",
		Long: "Read the whole event log (or one company's streams) and recompute every\n" +
			"stream's hash chain: each event's hash covers its contents and the previous\n" +
			"event's hash. It prints how many events and streams it checked, then\n" +
			"\"chain intact\" (exit 0) or the first broken link: stream, revision, position,\n" +
			"event id and what is wrong (exit 1). Events stored before hashing existed are\n" +
			"counted as unchained, not checked. A stream's last events cut off, or a whole\n" +
			"stream removed, leave no broken link.\n\n" + auditStoresHelp + "\n\n" + envHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return auditVerify(cmd.Context(), getenv, cmd.OutOrStdout(), cmd.ErrOrStderr(), company)
		},
	}
	cmd.Flags().StringVar(&company, "company", "", "check only the streams of this company `ID`")
	return cmd
}

// errChainBroken is returned by audit verify when a link is broken, for
// the exit status 1; the link itself is already printed.
var errChainBroken = errors.New("the event log's hash chain is broken")

func auditVerify(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, company string) (err error) {
	_, st, err := openCommandStores(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer st.closeInto(&err)
	start := time.Now()
	report, err := eventstore.VerifyChain(ctx, st.events, eventstore.Filter{CompanyID: company})
	if err != nil {
		return err
	}
	printChainReport(stdout, report, company, time.Since(start))
	if !report.Intact() {
		b := report.Broken
		return fmt.Errorf("%w at stream %s, revision %d (%s)", errChainBroken, b.StreamID, b.Revision, b.Problem)
	}
	return nil
}

func printChainReport(w io.Writer, r eventstore.ChainReport, company string, took time.Duration) {
	scope := ""
	if company != "" {
		scope = " of company " + company
	}
	fmt.Fprintf(w, "checked %d events in %d streams%s, up to position %s, in %s\n",
		r.Events, r.Streams, scope, r.Head, took.Round(time.Millisecond))
	if r.Unchained > 0 {
		fmt.Fprintf(w, "%d events unchained: stored before hashing, not checked (the last at position %s)\n",
			r.Unchained, r.LastUnchained)
	}
	if r.Intact() {
		fmt.Fprintln(w, "chain intact")
		return
	}
	b := r.Broken
	fmt.Fprintf(w, "broken link: %s\n", b.Problem)
	fmt.Fprintf(w, "  stream:   %s\n  revision: %d\n  position: %s\n  event:    %s\n  found:    %s\n",
		b.StreamID, b.Revision, b.Position, b.EventID, b.Detail)
	if r.BrokenStreams > 1 {
		fmt.Fprintf(w, "%d streams have a broken link; each is checked up to its first\n", r.BrokenStreams)
	}
}
