package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// Comments are documents of their own, paged by the store, and a ticket's
// deletion removes them all, whether they were projected in an earlier
// batch or the same one.
func TestCommentsAreChildDocuments(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	ctx := context.Background()
	ids := []string{uuid.NewString(), uuid.NewString()}
	for _, id := range ids {
		appendTicket(t, s.es, id, eventstore.NoStream, &ticket.Opened{TicketID: id, CompanyID: "c1", Title: "t", Priority: ticket.Normal, RequesterID: "u1"})
	}
	const n = 30
	var res eventstore.AppendResult
	for i := range n {
		for _, id := range ids {
			res = appendTicket(t, s.es, id, eventstore.Exact(uint64(i)), &ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: fmt.Sprintf("comment %d", i)})
		}
	}
	r, stop := startRunner(t, s, projections.TicketCommentsProjector())
	defer stop()
	waitForProjection(t, r, projections.TicketComments, res.Position)

	page := func(id string, skip, limit int) ([]projections.Comment, int64) {
		t.Helper()
		docs, total, err := s.rs.Query(ctx, projections.TicketComments, readstore.Query{
			Where: []readstore.Condition{{Field: "ticket_id", Op: readstore.Eq, Value: id}},
			Sort:  []readstore.Sort{{Field: "seq"}}, Skip: skip, Limit: limit, Count: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]projections.Comment, len(docs))
		for i, d := range docs {
			if err := json.Unmarshal(d.Data, &out[i]); err != nil {
				t.Fatal(err)
			}
		}
		return out, total
	}
	got, total := page(ids[0], 10, 5)
	if total != n || len(got) != 5 || got[0].Body != "comment 10" || got[4].Body != "comment 14" || got[0].TicketID != ids[0] || got[0].CompanyID != "c1" {
		t.Fatalf("page 10..14 of %s: total %d, got %+v", ids[0], total, got)
	}

	// Deleting one ticket removes its comments and no other's.
	res = appendTicket(t, s.es, ids[0], eventstore.Exact(n), &ticket.Deleted{})
	waitForProjection(t, r, projections.TicketComments, res.Position)
	if _, total := page(ids[0], 0, 0); total != 0 {
		t.Fatalf("after deleting the ticket: %d comments left", total)
	}
	if _, total := page(ids[1], 0, 0); total != n {
		t.Fatalf("the other ticket has %d comments, want %d", total, n)
	}

	// A comment and the deletion in one batch.
	res = appendTicket(t, s.es, ids[1], eventstore.Exact(n),
		&ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: "last"}, &ticket.Deleted{})
	waitForProjection(t, r, projections.TicketComments, res.Position)
	if _, total := page(ids[1], 0, 0); total != 0 {
		t.Fatalf("after a comment and the deletion in one batch: %d comments left", total)
	}
}
