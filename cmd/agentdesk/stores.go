package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"agentdesk/domain"
	"agentdesk/eventstore"
	"agentdesk/eventstore/esdb"
	"agentdesk/internal/config"
	"agentdesk/internal/pii"
	"agentdesk/internal/secrets"
	"agentdesk/readstore"
	"agentdesk/readstore/mongo"
)

// stores are the event and read stores the configuration names, and the
// lock of the data dir while either of them is embedded.
type stores struct {
	events eventstore.Store
	reads  readstore.Store
	// keys holds the users' keys their personal data is sealed with, and
	// pii seals and opens with them.
	keys pii.Keys
	pii  *pii.Codec
	lock *dataDirLock // nil when both stores are external
}

// close closes the stores, then releases the data dir's lock: another
// process may open them only once they are closed.
func (st stores) close() error {
	return errors.Join(st.keys.Close(), st.events.Close(), st.reads.Close(), st.lock.release())
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
		keys   pii.Keys
		lock   *dataDirLock
	)
	defer func() {
		if err != nil {
			if keys != nil {
				keys.Close()
			}
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
		rc := readstore.SQLiteConfig{Path: path}
		if cpus > 0 {
			rc.ReadConns = max(4, cpus) // not the doubled GOMAXPROCS
		}
		s, err := readstore.OpenSQLite(rc)
		if err != nil {
			return stores{}, fmt.Errorf("read store: %w", err)
		}
		reads = s
		log.Info("read store: embedded SQLite", "path", path)
	}
	if keys, err = openKeys(ctx, cfg, reads, log); err != nil {
		return stores{}, err
	}
	return stores{events: events, reads: reads, keys: keys, pii: pii.NewCodec(keys, domain.Erased), lock: lock}, nil
}

// openKeys opens the store of the keys that seal users' personal data,
// which must outlive the read models: with MONGO_URI the collection
// pii_keys of its database, which no projection owns or drops; else
// keys.db in the data dir, beside reads.db, which may be deleted and
// rebuilt. Either keeps the keys sealed with SECRETS_KEY.
func openKeys(ctx context.Context, cfg config.Config, reads readstore.Store, log *slog.Logger) (pii.Keys, error) {
	secretsKey, err := cfg.EnsureSecretsKey()
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	sealer, err := secrets.New(secretsKey)
	if err != nil {
		return nil, err
	}
	if cfg.MongoURI != "" {
		k, err := newReadStoreKeys(ctx, reads, sealer)
		if err != nil {
			return nil, fmt.Errorf("key store (MONGO_URI): %w", err)
		}
		log.Info("key store: MongoDB", "collection", piiKeysCollection)
		return k, nil
	}
	path := filepath.Join(cfg.DataDir, "keys.db")
	k, err := pii.OpenSQLite(path, sealer)
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	log.Info("key store: embedded SQLite", "path", path)
	return k, nil
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

// openCommandStores opens the configured stores for a command-line command
// that works on them itself (no server): the configuration, a data dir
// that must exist when a store is embedded (the command never creates
// one), and the data dir's lock, refused while a server holds it.
func openCommandStores(ctx context.Context, getenv func(string) string, stderr io.Writer) (config.Config, stores, error) {
	cfg, env, err := loadConfig(ctx, getenv)
	if err != nil {
		return cfg, stores{}, err
	}
	log := newLogger(cfg, stderr)
	logSources(log, env)
	if cfg.EventStoreURL == "" || cfg.MongoURI == "" {
		if err := checkDataDir(cfg); err != nil {
			return cfg, stores{}, err
		}
	}
	st, err := openStores(ctx, cfg, log, nil)
	return cfg, st, err
}

// closeInto closes st, joining a failure to *err.
func (st stores) closeInto(err *error) {
	if cerr := st.close(); cerr != nil {
		*err = errors.Join(*err, fmt.Errorf("close stores: %w", cerr))
	}
}
