package reactions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/syncrun"
	"agentdesk/eventstore"
)

// SyncsName names the knowledge sync reaction.
const SyncsName = "syncs"

// SyncItem is one remote item as a sync source reads it: a chunk's title
// and text under the item's remote id.
type SyncItem struct {
	RemoteID string
	Title    string
	Content  string
}

// SyncListing is what a sync source read: the items changed after the
// mark it read from, the remote ids of every item that exists now, and
// the mark the next run reads from.
type SyncListing struct {
	Changed []SyncItem
	IDs     []string
	Mark    string
}

// SyncSource reads the items of one kind of integration. Implementations
// are safe for concurrent use; they wait and retry while the remote side
// throttles, and give up with an error past their retries.
type SyncSource interface {
	// Read reads what changed after since ("" for everything) in
	// integration it, whose credential, opened, is credential ("" when
	// none is stored).
	Read(ctx context.Context, it agent.Integration, credential, since string) (SyncListing, error)
}

// Opener opens sealed integration credentials (see commands.Sealer).
type Opener interface {
	Open(sealed string) (string, error)
}

// SyncCommands is what the sync reaction needs of the command side.
type SyncCommands interface {
	Agent(ctx context.Context, id string) (agent.Agent, error)
	SyncState(ctx context.Context, agentID string) (syncrun.Syncs, error)
	SyncKnowledgeChunk(ctx context.Context, m commands.Meta, in commands.SyncedChunk) (commands.SyncOutcome, commands.Result, error)
	RemoveSyncedChunk(ctx context.Context, m commands.Meta, agentID, remoteID string) (bool, error)
	RecordSyncItems(ctx context.Context, m commands.Meta, agentID string, in syncrun.RecordCmd) (commands.Result, error)
	FinishSync(ctx context.Context, m commands.Meta, agentID, runID, mark string) (commands.Result, error)
	FailSync(ctx context.Context, m commands.Meta, agentID, runID, reason string) (commands.Result, error)
}

