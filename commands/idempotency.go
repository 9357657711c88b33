package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"agentdesk/domain"
	"agentdesk/eventstore"
)

// Responses of writes sent with an Idempotency-Key are remembered in the
// event store: each key has its own stream ("idempotency-<hash of company
// and key>"), written once with NoStream, so the record is as durable as
// the events and needs no other database.

// IdempotencyRecordedType is the event type of a remembered response.
const IdempotencyRecordedType = "idempotency.recorded"

// IdempotencyCategory is the stream category of remembered responses.
const IdempotencyCategory = "idempotency"

// Response is a remembered HTTP response.
type Response struct {
	RequestHash string          `json:"request_hash"`
	Status      int             `json:"status"`
	Body        json.RawMessage `json:"body"`
}

// IdempotencyKey identifies one key of one tenant.
type IdempotencyKey struct {
	// Scope is the company id, or "platform" for a superadmin.
	Scope string
	Key   string
}

func (k IdempotencyKey) stream() string {
	sum := sha256.Sum256([]byte(k.Scope + "\x00" + k.Key))
	return IdempotencyCategory + "-" + hex.EncodeToString(sum[:16])
}

// CommandID returns the command id a keyed request runs under: the same
// for every retry, so the aggregate and event ids it derives are too.
func (k IdempotencyKey) CommandID() string { return DeriveID("idempotency", k.Scope+"\x00"+k.Key) }

// Lookup returns the remembered response for k, or ok false.
func (a *App) Lookup(ctx context.Context, k IdempotencyKey) (Response, bool, error) {
	evs, err := a.store.ReadStream(ctx, k.stream(), 0, 1)
	if err != nil || len(evs) == 0 {
		return Response{}, false, err
	}
	var r Response
	if err := json.Unmarshal(evs[0].Data, &r); err != nil {
		return Response{}, false, fmt.Errorf("decode idempotency record: %w", err)
	}
	return r, true, nil
}

// Remember stores the response for k. If another request with the same
// key got there first, it returns that response instead, so concurrent
// retries all answer alike.
func (a *App) Remember(ctx context.Context, m Meta, k IdempotencyKey, r Response) (Response, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return r, err
	}
	_, err = a.store.Append(ctx, k.stream(), eventstore.NoStream, []eventstore.EventData{{
		ID:            newUUID(),
		Type:          IdempotencyRecordedType,
		SchemaVersion: 1,
		Data:          data,
		Metadata: eventstore.Metadata{
			CompanyID: m.Principal.CompanyID, ActorID: m.Principal.UserID, ActorRole: string(m.Principal.Role),
			CorrelationID: m.CorrelationID, CausationID: m.CausationID, CommandID: m.CommandID, RecordedAt: a.now().UTC(),
		},
	}})
	if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		first, ok, err := a.Lookup(ctx, k)
		if err != nil || !ok {
			return r, err
		}
		if first.RequestHash != r.RequestHash {
			return first, fmt.Errorf("%w: the Idempotency-Key was used for another request", domain.ErrConflict)
		}
		return first, nil
	}
	return r, err
}
