package campaign

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	campaignID   = "aaaaaaaa-1111-4111-8111-111111111111"
	companyID    = "22222222-2222-4222-8222-222222222222"
	agentID      = "33333333-3333-4333-8333-333333333333"
	otherAgentID = "44444444-4444-4444-8444-444444444444"
	authorID     = "55555555-5555-4555-8555-555555555555"
	itemID       = "66666666-6666-4666-8666-666666666666"
	otherItemID  = "77777777-7777-4777-8777-777777777777"
)

var (
	now    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	starts = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ends   = time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)
	berlin = time.FixedZone("CET", 3600)
)

func created() *Created {
	return &Created{
		CampaignID: campaignID, CompanyID: companyID, Name: "Winter sale", Description: "Ten percent off.",
		AgentID: agentID, Channel: Email, StartsAt: domaintest.Ptr(starts), EndsAt: domaintest.Ptr(ends),
	}
}

func createdWith(change func(*Created)) []domain.Event {
	e := created()
	change(e)
	return []domain.Event{e}
}

func moved(from, to Status) *StatusChanged { return &StatusChanged{From: from, To: to} }

// reach returns the events that leave a new campaign in status s, the
// shortest way.
func reach(s Status) []domain.Event {
	path := map[Status][]domain.Event{
		Draft:     nil,
		Scheduled: {moved(Draft, Scheduled)},
		Active:    {moved(Draft, Scheduled), moved(Scheduled, Active)},
		Paused:    {moved(Draft, Scheduled), moved(Scheduled, Active), moved(Active, Paused)},
		Completed: {moved(Draft, Scheduled), moved(Scheduled, Active), moved(Active, Completed)},
		Archived:  {moved(Draft, Scheduled), moved(Scheduled, Active), moved(Active, Completed), moved(Completed, Archived)},
	}[s]
	return append([]domain.Event{created()}, path...)
}

func with(base []domain.Event, more ...domain.Event) []domain.Event {
	return append(slices.Clone(base), more...)
}

var deletedCampaign = []domain.Event{created(), &Deleted{}}

func validCreate() CreateCmd {
	return CreateCmd{
		CampaignID: campaignID, CompanyID: companyID, Name: "Winter sale", Description: "Ten percent off.",
		AgentID: agentID, Channel: Email, StartsAt: domaintest.Ptr(starts), EndsAt: domaintest.Ptr(ends),
	}
}

func create(change func(*CreateCmd)) func(*Campaign) ([]domain.Event, error) {
	return func(c *Campaign) ([]domain.Event, error) {
		cmd := validCreate()
		change(&cmd)
		return c.Create(cmd)
	}
}

