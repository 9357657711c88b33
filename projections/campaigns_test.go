package projections_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain"
	"agentdesk/domain/campaign"
	"agentdesk/domain/domaintest"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

func TestCampaignsReadModel(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.CampaignsProjector())
	defer stop()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	id := uuid.NewString()
	stream := campaign.Stream(id)
	get := func(res eventstore.AppendResult) projections.Campaign {
		t.Helper()
		waitForProjection(t, r, projections.Campaigns, res.Position)
		return mustDoc[projections.Campaign](t, s.rs, resource.Campaigns, id)
	}

	// Created without an agent or a window: those are null.
	got := get(appendAt(t, s.es, stream, eventstore.NoStream, "c1", at(0),
		&campaign.Created{CampaignID: id, CompanyID: "c1", Name: "Spring", Description: "sale", Channel: campaign.Email}))
	if got.ID != id || got.CompanyID != "c1" || got.Name != "Spring" || got.Description != "sale" || got.Channel != "email" ||
		got.Status != "draft" || got.AgentID != nil || got.StartsAt != nil || got.EndsAt != nil || got.ContentCount != 0 ||
		!got.CreatedAt.Equal(at(0)) || !got.UpdatedAt.Equal(at(0)) || got.Revision != 0 {
		t.Fatalf("created: got %+v", got)
	}

	// An agent and a window are set.
	starts, ends := at(60*24), at(60*24*7)
	got = get(appendAt(t, s.es, stream, eventstore.Exact(0), "c1", at(1), &campaign.Updated{
		AgentID: domaintest.Ptr("a1"), Channel: domaintest.Ptr(campaign.Blog), Window: &campaign.Window{StartsAt: &starts, EndsAt: &ends},
	}))
	if got.AgentID == nil || *got.AgentID != "a1" || got.Channel != "blog" || got.StartsAt == nil || !got.StartsAt.Equal(starts) ||
		got.EndsAt == nil || !got.EndsAt.Equal(ends) || !got.UpdatedAt.Equal(at(1)) || got.Revision != 1 {
		t.Fatalf("updated: got %+v", got)
	}

	got = get(appendAt(t, s.es, stream, eventstore.Exact(1), "c1", at(2), &campaign.StatusChanged{From: campaign.Draft, To: campaign.Scheduled}))
	if got.Status != "scheduled" || !got.UpdatedAt.Equal(at(2)) || got.Revision != 2 {
		t.Fatalf("scheduled: got %+v", got)
	}

	// Content events count the live items and move the revision (the
	// stream's), but not updated_at.
	items := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	got = get(appendAt(t, s.es, stream, eventstore.Exact(2), "c1", at(3),
		&campaign.ContentAdded{ItemID: items[0], Title: "a", AuthorID: "u1"},
		&campaign.ContentAdded{ItemID: items[1], Title: "b", AuthorID: "u1"},
		&campaign.ContentAdded{ItemID: items[2], Title: "c", AuthorID: "u1"},
		&campaign.ContentEdited{ItemID: items[0], Title: domaintest.Ptr("a2")},
		&campaign.ContentApproved{ItemID: items[0]},
		&campaign.ContentRemoved{ItemID: items[1]},
	))
	if got.ContentCount != 2 || got.Revision != 8 || !got.UpdatedAt.Equal(at(2)) || got.Status != "scheduled" {
		t.Fatalf("after content events: got content_count %d revision %d updated_at %v, want 2, 8, %v", got.ContentCount, got.Revision, got.UpdatedAt, at(2))
	}

	// Back to draft; the window and the agent are cleared.
	got = get(appendAt(t, s.es, stream, eventstore.Exact(8), "c1", at(4),
		&campaign.StatusChanged{From: campaign.Scheduled, To: campaign.Draft},
		&campaign.Updated{AgentID: domaintest.Ptr(""), Window: &campaign.Window{}},
		&campaign.ContentRemoved{ItemID: items[2]},
	))
	if got.Status != "draft" || got.AgentID != nil || got.StartsAt != nil || got.EndsAt != nil || got.ContentCount != 1 ||
		!got.UpdatedAt.Equal(at(4)) || got.Revision != 11 || got.Channel != "blog" || got.Name != "Spring" {
		t.Fatalf("window and agent cleared: got %+v", got)
	}
	raw, err := s.rs.Get(context.Background(), projections.Campaigns, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"agent_id":null`, `"starts_at":null`, `"ends_at":null`} {
		if !strings.Contains(string(raw.Data), field) {
			t.Fatalf("got %s, want %s", raw.Data, field)
		}
	}

	got = get(appendAt(t, s.es, stream, eventstore.Exact(11), "c1", at(5), &campaign.Updated{Window: &campaign.Window{StartsAt: &starts}}))
	if got.StartsAt == nil || !got.StartsAt.Equal(starts) || got.EndsAt != nil {
		t.Fatalf("window with an open end: got starts_at %v ends_at %v, want %v and null", got.StartsAt, got.EndsAt, starts)
	}

	res := appendAt(t, s.es, stream, eventstore.Exact(12), "c1", at(6), &campaign.Deleted{})
	waitForProjection(t, r, projections.Campaigns, res.Position)
	if _, ok := readDoc[projections.Campaign](t, s.rs, resource.Campaigns, id); ok {
		t.Fatal("deleted campaign still in the read model")
	}
}

// contentPage returns the items of a campaign in the read model, oldest
// first, and how many there are.
func contentPage(tb testing.TB, rs readstore.Store, campaignID string) ([]readstore.Doc, int64) {
	tb.Helper()
	docs, total, err := rs.Query(context.Background(), projections.CampaignContent, readstore.Query{
		Where: []readstore.Condition{{Field: "campaign_id", Op: readstore.Eq, Value: campaignID}},
		Sort:  []readstore.Sort{{Field: "created_at"}}, Count: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return docs, total
}

func TestCampaignContentItems(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.CampaignContentProjector())
	defer stop()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	id := uuid.NewString()
	stream := campaign.Stream(id)
	x, y, z := uuid.NewString(), uuid.NewString(), uuid.NewString()
	wait := func(res eventstore.AppendResult) {
		t.Helper()
		waitForProjection(t, r, projections.CampaignContent, res.Position)
	}
	item := func(itemID string) projections.ContentItem {
		t.Helper()
		return mustDoc[projections.ContentItem](t, s.rs, resource.CampaignContent, itemID)
	}

	wait(appendAt(t, s.es, stream, eventstore.NoStream, "c1", at(0),
		&campaign.Created{CampaignID: id, CompanyID: "c1", Name: "Spring", Channel: campaign.Email},
		&campaign.ContentAdded{ItemID: x, Title: "X", Body: "x body", AuthorID: "w1"},
		&campaign.ContentAdded{ItemID: y, Title: "Y", Body: "y body", AuthorID: "w2"},
	))
	got := item(x)
	want := projections.ContentItem{ID: x, CampaignID: id, CompanyID: "c1", Title: "X", Body: "x body", Status: "draft",
		AuthorID: "w1", CreatedAt: at(0), UpdatedAt: at(0), Revision: 1}
	if !itemsEqual(got, want) {
		t.Fatalf("added: got %+v, want %+v", got, want)
	}

	// Each item's revision is the stream revision of the last event about it.
	wait(appendAt(t, s.es, stream, eventstore.Exact(2), "c1", at(1),
		&campaign.ContentApproved{ItemID: x},
		&campaign.ContentEdited{ItemID: y, Body: domaintest.Ptr("y body 2")},
		&campaign.StatusChanged{From: campaign.Draft, To: campaign.Scheduled},
	))
	want.Status, want.UpdatedAt, want.Revision = "approved", at(1), 3
	if got := item(x); !itemsEqual(got, want) {
		t.Fatalf("approved: got %+v, want %+v", got, want)
	}
	if got := item(y); got.Title != "Y" || got.Body != "y body 2" || got.Status != "draft" || got.Revision != 4 || got.AuthorID != "w2" {
		t.Fatalf("edited: got %+v", got)
	}

	wait(appendAt(t, s.es, stream, eventstore.Exact(5), "c1", at(2),
		&campaign.StatusChanged{From: campaign.Scheduled, To: campaign.Active},
		&campaign.ContentPublished{ItemID: x},
		&campaign.ContentApproved{ItemID: y},
		&campaign.ContentAdded{ItemID: z, Title: "Z", AuthorID: "w1"},
	))
	want.Status, want.UpdatedAt, want.Revision = "published", at(2), 7
	if got := item(x); !itemsEqual(got, want) {
		t.Fatalf("published: got %+v, want %+v", got, want)
	}
	if got := item(y); got.Status != "approved" || got.Revision != 8 {
		t.Fatalf("y approved: got %+v", got)
	}

	// An edit makes an approved item a draft again.
	wait(appendAt(t, s.es, stream, eventstore.Exact(9), "c1", at(3), &campaign.ContentEdited{ItemID: y, Title: domaintest.Ptr("Y2")}))
	if got := item(y); got.Title != "Y2" || got.Body != "y body 2" || got.Status != "draft" || got.Revision != 10 || !got.UpdatedAt.Equal(at(3)) || !got.CreatedAt.Equal(at(0)) {
		t.Fatalf("y edited after approval: got %+v", got)
	}

	wait(appendAt(t, s.es, stream, eventstore.Exact(10), "c1", at(4), &campaign.ContentRemoved{ItemID: z}))
	if _, ok := readDoc[projections.ContentItem](t, s.rs, resource.CampaignContent, z); ok {
		t.Fatal("removed item still in the read model")
	}
	if _, total := contentPage(t, s.rs, id); total != 2 {
		t.Fatalf("after removing z: %d items, want 2", total)
	}

	// Deleting the campaign removes its items; an item added and edited
	// in the same batch as the deletion goes too.
	res := appendAt(t, s.es, stream, eventstore.Exact(11), "c1", at(5),
		&campaign.ContentAdded{ItemID: uuid.NewString(), Title: "late", AuthorID: "w1"},
		&campaign.ContentEdited{ItemID: x, Title: domaintest.Ptr("X2")},
		&campaign.Deleted{},
	)
	wait(res)
	if docs, total := contentPage(t, s.rs, id); total != 0 {
		t.Fatalf("after deleting the campaign: %d items left, the first %s", total, docs[0].Data)
	}
}

func itemsEqual(a, b projections.ContentItem) bool {
	return a.ID == b.ID && a.CampaignID == b.CampaignID && a.CompanyID == b.CompanyID && a.Title == b.Title && a.Body == b.Body &&
		a.Status == b.Status && a.AuthorID == b.AuthorID && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.Revision == b.Revision
}

// A campaign's deletion removes more items than one page of the lookup
// holds, those of earlier batches and those added in the same batch, and
// no item of another campaign.
func TestCampaignDeletionRemovesAllItems(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 1000, projections.CampaignContentProjector(), projections.CampaignsProjector())
	defer stop()
	now := time.Now().UTC()
	big, small := uuid.NewString(), uuid.NewString()
	const n = 520 // more than one page of the deletion's lookup (500)
	evs := []domain.Event{&campaign.Created{CampaignID: big, CompanyID: "c1", Name: "big", Channel: campaign.Web}}
	for i := range n {
		evs = append(evs, &campaign.ContentAdded{ItemID: uuid.NewString(), Title: fmt.Sprintf("item %d", i), AuthorID: "w1"})
	}
	appendAt(t, s.es, campaign.Stream(big), eventstore.NoStream, "c1", now, evs...)
	res := appendAt(t, s.es, campaign.Stream(small), eventstore.NoStream, "c1", now,
		&campaign.Created{CampaignID: small, CompanyID: "c1", Name: "small", Channel: campaign.Web},
		&campaign.ContentAdded{ItemID: uuid.NewString(), Title: "kept", AuthorID: "w1"})
	waitForProjection(t, r, projections.CampaignContent, res.Position)
	waitForProjection(t, r, projections.Campaigns, res.Position)
	if _, total := contentPage(t, s.rs, big); total != n {
		t.Fatalf("before deletion: %d items, want %d", total, n)
	}
	if c := mustDoc[projections.Campaign](t, s.rs, resource.Campaigns, big); c.ContentCount != n || c.Revision != n {
		t.Fatalf("campaign before deletion: content_count %d revision %d, want %d, %d", c.ContentCount, c.Revision, n, n)
	}

	// More items, an edit of a stored one and the deletion, in one batch.
	late := uuid.NewString()
	docs, _ := contentPage(t, s.rs, big)
	res = appendAt(t, s.es, campaign.Stream(big), eventstore.Exact(n), "c1", now,
		&campaign.ContentAdded{ItemID: late, Title: "late", AuthorID: "w1"},
		&campaign.ContentEdited{ItemID: docs[0].ID, Body: domaintest.Ptr("edited")},
		&campaign.Deleted{})
	waitForProjection(t, r, projections.CampaignContent, res.Position)
	waitForProjection(t, r, projections.Campaigns, res.Position)
	if _, total := contentPage(t, s.rs, big); total != 0 {
		t.Fatalf("after deletion: %d items left, want 0", total)
	}
	if _, ok := readDoc[projections.ContentItem](t, s.rs, resource.CampaignContent, late); ok {
		t.Fatal("the item added in the deletion's batch is still there")
	}
	if _, ok := readDoc[projections.Campaign](t, s.rs, resource.Campaigns, big); ok {
		t.Fatal("deleted campaign still in the read model")
	}
	if _, total := contentPage(t, s.rs, small); total != 1 {
		t.Fatalf("the other campaign has %d items, want 1", total)
	}
}

// A batch cut short after a deletion or a removal landed is applied again
// without error and brings nothing back, for the campaign and its items.
func TestCampaignReplayAfterDeletion(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	id, x, y := uuid.NewString(), uuid.NewString(), uuid.NewString()
	appendAt(t, s.es, campaign.Stream(id), eventstore.NoStream, "c1", time.Now().UTC(),
		&campaign.Created{CampaignID: id, CompanyID: "c1", Name: "n", Channel: campaign.Web},
		&campaign.ContentAdded{ItemID: x, Title: "x", AuthorID: "w1"},
		&campaign.ContentAdded{ItemID: y, Title: "y", AuthorID: "w1"},
		&campaign.ContentRemoved{ItemID: y},
		&campaign.ContentEdited{ItemID: x, Title: domaintest.Ptr("x2")},
		&campaign.Deleted{})
	// The content projection reads every event but the creation: from
	// index 2 on its tail starts with y's removal.
	replayTail(t, s, projections.CampaignContentProjector(), 2)
	replayTail(t, s, projections.CampaignsProjector(), 3)
	if docs, total := contentPage(t, s.rs, id); total != 0 {
		t.Fatalf("%d items came back after a replay, the first %s", total, docs[0].Data)
	}
	if _, ok := readDoc[projections.Campaign](t, s.rs, resource.Campaigns, id); ok {
		t.Fatal("deleted campaign came back after a replay")
	}
}
