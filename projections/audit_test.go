package projections_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain/ticket"
	"agentdesk/domain/user"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// The audit trail holds one entry per event of a resource's stream, told
// by its envelope only, and none for the username claims; a replayed
// batch changes nothing.
func TestAuditLogEntries(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	ctx := context.Background()
	tk := uuid.NewString()
	appendTicket(t, s.es, tk, eventstore.NoStream, &ticket.Opened{TicketID: tk, CompanyID: "c1", Title: "t", Priority: ticket.Normal, RequesterID: "u1"})
	appendTicket(t, s.es, tk, eventstore.Exact(0), &ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: "secret words"})
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	platform := eventstore.Metadata{ActorID: "system", ActorRole: "superadmin", CorrelationID: "corr", CausationID: "cause", CommandID: "cmd", RequestID: "req", RecordedAt: at}
	uid := uuid.NewString()
	if _, err := s.es.Append(ctx, user.UsernameStream("root"), eventstore.NoStream, []eventstore.EventData{{ID: uuid.NewString(), Type: user.TypeClaimed,
		SchemaVersion: 1, Data: json.RawMessage(`{"user_id":"` + uid + `"}`), Metadata: platform}}); err != nil {
		t.Fatal(err)
	}
	created := uuid.NewString()
	res, err := s.es.Append(ctx, user.Stream(uid), eventstore.NoStream, []eventstore.EventData{{ID: created, Type: user.TypeCreated,
		SchemaVersion: 1, Data: json.RawMessage(`{"user_id":"` + uid + `","username":"root"}`), Metadata: platform}})
	if err != nil {
		t.Fatal(err)
	}
	r, stop := startRunner(t, s, projections.AuditLogProjector())
	defer stop()
	waitForProjection(t, r, projections.AuditLog, res.Position)

	all := func() []readstore.Doc {
		t.Helper()
		docs, total, err := s.rs.Query(ctx, projections.AuditLog, readstore.Query{Sort: []readstore.Sort{{Field: "position"}}, Limit: 100, Count: true})
		if err != nil {
			t.Fatal(err)
		}
		if int(total) != len(docs) {
			t.Fatalf("total %d, %d documents", total, len(docs))
		}
		return docs
	}
	docs := all()
	if len(docs) != 3 {
		t.Fatalf("%d entries, want 3: two ticket events and the user's creation, no username claim", len(docs))
	}
	var entries []projections.AuditEntry
	for _, d := range docs {
		var e projections.AuditEntry
		if err := json.Unmarshal(d.Data, &e); err != nil {
			t.Fatal(err)
		}
		if d.ID != e.ID || d.Version != e.Position {
			t.Errorf("document %s at version %s holds entry %s at %s; want the event's id and position", d.ID, d.Version, e.ID, e.Position)
		}
		var raw map[string]any
		_ = json.Unmarshal(d.Data, &raw)
		for k, v := range raw {
			if s, ok := v.(string); ok && (s == "secret words" || s == "root") {
				t.Errorf("entry field %s holds the event's data %q", k, s)
			}
		}
		entries = append(entries, e)
	}
	if e := entries[1]; e.Resource != "tickets" || e.EntityID != tk || e.Type != ticket.TypeCommented || e.Revision != 1 || e.CompanyID == nil || *e.CompanyID != "c1" || e.ActorID != "u1" {
		t.Errorf("the comment's entry: %+v", e)
	}
	want := projections.AuditEntry{ID: created, Resource: "users", EntityID: uid, Type: user.TypeCreated, SchemaVersion: 1, Position: res.Position.Key(),
		ActorID: "system", ActorRole: "superadmin", RecordedAt: at, CorrelationID: "corr", CausationID: "cause", CommandID: "cmd", RequestID: "req"}
	if e := entries[2]; e != want {
		t.Errorf("the platform user's entry:\n got %+v\nwant %+v (company_id null)", e, want)
	}

	// The same events again: every write is at or below its document's
	// version, so the store keeps what it has.
	sub, err := s.es.Subscribe(ctx, eventstore.Start, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	b, err := sub.Next(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	writes, err := projections.AuditLogProjector().Fold(ctx, s.rs, b.Events)
	if err != nil || len(writes) != 3 {
		t.Fatalf("fold: %d writes, %v; want 3", len(writes), err)
	}
	if err := s.rs.Apply(ctx, readstore.Batch{Writes: writes}); err != nil {
		t.Fatal(err)
	}
	if again := all(); len(again) != 3 {
		t.Errorf("after a replay: %d entries, want 3", len(again))
	}
}