func TestCreate(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Campaign]{
		{Name: "creates a draft", When: create(func(c *CreateCmd) {}), Want: []domain.Event{created()}},
		{
			Name: "needs neither an agent nor a window",
			When: create(func(c *CreateCmd) { c.AgentID, c.StartsAt, c.EndsAt = "", nil, nil }),
			Want: createdWith(func(e *Created) { e.AgentID, e.StartsAt, e.EndsAt = "", nil, nil }),
		},
		{
			Name: "an open end or an open start is fine",
			When: create(func(c *CreateCmd) { c.StartsAt = nil }),
			Want: createdWith(func(e *Created) { e.StartsAt = nil }),
		},
		{
			Name: "keeps times in UTC",
			When: create(func(c *CreateCmd) { c.StartsAt = domaintest.Ptr(starts.In(berlin)) }),
			Want: []domain.Event{created()},
		},
		{
			Name: "trims the name, keeps the longest texts",
			When: create(func(c *CreateCmd) {
				c.Name, c.Description = " "+strings.Repeat("é", MaxName)+" ", strings.Repeat("é", MaxDescription)
			}),
			Want: createdWith(func(e *Created) {
				e.Name, e.Description = strings.Repeat("é", MaxName), strings.Repeat("é", MaxDescription)
			}),
		},
		{Name: "rejects an empty name", When: create(func(c *CreateCmd) { c.Name = "\t" }), WantFields: []string{"name"}},
		{Name: "rejects a too long name", When: create(func(c *CreateCmd) { c.Name = strings.Repeat("x", MaxName+1) }), WantFields: []string{"name"}},
		{Name: "rejects a too long description", When: create(func(c *CreateCmd) { c.Description = strings.Repeat("x", MaxDescription+1) }), WantFields: []string{"description"}},
		{Name: "rejects a missing channel", When: create(func(c *CreateCmd) { c.Channel = "" }), WantFields: []string{"channel"}},
		{Name: "rejects an unknown channel", When: create(func(c *CreateCmd) { c.Channel = "fax" }), WantFields: []string{"channel"}},
		{Name: "rejects an agent id that is not a UUID", When: create(func(c *CreateCmd) { c.AgentID = "bot" }), WantFields: []string{"agent_id"}},
		{Name: "rejects an end before the start", When: create(func(c *CreateCmd) { c.StartsAt, c.EndsAt = &ends, &starts }), WantFields: []string{"ends_at"}},
		{Name: "rejects an end at the start", When: create(func(c *CreateCmd) { c.EndsAt = domaintest.Ptr(starts.In(berlin)) }), WantFields: []string{"ends_at"}},
		{
			Name:       "reports every invalid field at once",
			When:       create(func(c *CreateCmd) { *c = CreateCmd{CampaignID: "x", AgentID: "y", StartsAt: &ends, EndsAt: &starts} }),
			WantFields: []string{"agent_id", "channel", "company_id", "ends_at", "id", "name"},
		},
		{Name: "cannot create twice", Given: []domain.Event{created()}, When: create(func(c *CreateCmd) {}), WantErr: domain.ErrAlreadyExists},
		{Name: "cannot reuse a deleted campaign's id", Given: deletedCampaign, When: create(func(c *CreateCmd) {}), WantErr: domain.ErrAlreadyExists},
	})
}

func update(c UpdateCmd) func(*Campaign) ([]domain.Event, error) {
	return func(cp *Campaign) ([]domain.Event, error) { return cp.Update(c) }
}

// set returns a window edit to t (nil clears).
func set(t *time.Time) **time.Time { return &t }

