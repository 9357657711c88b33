package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"agentdesk/commands"
	"agentdesk/internal/auth"
)

// newForgetCmd is `agentdesk users forget ID`.
func newForgetCmd(getenv func(string) string) *cobra.Command {
	return &cobra.Command{
		Use:   "forget ID",
		Short: "Erase a user's personal data (full name and email) for good",
		Long: "Erase the full name and email of the user with id ID, acting as the operator:\n" +
			"the key they are sealed with in the event log is destroyed, and user.forgotten\n" +
			"is recorded. The history still replays, with both fields reading \"[erased]\";\n" +
			"the username, ids and everything else stay. Deleted users can be forgotten too.\n" +
			"There is no undo. When either store is embedded (EVENTSTORE_URL or MONGO_URI\n" +
			"unset), it refuses to run while a server uses the data dir; stop it first, or\n" +
			"use POST /api/users/{id}/forget on the running server.\n\n" + envHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef(cmd, "%s takes one user ID, got %d arguments", subcommand(cmd), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return forgetUser(cmd.Context(), getenv, cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0])
		},
	}
}

// forgetUser erases the personal data of user id through the stores the
// configuration names.
func forgetUser(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, id string) (err error) {
	cfg, st, err := openCommandStores(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer st.closeInto(&err)
	app, err := commands.New(commands.Config{Store: st.events, Hasher: auth.Bcrypt{Cost: cfg.BcryptCost}, PII: st.pii})
	if err != nil {
		return err
	}
	res, err := app.ForgetUserAsOperator(ctx, id)
	if err != nil {
		return fmt.Errorf("forget user %s: %w", id, err)
	}
	switch {
	case !res.Changed:
		fmt.Fprintf(stdout, "user %s was already forgotten; its key is gone\n", id)
	case res.Deleted:
		fmt.Fprintf(stdout, "erased the full name and email of deleted user %s\n", id)
	default:
		fmt.Fprintf(stdout, "erased the full name and email of user %s\n", id)
	}
	return nil
}
