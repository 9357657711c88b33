package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/resource"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Comment is a document of the ticket_comments read model: one comment.
type Comment struct {
	ID        string    `json:"id"`
	TicketID  string    `json:"ticket_id"`
	CompanyID string    `json:"company_id"`
	AuthorID  string    `json:"author_id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
	// Seq orders a ticket's comments: the stream revision of the event
	// that added it.
	Seq uint64 `json:"seq"`
}

// childPage bounds how many child documents one query loads when a parent
// is deleted.
const childPage = 500

// tombstones returns the deletions of a deleted parent's children: those
// added earlier in the batch being folded and those stored, each under
// the version key of the parent's deletion.
func tombstones(ctx context.Context, rs readstore.Store, collection, parentField, parentID, sortField string, added []string, key string) ([]readstore.Write, error) {
	stored, err := children(ctx, rs, collection, parentField, parentID, sortField)
	if err != nil {
		return nil, err
	}
	for _, d := range stored {
		added = append(added, d.ID)
	}
	out := make([]readstore.Write, len(added))
	for i, id := range added {
		out[i] = readstore.Write{Collection: collection, Doc: readstore.Doc{ID: id, Version: key}, Delete: true}
	}
	return out, nil
}

// children returns the ids and versions of the stored documents of
// collection whose parentField is parentID, loaded in pages of
// childPage sorted by sortField; their data is dropped as it comes.
func children(ctx context.Context, rs readstore.Store, collection, parentField, parentID, sortField string) ([]readstore.Doc, error) {
	var out []readstore.Doc
	for skip := 0; ; skip += childPage {
		docs, _, err := rs.Query(ctx, collection, readstore.Query{
			Where: []readstore.Condition{{Field: parentField, Op: readstore.Eq, Value: parentID}},
			Sort:  []readstore.Sort{{Field: sortField}}, Skip: skip, Limit: childPage,
		})
		if err != nil {
			return nil, fmt.Errorf("load %s of %s: %w", collection, parentID, err)
		}
		for _, d := range docs {
			out = append(out, readstore.Doc{ID: d.ID, Version: d.Version})
		}
		if len(docs) < childPage {
			return out, nil
		}
	}
}

// commentsProjector keeps one document per ticket comment. It is not a Def
// (one document per aggregate): a comment event creates its own document,
// and a ticket's deletion deletes all of its comments.
type commentsProjector struct{}

// TicketCommentsProjector builds the ticket_comments read model.
func TicketCommentsProjector() Projector { return commentsProjector{} }

// Name implements Projector.
func (commentsProjector) Name() string { return TicketComments }

// Version implements Projector.
func (commentsProjector) Version() int { return 1 }

// Collection implements Projector.
func (commentsProjector) Collection() readstore.Collection { return collectionOf(resource.Comments) }

// Document returns an empty comment, as Def.Document does.
func (commentsProjector) Document() any { return new(Comment) }

// Filter implements Projector: only the events that add or remove
// comments are read.
func (commentsProjector) Filter() eventstore.Filter {
	return eventstore.Filter{Categories: []string{ticket.Category}, Types: []string{ticket.TypeCommented, ticket.TypeDeleted}}
}

// Fold implements Projector. A comment is written once at the position of
// its event, so a replay is stopped by the store's version guard; a
// deletion tombstones every comment of the ticket, those stored and those
// added earlier in the same batch.
func (p commentsProjector) Fold(ctx context.Context, rs readstore.Store, events []eventstore.RecordedEvent) ([]readstore.Write, error) {
	return foldTicketChildren(ctx, rs, events, TicketComments, "seq", func(ev eventstore.RecordedEvent, ticketID string, e domain.Event) (string, any, bool) {
		if c, ok := e.(*ticket.Commented); ok {
			return c.CommentID, Comment{ID: c.CommentID, TicketID: ticketID, CompanyID: ev.Metadata.CompanyID,
				AuthorID: c.AuthorID, Body: c.Body, CreatedAt: ev.Metadata.RecordedAt, Seq: ev.Revision}, false
		}
		return "", nil, false
	})
}

// foldTicketChildren folds the events of a projector of one kind of a
// ticket's child records (comments, attachments). child tells what an
// event does to one: its id and its document when it adds one (written
// once, at the event's position), its id and remove when it removes one,
// "" when neither. The ticket's deletion tombstones every child, those
// stored (sorted by sortField) and those added earlier in the batch.
func foldTicketChildren(ctx context.Context, rs readstore.Store, events []eventstore.RecordedEvent, collection, sortField string,
	child func(ev eventstore.RecordedEvent, ticketID string, e domain.Event) (id string, doc any, remove bool)) ([]readstore.Write, error) {
	var writes []readstore.Write
	added := map[string][]string{} // ticket id → children added in this batch
	for _, ev := range events {
		ticketID := ev.StreamID[len(ticket.Category)+1:]
		e, err := decode(ticket.Events, ev)
		if err != nil {
			return nil, eventError(ev, err)
		}
		key := ev.Position.Key()
		if _, ok := e.(*ticket.Deleted); ok {
			gone, err := tombstones(ctx, rs, collection, "ticket_id", ticketID, sortField, added[ticketID], key)
			if err != nil {
				return nil, err
			}
			delete(added, ticketID)
			writes = append(writes, gone...)
			continue
		}
		id, doc, remove := child(ev, ticketID, e)
		switch {
		case id == "":
		case remove:
			writes = append(writes, readstore.Write{Collection: collection, Doc: readstore.Doc{ID: id, Version: key}, Delete: true})
		default:
			raw, err := json.Marshal(doc)
			if err != nil {
				return nil, fmt.Errorf("encode %s/%s: %w", collection, id, err)
			}
			writes = append(writes, readstore.Write{Collection: collection, Doc: readstore.Doc{ID: id, Version: key, Data: raw}, Created: true})
			added[ticketID] = append(added[ticketID], id)
		}
	}
	return writes, nil
}