func TestUpdate(t *testing.T) {
	later := ends.Add(24 * time.Hour)
	domaintest.Run(t, []domaintest.Spec[Campaign]{
		{
			Name:  "records a new name, trimmed, and description",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Name: domaintest.Ptr(" Xmas sale "), Description: domaintest.Ptr("")}),
			Want:  []domain.Event{&Updated{Name: domaintest.Ptr("Xmas sale"), Description: domaintest.Ptr("")}},
		},
		{
			Name:  "records a new agent and channel",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{AgentID: domaintest.Ptr(otherAgentID), Channel: domaintest.Ptr(Blog)}),
			Want:  []domain.Event{&Updated{AgentID: domaintest.Ptr(otherAgentID), Channel: domaintest.Ptr(Blog)}},
		},
		{
			Name:  "a draft's agent can be removed",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{AgentID: domaintest.Ptr("")}),
			Want:  []domain.Event{&Updated{AgentID: domaintest.Ptr("")}},
		},
		{
			Name:  "a new end records the whole window",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{EndsAt: set(&later)}),
			Want:  []domain.Event{&Updated{Window: &Window{StartsAt: &starts, EndsAt: &later}}},
		},
		{
			Name:  "clearing the end records an open window",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{EndsAt: set(nil)}),
			Want:  []domain.Event{&Updated{Window: &Window{StartsAt: &starts}}},
		},
		{
			Name:  "a draft's start can be cleared",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{StartsAt: set(nil)}),
			Want:  []domain.Event{&Updated{Window: &Window{EndsAt: &ends}}},
		},
		{
			Name:  "the same instants in another zone record nothing",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{StartsAt: set(domaintest.Ptr(starts.In(berlin))), EndsAt: set(&ends)}),
		},
		{
			Name:  "an edit to the current values records nothing",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{Name: domaintest.Ptr("Winter sale "), Description: domaintest.Ptr("Ten percent off."),
				AgentID: domaintest.Ptr(agentID), Channel: domaintest.Ptr(Email)}),
		},
		{Name: "an empty edit records nothing", Given: []domain.Event{created()}, When: update(UpdateCmd{})},
		{
			Name:  "a scheduled campaign can be edited",
			Given: reach(Scheduled),
			When:  update(UpdateCmd{AgentID: domaintest.Ptr(otherAgentID)}),
			Want:  []domain.Event{&Updated{AgentID: domaintest.Ptr(otherAgentID)}},
		},
		{
			Name:  "a paused campaign can be edited",
			Given: reach(Paused),
			When:  update(UpdateCmd{EndsAt: set(&later)}),
			Want:  []domain.Event{&Updated{Window: &Window{StartsAt: &starts, EndsAt: &later}}},
		},
		{
			Name:  "sees the state left by earlier edits",
			Given: with(reach(Draft), &Updated{Window: &Window{StartsAt: &starts}}),
			When:  update(UpdateCmd{EndsAt: set(nil)}),
		},
		{Name: "an active campaign is paused before an edit", Given: reach(Active), When: update(UpdateCmd{Name: domaintest.Ptr("x")}), WantErr: domain.ErrInvalidTransition},
		{Name: "a completed campaign cannot be edited", Given: reach(Completed), When: update(UpdateCmd{Name: domaintest.Ptr("x")}), WantErr: domain.ErrInvalidTransition},
		{Name: "an archived campaign cannot be edited", Given: reach(Archived), When: update(UpdateCmd{Channel: domaintest.Ptr(Web)}), WantErr: domain.ErrInvalidTransition},
		{Name: "an edit of an active campaign to its current values records nothing", Given: reach(Active), When: update(UpdateCmd{Name: domaintest.Ptr("Winter sale")})},
		{
			Name:       "rejects an end moved before the start",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{EndsAt: set(domaintest.Ptr(starts.Add(-time.Hour)))}),
			WantFields: []string{"ends_at"},
		},
		{
			Name:       "rejects a start moved after the end",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{StartsAt: set(&later)}),
			WantFields: []string{"ends_at"},
		},
		{
			Name:  "a start and end moved together are checked together",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{StartsAt: set(&later), EndsAt: set(domaintest.Ptr(later.Add(time.Hour)))}),
			Want:  []domain.Event{&Updated{Window: &Window{StartsAt: &later, EndsAt: domaintest.Ptr(later.Add(time.Hour))}}},
		},
		{Name: "a scheduled campaign keeps its agent", Given: reach(Scheduled), When: update(UpdateCmd{AgentID: domaintest.Ptr("")}), WantFields: []string{"agent_id"}},
		{Name: "a paused campaign keeps its start", Given: reach(Paused), When: update(UpdateCmd{StartsAt: set(nil)}), WantFields: []string{"starts_at"}},
		{
			Name:       "rejects invalid fields",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{Name: domaintest.Ptr(""), Description: domaintest.Ptr(strings.Repeat("x", MaxDescription+1)), AgentID: domaintest.Ptr("bot"), Channel: domaintest.Ptr(Channel("EMAIL"))}),
			WantFields: []string{"agent_id", "channel", "description", "name"},
		},
		{Name: "a deleted campaign is not found", Given: deletedCampaign, When: update(UpdateCmd{Name: domaintest.Ptr("x")}), WantErr: domain.ErrNotFound},
	})
}

