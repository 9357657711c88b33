package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"agentdesk/eventstore"
	"agentdesk/eventstore/esdb"
	"agentdesk/internal/config"
	"agentdesk/readstore"
	"agentdesk/readstore/mongo"
)

// stores are the event and read stores the configuration names, and the
// lock of the data dir while either of them is embedded.
type stores struct {
	events eventstore.Store
	reads  readstore.Store
	lock   *dataDirLock // nil when both stores are external
}

// close closes the stores, then releases the data dir's lock: another
// process may open them only once they are closed.
func (st stores) close() error {
	return errors.Join(st.events.Close(), st.reads.Close(), st.lock.release())
}

// openStores opens the event store and the read store the configuration
// names: EventStoreDB when EVENTSTORE_URL is set, MongoDB when MONGO_URI
// is set, the embedded SQLite files in the data dir otherwise. Before it
// opens an embedded store it locks the data dir, which fails at once when
// another process holds it (see dataDirLock). An external store that does
// not answer within CONNECT_TIMEOUT stops the start. It logs which
// backends are in use, never their credentials. commits, when not nil, is
// told about the embedded event store's group commits.
func openStores(ctx context.Context, cfg config.Config, log *slog.Logger, commits eventstore.CommitObserver) (_ stores, err error) {
	var (
		events eventstore.Store
		reads  readstore.Store
		lock   *dataDirLock
	)
	defer func() {
		if err != nil {
			if events != nil {
				events.Close()
			}
			if reads != nil {
				reads.Close()
			}
			lock.release()
		}
	}()
	if cfg.EventStoreURL == "" || cfg.MongoURI == "" {
		if lock, err = lockDataDir(cfg.DataDir); err != nil {
			return stores{}, err
		}
	}
	if cfg.EventStoreURL != "" {
		s, err := esdb.Open(ctx, esdb.Config{URL: cfg.EventStoreURL, ConnectTimeout: cfg.ConnectTimeout})
		if err != nil {
			return stores{}, fmt.Errorf("event store (EVENTSTORE_URL): %w", err)
		}
		events = s
		log.Info("event store: EventStoreDB", "server", serverOf(cfg.EventStoreURL))
	} else {
		path := filepath.Join(cfg.DataDir, "events.db")
		s, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: path, Commits: commits})
		if err != nil {
			return stores{}, fmt.Errorf("event store: %w", err)
		}
		events = s
		log.Info("event store: embedded SQLite", "path", path)
	}
	if cfg.MongoURI != "" {
		s, err := mongo.Open(ctx, mongo.Config{URI: cfg.MongoURI, Database: cfg.MongoDatabase, ConnectTimeout: cfg.ConnectTimeout})
		if err != nil {
			return stores{}, fmt.Errorf("read store (MONGO_URI): %w", err)
		}
		reads = s
		log.Info("read store: MongoDB", "server", serverOf(cfg.MongoURI), "database", cfg.MongoDatabase)
	} else {
		path := filepath.Join(cfg.DataDir, "reads.db")
		s, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: path})
		if err != nil {
			return stores{}, fmt.Errorf("read store: %w", err)
		}
		reads = s
		log.Info("read store: embedded SQLite", "path", path)
	}
	return stores{events: events, reads: reads, lock: lock}, nil
}

// serverOf returns the scheme and hosts of a connection string, without
// the credentials, path or options it may carry: what a log may show.
func serverOf(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return "(unparsable connection string)"
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return scheme + "://" + rest
}
