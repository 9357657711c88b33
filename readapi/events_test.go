package readapi

import (
	"testing"
	"time"

	decl "agentdesk/domain/resource"
	"agentdesk/readstore"
)

// TestFeedRing checks what the feed keeps for reconnects: the last
// changes up to its size, a resume from before them reported as lost, and
// changes published while nobody listened for a while counted as lost
// rather than kept.
func TestFeedRing(t *testing.T) {
	a := &API{feed: newFeed(4)}
	a.feed.open = 1 // a stream listens
	tickets := decl.Tickets.CollectionName()
	for i := range 10 {
		a.Publish([]readstore.Write{{Collection: tickets, Doc: readstore.Doc{ID: string(rune('a' + i)), Data: []byte(`{"company_id":"c"}`)}, Created: true}})
	}
	a.Publish([]readstore.Write{{Collection: "not_a_resource", Doc: readstore.Doc{ID: "x"}}})
	if got := a.feed.head(); got != 10 {
		t.Fatalf("head %d, want 10 (a write outside every resource is not kept)", got)
	}
	if _, lost, _, _ := a.feed.since(5); !lost {
		t.Error("a resume from change 5 with changes 7–10 kept: want lost")
	}
	got, lost, last, _ := a.feed.since(7)
	if lost || last != 10 || len(got) != 3 || got[0].id != "h" || got[2].id != "j" || got[0].kind != "created" || got[0].fields.get("company_id") != "c" {
		t.Errorf("since 7: %+v lost=%v last=%d, want h, i, j", got, lost, last)
	}

	// Nobody listening for longer than feedIdle: changes are counted, not
	// kept, and a resume from before them is lost.
	a.feed.open, a.feed.idleSince = 0, time.Now().Add(-2*feedIdle)
	a.Publish([]readstore.Write{{Collection: tickets, Doc: readstore.Doc{ID: "k", Data: []byte(`{}`)}}})
	if _, lost, last, _ := a.feed.since(10); !lost || last != 11 {
		t.Errorf("after an idle publish: lost=%v last=%d, want lost at 11", lost, last)
	}
	if got, lost, _, _ := a.feed.since(11); lost || len(got) != 0 {
		t.Errorf("since 11: %v lost=%v, want nothing and nothing lost", got, lost)
	}

	// A rebuilt read model stands for every record of its resource.
	a.feed.open = 1
	a.feed.rebuilt(tickets)
	a.feed.rebuilt("audit_log")
	if got, lost, last, _ := a.feed.since(11); lost || last != 12 || len(got) != 1 || !got[0].all || got[0].res.name != "tickets" {
		t.Errorf("after a rebuild: %+v lost=%v last=%d, want one change of every ticket", got, lost, last)
	}
}
