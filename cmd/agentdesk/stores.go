package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"agentdesk/eventstore"
	"agentdesk/internal/config"
	"agentdesk/readstore"
)

func openStores(ctx context.Context, cfg config.Config, log *slog.Logger) (events eventstore.Store, reads readstore.Store, err error) {
	e, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(cfg.DataDir, "events.db")})
	if err != nil {
		return nil, nil, fmt.Errorf("event store: %w", err)
	}
	r, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(cfg.DataDir, "reads.db")})
	if err != nil {
		e.Close()
		return nil, nil, fmt.Errorf("read store: %w", err)
	}
	return e, r, nil
}

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