// The whole transition table: every pair of statuses.
func TestChangeStatusTable(t *testing.T) {
	allowed := map[Status][]Status{
		Draft:     {Scheduled, Archived},
		Scheduled: {Draft, Active},
		Active:    {Paused, Completed},
		Paused:    {Active, Completed},
		Completed: {Archived},
		Archived:  {},
	}
	var specs []domaintest.Spec[Campaign]
	for _, from := range Statuses {
		for _, to := range Statuses {
			s := domaintest.Spec[Campaign]{
				Name:  string(from) + " to " + string(to),
				Given: reach(from),
				When:  func(c *Campaign) ([]domain.Event, error) { return c.ChangeStatus(to, now) },
			}
			switch {
			case from == to:
				s.Name += " records nothing"
			case slices.Contains(allowed[from], to):
				s.Want = []domain.Event{moved(from, to)}
			default:
				s.WantErr = domain.ErrInvalidTransition
			}
			specs = append(specs, s)
		}
	}
	domaintest.Run(t, specs)
}

func changeStatus(to Status, at time.Time) func(*Campaign) ([]domain.Event, error) {
	return func(c *Campaign) ([]domain.Event, error) { return c.ChangeStatus(to, at) }
}

func TestChangeStatusGuards(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Campaign]{
		{
			Name:       "scheduling needs an agent",
			Given:      createdWith(func(e *Created) { e.AgentID = "" }),
			When:       changeStatus(Scheduled, now),
			WantFields: []string{"agent_id"},
		},
		{
			Name:       "scheduling needs a start time",
			Given:      createdWith(func(e *Created) { e.StartsAt = nil }),
			When:       changeStatus(Scheduled, now),
			WantFields: []string{"starts_at"},
		},
		{
			Name:       "scheduling needs both",
			Given:      createdWith(func(e *Created) { e.AgentID, e.StartsAt, e.EndsAt = "", nil, nil }),
			When:       changeStatus(Scheduled, now),
			WantFields: []string{"agent_id", "starts_at"},
		},
		{
			Name:  "scheduling sees an agent set by an edit",
			Given: with(createdWith(func(e *Created) { e.AgentID = "" }), &Updated{AgentID: domaintest.Ptr(otherAgentID)}),
			When:  changeStatus(Scheduled, now),
			Want:  []domain.Event{moved(Draft, Scheduled)},
		},
		{
			Name:  "scheduling with an open end",
			Given: createdWith(func(e *Created) { e.EndsAt = nil }),
			When:  changeStatus(Scheduled, now),
			Want:  []domain.Event{moved(Draft, Scheduled)},
		},
		{
			Name:  "a start in the past is fine: the campaign starts at once",
			Given: []domain.Event{created()},
			When:  changeStatus(Scheduled, starts.Add(time.Hour)),
			Want:  []domain.Event{moved(Draft, Scheduled)},
		},
		{
			Name:       "scheduling a campaign whose end has passed",
			Given:      []domain.Event{created()},
			When:       changeStatus(Scheduled, ends),
			WantFields: []string{"ends_at"},
		},
		{
			Name:       "an unknown status",
			Given:      []domain.Event{created()},
			When:       changeStatus("running", now),
			WantFields: []string{"status"},
		},
		{
			Name:    "completing a campaign that never ran",
			Given:   reach(Scheduled),
			When:    changeStatus(Completed, now),
			WantErr: domain.ErrInvalidTransition,
		},
		{
			Name:  "completing a paused campaign",
			Given: reach(Paused),
			When:  changeStatus(Completed, now),
			Want:  []domain.Event{moved(Paused, Completed)},
		},
		{
			Name:  "unscheduling back to draft",
			Given: reach(Scheduled),
			When:  changeStatus(Draft, now),
			Want:  []domain.Event{moved(Scheduled, Draft)},
		},
		{
			Name:  "archiving a draft that will never run",
			Given: []domain.Event{created()},
			When:  changeStatus(Archived, now),
			Want:  []domain.Event{moved(Draft, Archived)},
		},
		{Name: "a deleted campaign is not found", Given: deletedCampaign, When: changeStatus(Scheduled, now), WantErr: domain.ErrNotFound},
	})
}