// SyncConfig configures the sync reaction.
type SyncConfig struct {
	// Commands runs the chunk and run commands; required.
	Commands SyncCommands
	// Opener opens the integrations' credentials; required.
	Opener Opener
	// Sources read each type of integration; a type without one fails
	// its runs.
	Sources map[agent.IntegrationType]SyncSource
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Validate reports every missing setting.
func (c SyncConfig) Validate() error {
	var errs []error
	if c.Commands == nil {
		errs = append(errs, errors.New("syncs: Commands is required"))
	}
	if c.Opener == nil {
		errs = append(errs, errors.New("syncs: Opener is required"))
	}
	return errors.Join(errs...)
}

// syncBatch is how many remote ids one sync.items_recorded carries.
const syncBatch = 100

// Syncs returns the reaction that runs knowledge syncs: on sync.started
// it reads the integration's items changed since the last finished run,
// creates or updates a chunk for each (keyed by its remote id, so no item
// ever has two), deletes the chunks of items that are gone, records what
// it did in batches, and finishes the run with the mark the next one
// reads from; a run whose source fails (after its own retries) is failed
// with the reason.
//
// A run is resumed after a crash: its sync.started is delivered again
// (the checkpoint moves only once it is handled), and the run, still
// running, is read again from the same mark; chunks already written are
// unchanged, and items already recorded are not recorded twice. A run
// no process takes over is failed by the next start once it is older
// than syncrun.MaxRunTime, which also bounds each run here.
func Syncs(cfg SyncConfig) (Reaction, error) {
	if err := cfg.Validate(); err != nil {
		return Reaction{}, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// busy holds the runs this process is working through: a broker
	// hands a message out again when it stays unacknowledged too long
	// (NATS's AckWait), which a long run does; the copy is acknowledged
	// and the run goes on once.
	var busy sync.Map
	return Reaction{
		Name:   SyncsName,
		Filter: eventstore.Filter{Types: []string{syncrun.TypeStarted}},
		Handle: func(ctx context.Context, ev eventstore.RecordedEvent) error {
			e, err := syncrun.Events.Decode(ev.Type, ev.SchemaVersion, ev.Data)
			if err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			st := e.(*syncrun.Started)
			if _, running := busy.LoadOrStore(st.RunID, true); running {
				return nil
			}
			defer busy.Delete(st.RunID)
			return runSync(ctx, cfg, ev, st)
		},
	}, nil
}

// runSync runs the sync ev started.
func runSync(ctx context.Context, cfg SyncConfig, ev eventstore.RecordedEvent, st *syncrun.Started) error {
	cmds := cfg.Commands
	state, err := cmds.SyncState(ctx, st.AgentID)
	if err != nil {
		return err
	}
	if _, running := state.Run(st.RunID); !running {
		return nil // finished or failed already
	}
	fail := func(reason string) error {
		_, err := cmds.FailSync(ctx, Meta(SyncsName, ev, "fail"), st.AgentID, st.RunID, reason)
		if err == nil || errors.Is(err, domain.ErrInvalidTransition) {
			cfg.Logger.Warn("knowledge sync failed", "agent_id", st.AgentID, "run_id", st.RunID, "type", st.Type, "reason", reason)
			return nil
		}
		return err
	}
	ag, err := cmds.Agent(ctx, st.AgentID)
	if errors.Is(err, domain.ErrNotFound) {
		return fail("the agent was deleted")
	}
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ag.Integrations, func(it agent.Integration) bool { return it.ID == st.IntegrationID })
	if i < 0 {
		return fail("the integration was removed from the agent")
	}
	it := ag.Integrations[i]
	src := cfg.Sources[it.Type]
	if src == nil {
		return fail(fmt.Sprintf("no source reads %s integrations", it.Type))
	}
	credential := ""
	if it.Credential != "" {
		if credential, err = cfg.Opener.Open(string(it.Credential)); err != nil {
			return fail("the credential cannot be opened: store it again")
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, syncrun.MaxRunTime)
	defer cancel()
	listing, err := src.Read(runCtx, it, credential, st.Since)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: the run is resumed
		}
		return fail(err.Error())
	}
	source := knowledge.Shopify
	if it.Type == agent.WordPress {
		source = knowledge.WordPress
	}
	var rec syncrun.RecordCmd
	flush := func(force bool) error {
		n := len(rec.Added) + len(rec.Updated) + len(rec.Removed)
		if n == 0 || (!force && n < syncBatch) {
			return nil
		}
		ids := slices.Concat(rec.Added, rec.Updated, rec.Removed)
		rec.RunID = st.RunID
		if _, err := cmds.RecordSyncItems(ctx, Meta(SyncsName, ev, "items/"+digest(ids...)), st.AgentID, rec); err != nil {
			return fmt.Errorf("record items: %w", err)
		}
		rec = syncrun.RecordCmd{}
		return nil
	}
	known := state.Integrations[st.IntegrationID].Known
	for _, item := range listing.Changed {
		out, _, err := cmds.SyncKnowledgeChunk(ctx, Meta(SyncsName, ev, "chunk/"+digest(item.RemoteID, item.Title, item.Content)), commands.SyncedChunk{
			CompanyID: ag.CompanyID, AgentID: ag.ID, RemoteID: item.RemoteID, Title: item.Title, Content: item.Content, Source: source})
		var invalid *domain.ValidationError
		switch {
		case errors.As(err, &invalid):
			cfg.Logger.Warn("knowledge sync: item skipped", "agent_id", ag.ID, "remote_id", item.RemoteID, "err", err)
			continue
		case err != nil:
			return fmt.Errorf("sync chunk %s: %w", item.RemoteID, err)
		case out == commands.SyncAdded || !known[item.RemoteID]:
			// A chunk this run wrote before a crash is found unchanged
			// when the run resumes: the item is still new to the sync.
			rec.Added = append(rec.Added, item.RemoteID)
		case out == commands.SyncUpdated:
			rec.Updated = append(rec.Updated, item.RemoteID)
		}
		if err := flush(false); err != nil {
			return err
		}
	}
	exists := make(map[string]bool, len(listing.IDs))
	for _, id := range listing.IDs {
		exists[id] = true
	}
	gone := make([]string, 0)
	for id := range known {
		if !exists[id] {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		if _, err := cmds.RemoveSyncedChunk(ctx, Meta(SyncsName, ev, "remove/"+id), ag.ID, id); err != nil {
			return fmt.Errorf("remove chunk %s: %w", id, err)
		}
		rec.Removed = append(rec.Removed, id)
		if err := flush(false); err != nil {
			return err
		}
	}
	if err := flush(true); err != nil {
		return err
	}
	_, err = cmds.FinishSync(ctx, Meta(SyncsName, ev, "finish"), st.AgentID, st.RunID, listing.Mark)
	if err != nil && !errors.Is(err, domain.ErrInvalidTransition) {
		return fmt.Errorf("finish: %w", err)
	}
	cfg.Logger.Info("knowledge sync finished", "agent_id", st.AgentID, "run_id", st.RunID, "type", st.Type,
		"changed", len(listing.Changed), "removed", len(gone), "took", time.Since(ev.Metadata.RecordedAt).Round(time.Millisecond))
	return nil
}

// digest names a command by what it writes, so that a redelivered run
// writing the same thing issues the same command.
func digest(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:12])
}
