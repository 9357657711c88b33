package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"agentdesk/commands"
	"agentdesk/readstore"
)

// idempotencyRecords keeps the responses of keyed requests in the read
// store, so they live wherever the read models do (SQLite or MongoDB) and
// are shared by every process. Records go into collections that each cover
// one TTL-long time bucket: a record is written to the bucket of its time
// and looked up in that bucket and the one before, and a bucket two or
// more behind is dropped whole. Expiry therefore costs no per-record
// delete and leaves no tombstones; the expires_at field makes it exact.
type idempotencyRecords struct {
	reads readstore.Store
	ttl   time.Duration

	mu      sync.Mutex
	now     func() time.Time // the clock; tests move it
	ensured map[int64]bool   // buckets this process has ensured
	swept   int64            // the bucket for which old ones were last dropped
}

// idempotencyKeep is how many buckets behind the current one the sweep
// looks for leftovers (a server that was down for a while).
const idempotencyKeep = 8

type idempotencyDoc struct {
	ID        string            `json:"id"`
	ExpiresAt time.Time         `json:"expires_at"`
	Response  commands.Response `json:"response"`
}

func newIdempotencyRecords(reads readstore.Store, ttl time.Duration) *idempotencyRecords {
	return &idempotencyRecords{reads: reads, ttl: ttl, now: time.Now, ensured: map[int64]bool{}}
}

func (s *idempotencyRecords) bucket(t time.Time) int64 { return t.Unix() / int64(s.ttl/time.Second) }

func (s *idempotencyRecords) collection(bucket int64) string {
	return "idempotency_" + strconv.FormatInt(int64(s.ttl/time.Second), 10) + "_" + strconv.FormatInt(bucket, 10)
}

// prepare ensures the buckets a request at now touches and, once per
// bucket, drops the expired ones.
func (s *idempotencyRecords) prepare(ctx context.Context, now time.Time) (cur int64, err error) {
	cur = s.bucket(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range []int64{cur, cur - 1} {
		if s.ensured[b] {
			continue
		}
		if err := s.reads.Ensure(ctx, readstore.Collection{Name: s.collection(b)}); err != nil {
			return 0, err
		}
		s.ensured[b] = true
	}
	if s.swept != cur {
		for b := cur - 2; b >= cur-2-idempotencyKeep; b-- {
			if err := s.reads.Drop(ctx, s.collection(b)); err != nil {
				return 0, fmt.Errorf("drop expired idempotency records: %w", err)
			}
			delete(s.ensured, b)
		}
		s.swept = cur
	}
	return cur, nil
}

// clock returns the current time.
func (s *idempotencyRecords) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// setClock replaces the clock (tests).
func (s *idempotencyRecords) setClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// Load implements commands.IdempotencyStore.
func (s *idempotencyRecords) Load(ctx context.Context, key string) (commands.Response, bool, error) {
	now := s.clock()
	cur, err := s.prepare(ctx, now)
	if err != nil {
		return commands.Response{}, false, err
	}
	for _, b := range []int64{cur, cur - 1} {
		doc, err := s.reads.Get(ctx, s.collection(b), key)
		if errors.Is(err, readstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return commands.Response{}, false, err
		}
		var d idempotencyDoc
		if err := json.Unmarshal(doc.Data, &d); err != nil {
			return commands.Response{}, false, fmt.Errorf("decode idempotency record: %w", err)
		}
		if d.ExpiresAt.After(now) {
			return d.Response, true, nil
		}
	}
	return commands.Response{}, false, nil
}

// Store implements commands.IdempotencyStore. Every record of a bucket is
// written at the same version, so the read store's version guard keeps
// the first one written, whichever process wrote it.
func (s *idempotencyRecords) Store(ctx context.Context, key string, r commands.Response) (commands.Response, error) {
	if kept, ok, err := s.Load(ctx, key); err != nil || ok {
		return kept, err
	}
	now := s.clock()
	cur, err := s.prepare(ctx, now)
	if err != nil {
		return r, err
	}
	data, err := json.Marshal(idempotencyDoc{ID: key, ExpiresAt: now.Add(s.ttl).UTC(), Response: r})
	if err != nil {
		return r, err
	}
	coll := s.collection(cur)
	if err := s.reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: coll, Doc: readstore.Doc{ID: key, Version: "1", Data: data}}}}); err != nil {
		return r, err
	}
	kept, ok, err := s.Load(ctx, key)
	if err != nil || !ok {
		return r, err
	}
	return kept, nil
}