func TestTransitionErrorMessage(t *testing.T) {
	var c Campaign
	for _, e := range reach(Archived) {
		c.Apply(e)
	}
	_, err := c.ChangeStatus(Active, now)
	var te *TransitionError
	if !errors.As(err, &te) || te.From != Archived || te.To != Active || err.Error() != "cannot change campaign status from archived to active" {
		t.Fatalf("got %v, want a TransitionError from archived to active", err)
	}
}

func TestDelete(t *testing.T) {
	var specs []domaintest.Spec[Campaign]
	for _, s := range Statuses {
		specs = append(specs, domaintest.Spec[Campaign]{
			Name: "deletes a " + string(s) + " campaign", Given: reach(s), When: (*Campaign).Delete, Want: []domain.Event{&Deleted{}},
		})
	}
	specs = append(specs,
		domaintest.Spec[Campaign]{Name: "cannot delete twice", Given: deletedCampaign, When: (*Campaign).Delete, WantErr: domain.ErrNotFound},
		domaintest.Spec[Campaign]{Name: "cannot delete a campaign never created", When: (*Campaign).Delete, WantErr: domain.ErrNotFound},
	)
	domaintest.Run(t, specs)
}

func added() *ContentAdded {
	return &ContentAdded{ItemID: itemID, Title: "Subject: ten percent off", Body: "Dear customer,\n…", AuthorID: authorID}
}

func addContent(change func(*AddContentCmd)) func(*Campaign) ([]domain.Event, error) {
	return func(c *Campaign) ([]domain.Event, error) {
		cmd := AddContentCmd{ItemID: itemID, AuthorID: authorID, Title: "Subject: ten percent off", Body: "Dear customer,\n…"}
		change(&cmd)
		return c.AddContent(cmd)
	}
}

func TestAddContent(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Campaign]{
		{Name: "adds a draft item", Given: []domain.Event{created()}, When: addContent(func(*AddContentCmd) {}), Want: []domain.Event{added()}},
		{Name: "trims the title", Given: []domain.Event{created()}, When: addContent(func(c *AddContentCmd) { c.Title = " Subject: ten percent off\n" }), Want: []domain.Event{added()}},
		{
			Name:  "an empty body and the longest texts are fine",
			Given: []domain.Event{created()},
			When: addContent(func(c *AddContentCmd) {
				c.Title, c.Body = strings.Repeat("é", MaxItemTitle), strings.Repeat("é", MaxItemBody)
			}),
			Want: []domain.Event{&ContentAdded{ItemID: itemID, Title: strings.Repeat("é", MaxItemTitle), Body: strings.Repeat("é", MaxItemBody), AuthorID: authorID}},
		},
		{Name: "adds to a scheduled campaign", Given: reach(Scheduled), When: addContent(func(*AddContentCmd) {}), Want: []domain.Event{added()}},
		{Name: "adds to an active campaign", Given: reach(Active), When: addContent(func(*AddContentCmd) {}), Want: []domain.Event{added()}},
		{Name: "adds to a paused campaign", Given: reach(Paused), When: addContent(func(*AddContentCmd) {}), Want: []domain.Event{added()}},
		{Name: "a completed campaign takes no content", Given: reach(Completed), When: addContent(func(*AddContentCmd) {}), WantErr: domain.ErrInvalidTransition},
		{Name: "an archived campaign takes no content", Given: reach(Archived), When: addContent(func(*AddContentCmd) {}), WantErr: domain.ErrInvalidTransition},
		{Name: "rejects an empty title", Given: []domain.Event{created()}, When: addContent(func(c *AddContentCmd) { c.Title = " " }), WantFields: []string{"title"}},
		{Name: "rejects a too long title", Given: []domain.Event{created()}, When: addContent(func(c *AddContentCmd) { c.Title = strings.Repeat("x", MaxItemTitle+1) }), WantFields: []string{"title"}},
		{Name: "rejects a too long body", Given: []domain.Event{created()}, When: addContent(func(c *AddContentCmd) { c.Body = strings.Repeat("x", MaxItemBody+1) }), WantFields: []string{"body"}},
		{Name: "rejects an item id that is not a UUID", Given: []domain.Event{created()}, When: addContent(func(c *AddContentCmd) { c.ItemID = "item-1" }), WantFields: []string{"id"}},
		{Name: "cannot add an item twice", Given: []domain.Event{created(), added()}, When: addContent(func(*AddContentCmd) {}), WantErr: domain.ErrAlreadyExists},
		{Name: "cannot reuse a removed item's id", Given: []domain.Event{created(), added(), &ContentRemoved{ItemID: itemID}}, When: addContent(func(*AddContentCmd) {}), WantErr: domain.ErrAlreadyExists},
		{Name: "a deleted campaign is not found", Given: deletedCampaign, When: addContent(func(*AddContentCmd) {}), WantErr: domain.ErrNotFound},
	})
}

