package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"agentdesk/domain"
)

// Responses of writes sent with an Idempotency-Key are remembered for a
// while (IDEMPOTENCY_TTL) in an IdempotencyStore, never in the event log:
// they hold whole response bodies, which have no place in the audit trail
// and must expire. A retry after its record expired still appends
// nothing twice, because the ids of what it creates are derived from the
// key (see IdempotencyKey.CommandID); it only answers afresh.

// Response is a remembered HTTP response.
type Response struct {
	RequestHash string          `json:"request_hash"`
	Status      int             `json:"status"`
	Body        json.RawMessage `json:"body"`
}

// IdempotencyStore remembers responses by key for a limited time.
// Implementations are safe for concurrent use.
type IdempotencyStore interface {
	// Load returns the live response stored under key, or ok false when
	// there is none or it expired.
	Load(ctx context.Context, key string) (r Response, ok bool, err error)
	// Store keeps r under key unless a live response is already there,
	// and returns the response that is kept.
	Store(ctx context.Context, key string, r Response) (Response, error)
}

// IdempotencyKey identifies one key of one tenant.
type IdempotencyKey struct {
	// Scope is the company id, or "platform" for a superadmin.
	Scope string
	Key   string
}

// id is the key's name in the store: a hash, so that a key's text (which
// a client chose) never reaches a database as an identifier.
func (k IdempotencyKey) id() string {
	sum := sha256.Sum256([]byte(k.Scope + "\x00" + k.Key))
	return hex.EncodeToString(sum[:16])
}

// CommandID returns the command id a keyed request runs under: the same
// for every retry, so the aggregate and event ids it derives are too.
func (k IdempotencyKey) CommandID() string { return DeriveID("idempotency", k.Scope+"\x00"+k.Key) }

// Lookup returns the remembered response for k, or ok false.
func (a *App) Lookup(ctx context.Context, k IdempotencyKey) (Response, bool, error) {
	if a.idempotency == nil {
		return Response{}, false, nil
	}
	r, ok, err := a.idempotency.Load(ctx, k.id())
	if err != nil {
		return Response{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	return r, ok, nil
}

// Remember stores the response for k. If another request with the same
// key got there first, it returns that response instead, so concurrent
// retries all answer alike; a different request under the same key is a
// conflict.
func (a *App) Remember(ctx context.Context, k IdempotencyKey, r Response) (Response, error) {
	if a.idempotency == nil {
		return r, nil
	}
	kept, err := a.idempotency.Store(ctx, k.id(), r)
	if err != nil {
		return r, fmt.Errorf("remember idempotency key: %w", err)
	}
	if kept.RequestHash != r.RequestHash {
		return kept, fmt.Errorf("%w: the Idempotency-Key was used for another request", domain.ErrConflict)
	}
	return kept, nil
}
