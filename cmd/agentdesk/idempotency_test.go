package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"agentdesk/commands"
	"agentdesk/readstore"
)

// TestIdempotencyRecordsExpire drives the store's clock: a response is
// replayed within the TTL, gone after it, and the first one stored under a
// key is the one kept.
func TestIdempotencyRecordsExpire(t *testing.T) {
	ctx := context.Background()
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "reads.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	s := newIdempotencyRecords(rs, time.Hour)
	s.setClock(func() time.Time { return now })

	first := commands.Response{RequestHash: "h1", Status: 201, Body: json.RawMessage(`{"id":"a"}`)}
	kept, err := s.Store(ctx, "k", first)
	if err != nil || kept.RequestHash != "h1" {
		t.Fatalf("store: %+v, %v", kept, err)
	}
	if kept, err := s.Store(ctx, "k", commands.Response{RequestHash: "h2", Status: 200}); err != nil || kept.RequestHash != "h1" {
		t.Fatalf("second store under the key: kept %+v, %v; want the first", kept, err)
	}
	for _, step := range []struct {
		after time.Duration
		found bool
	}{
		{0, true},
		{59 * time.Minute, true}, // the next bucket: looked up in the one before
		{61 * time.Minute, false},
		{3 * time.Hour, false}, // its bucket is dropped by now
	} {
		s.setClock(func() time.Time { return now.Add(step.after) })
		got, ok, err := s.Load(ctx, "k")
		if err != nil || ok != step.found || (ok && string(got.Body) != `{"id":"a"}`) {
			t.Fatalf("after %s: got %+v, %v, %v; want found %v", step.after, got, ok, err, step.found)
		}
	}
	// After expiry the key takes a new response.
	if kept, err := s.Store(ctx, "k", commands.Response{RequestHash: "h3", Status: 200}); err != nil || kept.RequestHash != "h3" {
		t.Fatalf("store after expiry: kept %+v, %v; want the new one", kept, err)
	}
	// The first record's bucket is gone from the store, not just skipped.
	if _, err := rs.Get(ctx, s.collection(s.bucket(now)), "k"); err == nil {
		t.Fatal("the expired bucket still holds the record")
	}
}