func editContent(c EditContentCmd) func(*Campaign) ([]domain.Event, error) {
	return func(cp *Campaign) ([]domain.Event, error) { return cp.EditContent(c) }
}

func TestEditContent(t *testing.T) {
	draft := []domain.Event{created(), added()}
	approved := with(draft, &ContentApproved{ItemID: itemID})
	published := with(reach(Active), added(), &ContentApproved{ItemID: itemID}, &ContentPublished{ItemID: itemID})
	domaintest.Run(t, []domaintest.Spec[Campaign]{
		{
			Name:  "records a new title, trimmed",
			Given: draft,
			When:  editContent(EditContentCmd{ItemID: itemID, Title: domaintest.Ptr(" New subject ")}),
			Want:  []domain.Event{&ContentEdited{ItemID: itemID, Title: domaintest.Ptr("New subject")}},
		},
		{
			Name:  "records only the fields that change",
			Given: draft,
			When:  editContent(EditContentCmd{ItemID: itemID, Title: domaintest.Ptr(added().Title), Body: domaintest.Ptr("")}),
			Want:  []domain.Event{&ContentEdited{ItemID: itemID, Body: domaintest.Ptr("")}},
		},
		{
			Name:  "an edit to the current values records nothing",
			Given: draft,
			When:  editContent(EditContentCmd{ItemID: itemID, Title: domaintest.Ptr(added().Title + " "), Body: domaintest.Ptr(added().Body)}),
		},
		{
			Name:  "sees the state left by earlier edits",
			Given: with(draft, &ContentEdited{ItemID: itemID, Body: domaintest.Ptr("v2")}),
			When:  editContent(EditContentCmd{ItemID: itemID, Body: domaintest.Ptr("v2")}),
		},
		{
			Name:  "an approved item can be edited (and is a draft again)",
			Given: approved,
			When:  editContent(EditContentCmd{ItemID: itemID, Body: domaintest.Ptr("v2")}),
			Want:  []domain.Event{&ContentEdited{ItemID: itemID, Body: domaintest.Ptr("v2")}},
		},
		{Name: "a published item is not edited", Given: published, When: editContent(EditContentCmd{ItemID: itemID, Body: domaintest.Ptr("v2")}), WantErr: domain.ErrInvalidTransition},
		{Name: "a published item edited to its current values records nothing", Given: published, When: editContent(EditContentCmd{ItemID: itemID, Body: domaintest.Ptr(added().Body)})},
		{Name: "rejects an empty title", Given: draft, When: editContent(EditContentCmd{ItemID: itemID, Title: domaintest.Ptr("")}), WantFields: []string{"title"}},
		{Name: "rejects a too long body", Given: draft, When: editContent(EditContentCmd{ItemID: itemID, Body: domaintest.Ptr(strings.Repeat("x", MaxItemBody+1))}), WantFields: []string{"body"}},
		{Name: "an unknown item is not found", Given: draft, When: editContent(EditContentCmd{ItemID: otherItemID, Body: domaintest.Ptr("x")}), WantErr: domain.ErrNotFound},
		{Name: "a removed item is not found", Given: with(draft, &ContentRemoved{ItemID: itemID}), When: editContent(EditContentCmd{ItemID: itemID, Body: domaintest.Ptr("x")}), WantErr: domain.ErrNotFound},
		{Name: "content of a completed campaign is not edited", Given: with(reach(Active), added(), moved(Active, Completed)), When: editContent(EditContentCmd{ItemID: itemID, Body: domaintest.Ptr("x")}), WantErr: domain.ErrInvalidTransition},
	})
}

