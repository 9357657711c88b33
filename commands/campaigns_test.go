package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/campaign"
)

var (
	campaignStarts = fixedNow.Add(24 * time.Hour)
	campaignEnds   = fixedNow.Add(30 * 24 * time.Hour)
)

func newCampaign(t *testing.T, app *commands.App, m commands.Meta, agentID string) string {
	t.Helper()
	res, err := app.CreateCampaign(context.Background(), m, commands.CreateCampaign{
		Name: "Winter sale", AgentID: agentID, Channel: campaign.Email, StartsAt: &campaignStarts, EndsAt: &campaignEnds,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

func setStatus(t *testing.T, app *commands.App, m commands.Meta, id string, to ...campaign.Status) {
	t.Helper()
	for _, s := range to {
		if _, err := app.ChangeCampaignStatus(context.Background(), m, id, commands.ChangeCampaignStatus{To: s}); err != nil {
			t.Fatalf("to %s: %v", s, err)
		}
	}
}

// An agent of another company, a deleted agent or no agent at all is a
// validation error on agent_id, on create, update and scheduling.
func TestCampaignAgentReference(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	company, other := uuid.NewString(), uuid.NewString()
	m := adminOf(company)
	own := newAgent(t, app, m)
	foreign := newAgent(t, app, adminOf(other))
	gone := newAgent(t, app, m)
	if _, err := app.DeleteAgent(ctx, m, gone, nil); err != nil {
		t.Fatal(err)
	}

	for name, agentID := range map[string]string{"another company's agent": foreign, "a deleted agent": gone, "an agent never created": uuid.NewString()} {
		t.Run(name, func(t *testing.T) {
			_, err := app.CreateCampaign(ctx, m, commands.CreateCampaign{Name: "x", AgentID: agentID, Channel: campaign.Web})
			wantFieldError(t, err, "agent_id", "no such agent in this company")
			id := newCampaign(t, app, m, "")
			_, err = app.UpdateCampaign(ctx, m, id, commands.UpdateCampaign{UpdateCmd: campaign.UpdateCmd{AgentID: &agentID}})
			wantFieldError(t, err, "agent_id", "no such agent in this company")
		})
	}
	t.Run("every problem at once before the agent lookup", func(t *testing.T) {
		_, err := app.CreateCampaign(ctx, m, commands.CreateCampaign{AgentID: foreign})
		var ve *domain.ValidationError
		if !errors.As(err, &ve) || ve.Fields["name"] == "" || ve.Fields["channel"] == "" {
			t.Fatalf("got %v, want problems on name and channel", err)
		}
	})
	t.Run("an agent deleted after it was chosen stops the scheduling", func(t *testing.T) {
		doomed := newAgent(t, app, m)
		id := newCampaign(t, app, m, doomed)
		if _, err := app.DeleteAgent(ctx, m, doomed, nil); err != nil {
			t.Fatal(err)
		}
		_, err := app.ChangeCampaignStatus(ctx, m, id, commands.ChangeCampaignStatus{To: campaign.Scheduled})
		wantFieldError(t, err, "agent_id", "no such agent in this company")
	})
	t.Run("scheduling without an agent", func(t *testing.T) {
		id := newCampaign(t, app, m, "")
		_, err := app.ChangeCampaignStatus(ctx, m, id, commands.ChangeCampaignStatus{To: campaign.Scheduled})
		wantFieldError(t, err, "agent_id", "is required to schedule")
	})
	t.Run("own agent", func(t *testing.T) {
		id := newCampaign(t, app, m, own)
		setStatus(t, app, m, id, campaign.Scheduled, campaign.Active)
	})
}

func TestCampaignRoles(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	admin := adminOf(company)
	agentID := newAgent(t, app, admin)
	id := newCampaign(t, app, admin, agentID)
	item, err := app.AddCampaignContent(ctx, admin, id, commands.AddCampaignContent{Title: "Subject"})
	if err != nil {
		t.Fatal(err)
	}
	title := "New subject"
	for _, c := range []struct {
		name string
		role domain.Role
		do   func(m commands.Meta) error
		want error
	}{
		{"writer may not create", domain.ContentWriter, func(m commands.Meta) error {
			_, err := app.CreateCampaign(ctx, m, commands.CreateCampaign{Name: "x", Channel: campaign.Blog})
			return err
		}, domain.ErrForbidden},
		{"client may not create", domain.Client, func(m commands.Meta) error {
			_, err := app.CreateCampaign(ctx, m, commands.CreateCampaign{Name: "x", Channel: campaign.Blog})
			return err
		}, domain.ErrForbidden},
		{"manager creates", domain.ContentManager, func(m commands.Meta) error {
			_, err := app.CreateCampaign(ctx, m, commands.CreateCampaign{Name: "x", Channel: campaign.Blog})
			return err
		}, nil},
		{"writer may not edit the campaign", domain.ContentWriter, func(m commands.Meta) error {
			_, err := app.UpdateCampaign(ctx, m, id, commands.UpdateCampaign{UpdateCmd: campaign.UpdateCmd{Name: &title}})
			return err
		}, domain.ErrForbidden},
		{"writer may not schedule", domain.ContentWriter, func(m commands.Meta) error {
			_, err := app.ChangeCampaignStatus(ctx, m, id, commands.ChangeCampaignStatus{To: campaign.Scheduled})
			return err
		}, domain.ErrForbidden},
		{"writer adds content", domain.ContentWriter, func(m commands.Meta) error {
			_, err := app.AddCampaignContent(ctx, m, id, commands.AddCampaignContent{Title: "By a writer"})
			return err
		}, nil},
		{"writer edits content", domain.ContentWriter, func(m commands.Meta) error {
			_, err := app.EditCampaignContent(ctx, m, id, item.ID, commands.EditCampaignContent{Title: &title})
			return err
		}, nil},
		{"writer may not approve", domain.ContentWriter, func(m commands.Meta) error {
			_, err := app.ApproveCampaignContent(ctx, m, id, item.ID, nil)
			return err
		}, domain.ErrForbidden},
		{"writer may not publish", domain.ContentWriter, func(m commands.Meta) error {
			_, err := app.PublishCampaignContent(ctx, m, id, item.ID, nil)
			return err
		}, domain.ErrForbidden},
		{"writer may not remove", domain.ContentWriter, func(m commands.Meta) error {
			_, err := app.RemoveCampaignContent(ctx, m, id, item.ID, nil)
			return err
		}, domain.ErrForbidden},
		{"writer may not delete", domain.ContentWriter, func(m commands.Meta) error {
			_, err := app.DeleteCampaign(ctx, m, id, nil)
			return err
		}, domain.ErrForbidden},
		{"client sees no campaign", domain.Client, func(m commands.Meta) error {
			_, err := app.AddCampaignContent(ctx, m, id, commands.AddCampaignContent{Title: "x"})
			return err
		}, domain.ErrNotFound},
		{"manager approves", domain.ContentManager, func(m commands.Meta) error {
			_, err := app.ApproveCampaignContent(ctx, m, id, item.ID, nil)
			return err
		}, nil},
		{"manager schedules", domain.ContentManager, func(m commands.Meta) error {
			_, err := app.ChangeCampaignStatus(ctx, m, id, commands.ChangeCampaignStatus{To: campaign.Scheduled})
			return err
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.do(member(company, c.role))
			if (c.want == nil && err != nil) || !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	other := adminOf(uuid.NewString())
	if _, err := app.DeleteCampaign(ctx, other, id, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("admin of another company: got %v, want not found", err)
	}
	if _, err := app.ApproveCampaignContent(ctx, admin, id, "item-1", nil); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("malformed item id: got %v, want not found", err)
	}
}

// The whole way of a campaign and a content item, as stored.
func TestCampaignLifecycle(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	m := member(uuid.NewString(), domain.ContentManager)
	id := newCampaign(t, app, m, newAgent(t, app, m))
	item, err := app.AddCampaignContent(ctx, m, id, commands.AddCampaignContent{Title: "Subject", Body: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	if item.ID == id || !domain.ValidID(item.ID) {
		t.Fatalf("got result id %s, want the new item's id", item.ID)
	}
	if _, err := app.ApproveCampaignContent(ctx, m, id, item.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := app.PublishCampaignContent(ctx, m, id, item.ID, nil); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("publish in a draft campaign: got %v, want an invalid transition", err)
	}
	setStatus(t, app, m, id, campaign.Scheduled, campaign.Active)
	if _, err := app.PublishCampaignContent(ctx, m, id, item.ID, nil); err != nil {
		t.Fatal(err)
	}
	body := "Changed"
	if _, err := app.EditCampaignContent(ctx, m, id, item.ID, commands.EditCampaignContent{Body: &body}); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("edit a published item: got %v, want an invalid transition", err)
	}
	if _, err := app.ChangeCampaignStatus(ctx, m, id, commands.ChangeCampaignStatus{To: campaign.Archived}); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("archive an active campaign: got %v, want an invalid transition", err)
	}
	setStatus(t, app, m, id, campaign.Paused, campaign.Completed, campaign.Archived)
	if _, err := app.RemoveCampaignContent(ctx, m, id, item.ID, nil); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("remove content of an archived campaign: got %v, want an invalid transition", err)
	}
	if _, err := app.DeleteCampaign(ctx, m, id, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{
		campaign.TypeCreated, campaign.TypeContentAdded, campaign.TypeContentApproved,
		campaign.TypeStatusChanged, campaign.TypeStatusChanged, campaign.TypeContentPublished,
		campaign.TypeStatusChanged, campaign.TypeStatusChanged, campaign.TypeStatusChanged, campaign.TypeDeleted,
	}
	evs := readStream(t, es, campaign.Stream(id))
	got := make([]string, len(evs))
	for i, e := range evs {
		got[i] = e.Type
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// A campaign's expected revision is the stream's; a content item's is the
// revision of the last event about that item, so work on other items does
// not make it stale.
func TestCampaignRevisionConflict(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	id := newCampaign(t, app, m, "") // revision 0
	rev := func(n uint64) *uint64 { return &n }
	name := "Renamed"
	if _, err := app.UpdateCampaign(ctx, m, id, commands.UpdateCampaign{UpdateCmd: campaign.UpdateCmd{Name: &name}, ExpectedRevision: rev(0)}); err != nil {
		t.Fatal(err) // revision 1
	}
	name = "Again"
	_, err := app.UpdateCampaign(ctx, m, id, commands.UpdateCampaign{UpdateCmd: campaign.UpdateCmd{Name: &name}, ExpectedRevision: rev(0)})
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "revision 1, you sent 0") {
		t.Fatalf("stale campaign revision: got %v, want a conflict", err)
	}
	if _, err := app.ChangeCampaignStatus(ctx, m, id, commands.ChangeCampaignStatus{To: campaign.Archived, ExpectedRevision: rev(0)}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("stale status change: got %v, want a conflict", err)
	}
	a, err := app.AddCampaignContent(ctx, m, id, commands.AddCampaignContent{Title: "A"}) // revision 2
	if err != nil || a.Revision != 2 {
		t.Fatalf("got %+v, %v; want revision 2", a, err)
	}
	b, err := app.AddCampaignContent(ctx, m, id, commands.AddCampaignContent{Title: "B"}) // 3
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.ApproveCampaignContent(ctx, m, id, b.ID, rev(3)); err != nil { // 4
		t.Fatalf("approve B at its revision: %v", err)
	}
	title := "A2"
	if _, err := app.EditCampaignContent(ctx, m, id, a.ID, commands.EditCampaignContent{Title: &title, ExpectedRevision: rev(2)}); err != nil { // 5
		t.Fatalf("edit A at its revision while B moved on: %v", err)
	}
	title = "A3"
	_, err = app.EditCampaignContent(ctx, m, id, a.ID, commands.EditCampaignContent{Title: &title, ExpectedRevision: rev(2)})
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "revision 5, you sent 2") {
		t.Fatalf("stale item revision: got %v, want a conflict", err)
	}
	if _, err := app.RemoveCampaignContent(ctx, m, id, b.ID, rev(3)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("remove B at a stale revision: got %v, want a conflict", err)
	}
	if _, err := app.DeleteCampaign(ctx, m, id, rev(5)); err != nil {
		t.Fatalf("delete at the current revision: %v", err)
	}
	if n := len(readStream(t, es, campaign.Stream(id))); n != 7 {
		t.Fatalf("got %d events, want 7", n)
	}
}

// A content item added again under the same command id (a retry) is
// there already: nothing new is written and the result names it.
func TestCampaignContentRetry(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	id := newCampaign(t, app, m, "")
	m.CommandID = commands.IdempotencyKey{Scope: m.Principal.CompanyID, Key: "add-1"}.CommandID()
	first, err := app.AddCampaignContent(ctx, m, id, commands.AddCampaignContent{Title: "Once"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := app.AddCampaignContent(ctx, m, id, commands.AddCampaignContent{Title: "Once"})
	if err != nil || again.ID != first.ID || again.Changed {
		t.Fatalf("retry: got %+v, %v; want %s unchanged", again, err, first.ID)
	}
	if n := len(readStream(t, es, campaign.Stream(id))); n != 2 {
		t.Fatalf("got %d events, want 2", n)
	}
}

// Scheduling refuses a campaign whose end has passed, by the App's clock.
func TestCampaignScheduleUsesClock(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	past, end := fixedNow.Add(-48*time.Hour), fixedNow.Add(-time.Hour)
	res, err := app.CreateCampaign(ctx, m, commands.CreateCampaign{Name: "Late", AgentID: newAgent(t, app, m), Channel: campaign.Social, StartsAt: &past, EndsAt: &end})
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.ChangeCampaignStatus(ctx, m, res.ID, commands.ChangeCampaignStatus{To: campaign.Scheduled})
	wantFieldError(t, err, "ends_at", "has passed")
}

// A content item's record revision, sent as Meta.IfRevision (PUT or
// If-Match), is read as the item's revision, not the campaign stream's.
func TestCampaignContentIfRevision(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	id := newCampaign(t, app, m, "")
	a, err := app.AddCampaignContent(ctx, m, id, commands.AddCampaignContent{Title: "A"}) // revision 1
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.AddCampaignContent(ctx, m, id, commands.AddCampaignContent{Title: "B"}); err != nil { // 2
		t.Fatal(err)
	}
	put := m
	put.IfRevision = &a.Revision
	title := "A2"
	if _, err := app.EditCampaignContent(ctx, put, id, a.ID, commands.EditCampaignContent{Title: &title, Fixed: commands.Fixed{"campaign_id": &id}}); err != nil {
		t.Fatalf("edit A at its own revision: %v", err)
	}
	title = "A3"
	if _, err := app.EditCampaignContent(ctx, put, id, a.ID, commands.EditCampaignContent{Title: &title}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("edit A at its old revision: got %v, want a conflict", err)
	}
	other := uuid.NewString()
	_, err = app.EditCampaignContent(ctx, m, id, a.ID, commands.EditCampaignContent{Title: &title, Fixed: commands.Fixed{"campaign_id": &other}})
	wantFieldError(t, err, "campaign_id", "cannot be changed")
	company := uuid.NewString()
	_, err = app.UpdateCampaign(ctx, m, id, commands.UpdateCampaign{UpdateCmd: campaign.UpdateCmd{Name: &title}, Fixed: commands.Fixed{"company_id": &company}})
	wantFieldError(t, err, "company_id", "cannot be changed")
}
