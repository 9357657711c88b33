package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"agentdesk/eventstore"
	"agentdesk/migrations"
	"agentdesk/readstore"
)

// applyMigrations applies the read-store migrations not applied yet, at
// the server's start before the projections run, logging each.
func applyMigrations(ctx context.Context, reads readstore.Store, log *slog.Logger) error {
	applied, err := migrations.Up(ctx, reads, migrations.All(), time.Now)
	for _, m := range applied {
		log.Info("read-store migration applied", "migration", m.ID, "name", m.Name)
	}
	if err != nil {
		return fmt.Errorf("read-store migrations: %w", err)
	}
	return nil
}

func newMigrateCmd(getenv func(string) string) *cobra.Command {
	status := &cobra.Command{
		Use:   "status",
		Short: "List the read-store migrations, applied or pending",
		Long: "List the read-store migrations in order, each applied (when) or pending. It opens\n" +
			"the configured stores: on the embedded ones it refuses to run while a server\n" +
			"uses the data dir.\n\n" + envHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return migrateStatus(cmd.Context(), getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply the pending read-store migrations",
		Long: "Apply the pending read-store migrations in order, recording each (the server also\n" +
			"applies them when it starts). It opens the configured stores: on the embedded ones\n" +
			"it refuses to run while a server uses the data dir.\n\n" + envHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return migrateUp(cmd.Context(), getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	migrate := group(&cobra.Command{Use: "migrate", Short: "Show and apply the read-store migrations"})
	migrate.AddCommand(status, up)
	return migrate
}

func migrateStatus(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	_, st, err := openCommandStores(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer st.closeInto(&err)
	states, err := migrations.Status(ctx, st.reads, migrations.All())
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATE\tAPPLIED\tNAME")
	pending := 0
	for _, s := range states {
		state, at := "pending", "-"
		if s.Applied != nil {
			state, at = "applied", s.Applied.UTC().Format(time.RFC3339)
		} else {
			pending++
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", s.ID, state, at, s.Name)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d applied, %d pending\n", len(states)-pending, pending)
	return nil
}

func migrateUp(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	_, st, err := openCommandStores(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer st.closeInto(&err)
	applied, err := migrations.Up(ctx, st.reads, migrations.All(), time.Now)
	for _, m := range applied {
		fmt.Fprintf(stdout, "applied %d: %s\n", m.ID, m.Name)
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "nothing to apply")
	}
	return nil
}

// upcastingLog shows the events it reads at their current schema
// version, through the registered upcasters: the audit's histories and
// exports read through it, so that old events look like new ones there
// too (the projectors and commands decode through the same upcasters).
type upcastingLog struct {
	eventstore.Store
}

func upcastAll(evs []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	for i := range evs {
		evs[i].SchemaVersion, evs[i].Data = migrations.Current(evs[i].Type, evs[i].SchemaVersion, evs[i].Data)
	}
	return evs
}

// ReadStream implements eventstore.Store.
func (l upcastingLog) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	evs, err := l.Store.ReadStream(ctx, stream, from, limit)
	return upcastAll(evs), err
}

// ReadStreamBackward implements eventstore.Store.
func (l upcastingLog) ReadStreamBackward(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	evs, err := l.Store.ReadStreamBackward(ctx, stream, from, limit)
	return upcastAll(evs), err
}

// Subscribe implements eventstore.Store.
func (l upcastingLog) Subscribe(ctx context.Context, from eventstore.Position, filter eventstore.Filter) (eventstore.Subscription, error) {
	sub, err := l.Store.Subscribe(ctx, from, filter)
	if err != nil {
		return nil, err
	}
	return upcastingSubscription{sub}, nil
}

type upcastingSubscription struct {
	eventstore.Subscription
}

// Next implements eventstore.Subscription.
func (s upcastingSubscription) Next(ctx context.Context, max int) (eventstore.Batch, error) {
	b, err := s.Subscription.Next(ctx, max)
	b.Events = upcastAll(b.Events)
	return b, err
}