func approve(id string) func(*Campaign) ([]domain.Event, error) {
	return func(c *Campaign) ([]domain.Event, error) { return c.ApproveContent(id) }
}

func publish(id string) func(*Campaign) ([]domain.Event, error) {
	return func(c *Campaign) ([]domain.Event, error) { return c.PublishContent(id) }
}

func remove(id string) func(*Campaign) ([]domain.Event, error) {
	return func(c *Campaign) ([]domain.Event, error) { return c.RemoveContent(id) }
}

func TestContentLifecycle(t *testing.T) {
	active := with(reach(Active), added())
	approvedActive := with(active, &ContentApproved{ItemID: itemID})
	publishedActive := with(approvedActive, &ContentPublished{ItemID: itemID})
	domaintest.Run(t, []domaintest.Spec[Campaign]{
		{Name: "approves a draft item", Given: []domain.Event{created(), added()}, When: approve(itemID), Want: []domain.Event{&ContentApproved{ItemID: itemID}}},
		{Name: "approving an approved item records nothing", Given: approvedActive, When: approve(itemID)},
		{Name: "approving a published item records nothing", Given: publishedActive, When: approve(itemID)},
		{Name: "an edited item needs approving again", Given: with(approvedActive, &ContentEdited{ItemID: itemID, Body: domaintest.Ptr("v2")}), When: approve(itemID), Want: []domain.Event{&ContentApproved{ItemID: itemID}}},
		{Name: "approving an unknown item", Given: active, When: approve(otherItemID), WantErr: domain.ErrNotFound},

		{Name: "publishes an approved item of an active campaign", Given: approvedActive, When: publish(itemID), Want: []domain.Event{&ContentPublished{ItemID: itemID}}},
		{Name: "publishing needs an approval", Given: active, When: publish(itemID), WantErr: domain.ErrInvalidTransition},
		{Name: "an edited item is not published before a new approval", Given: with(approvedActive, &ContentEdited{ItemID: itemID, Title: domaintest.Ptr("v2")}), When: publish(itemID), WantErr: domain.ErrInvalidTransition},
		{Name: "publishing a published item records nothing", Given: publishedActive, When: publish(itemID)},
		{Name: "publishing needs an active campaign", Given: []domain.Event{created(), added(), &ContentApproved{ItemID: itemID}}, When: publish(itemID), WantErr: domain.ErrInvalidTransition},
		{Name: "a paused campaign publishes nothing", Given: with(approvedActive, moved(Active, Paused)), When: publish(itemID), WantErr: domain.ErrInvalidTransition},
		{Name: "publishing a removed item", Given: with(approvedActive, &ContentRemoved{ItemID: itemID}), When: publish(itemID), WantErr: domain.ErrNotFound},

		{Name: "removes a draft item", Given: active, When: remove(itemID), Want: []domain.Event{&ContentRemoved{ItemID: itemID}}},
		{Name: "removes a published item", Given: publishedActive, When: remove(itemID), Want: []domain.Event{&ContentRemoved{ItemID: itemID}}},
		{Name: "cannot remove twice", Given: with(active, &ContentRemoved{ItemID: itemID}), When: remove(itemID), WantErr: domain.ErrNotFound},
		{Name: "removing an unknown item", Given: active, When: remove(otherItemID), WantErr: domain.ErrNotFound},
		{Name: "content of an archived campaign stays", Given: with(reach(Draft), added(), moved(Draft, Archived)), When: remove(itemID), WantErr: domain.ErrInvalidTransition},
		{Name: "content of a deleted campaign is not found", Given: with(active, &Deleted{}), When: approve(itemID), WantErr: domain.ErrNotFound},
	})
}

// Each item remembers the stream revision of its last change, for
// optimistic concurrency on the item alone.
func TestItemState(t *testing.T) {
	c := domaintest.Replay[Campaign]([]domain.Event{
		created(), // revision 0
		added(),   // 1
		&ContentAdded{ItemID: otherItemID, Title: "Other"},             // 2
		&ContentApproved{ItemID: itemID},                               // 3
		&ContentEdited{ItemID: otherItemID, Title: domaintest.Ptr("")}, // 4
		&ContentRemoved{ItemID: otherItemID},                           // 5
	})
	it, ok := c.Item(itemID)
	if !ok || it.Status != ItemApproved || it.Revision != 3 {
		t.Fatalf("got %+v, %v; want approved at revision 3", it, ok)
	}
	if _, ok := c.Item(otherItemID); ok || !c.KnowsItem(otherItemID) || c.ItemCount() != 1 {
		t.Fatalf("got removed item live=%v known=%v count=%d, want not live, known, 1 live", ok, c.KnowsItem(otherItemID), c.ItemCount())
	}
	if c.Version != 6 || c.Status != Draft || c.Ref() != (domain.CampaignRef{CompanyID: companyID}) {
		t.Fatalf("got version %d status %s ref %+v", c.Version, c.Status, c.Ref())
	}
}

// A state is copied by every command that starts from the cache; copies
// applying events at the same time must not write to a map they share
// (run with -race; a shared write would also crash the map).
func TestCopiesDoNotShareItems(t *testing.T) {
	base := domaintest.Replay[Campaign]([]domain.Event{created(), added()})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := base
			for j := range 50 {
				c.Apply(&ContentApproved{ItemID: itemID})
				c.Apply(&ContentAdded{ItemID: domainID(i, j), Title: "t"})
				if _, ok := base.Item(itemID); !ok {
					t.Error("got base item gone, want it there")
				}
			}
			if c.ItemCount() != 51 {
				t.Errorf("got %d items in copy, want 51", c.ItemCount())
			}
		}()
	}
	wg.Wait()
	if it, _ := base.Item(itemID); it.Status != ItemDraft || base.ItemCount() != 1 {
		t.Fatalf("got base item %+v and %d items, want the draft alone: copies wrote to it", it, base.ItemCount())
	}
}

func domainID(i, j int) string { return fmt.Sprintf("88888888-8888-4888-8888-%06d%06d", i, j) }

func TestValid(t *testing.T) {
	for _, s := range Statuses {
		if !s.Valid() {
			t.Errorf("got Status(%q).Valid() false, want true", s)
		}
	}
	for _, ch := range []Channel{Email, Social, Blog, Web} {
		if !ch.Valid() {
			t.Errorf("got Channel(%q).Valid() false, want true", ch)
		}
	}
	if Status("Draft").Valid() || Channel("").Valid() {
		t.Error("got an unknown status or channel valid, want invalid")
	}
	for _, c := range []struct {
		s                      Status
		editable, takesContent bool
	}{
		{Draft, true, true}, {Scheduled, true, true}, {Active, false, true},
		{Paused, true, true}, {Completed, false, false}, {Archived, false, false},
	} {
		if Editable(c.s) != c.editable || TakesContent(c.s) != c.takesContent {
			t.Errorf("%s: got editable %v, takes content %v; want %v, %v", c.s, Editable(c.s), TakesContent(c.s), c.editable, c.takesContent)
		}
	}
}
