package ticket

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	ticketID     = "aaaaaaaa-1111-4111-8111-111111111111"
	companyID    = "22222222-2222-4222-8222-222222222222"
	requesterID  = "33333333-3333-4333-8333-333333333333"
	agentID      = "dddddddd-4444-4444-8444-444444444444"
	otherAgentID = "55555555-5555-4555-8555-555555555555"
	commentID    = "66666666-6666-4666-8666-666666666666"
)

func opened() *Opened {
	return &Opened{
		TicketID: ticketID, CompanyID: companyID, Title: "Printer on fire",
		Description: "Third floor,\nnext to the kitchen.", Priority: Normal,
		RequesterID: requesterID, Tags: []string{"hardware"},
	}
}

func moved(from, to Status) *StatusChanged { return &StatusChanged{From: from, To: to} }

// reach returns the events that leave a new ticket in status s.
func reach(s Status) []domain.Event {
	switch s {
	case InProgress:
		return []domain.Event{opened(), moved(Open, InProgress)}
	case Resolved:
		return []domain.Event{opened(), moved(Open, Resolved)}
	case Closed:
		return []domain.Event{opened(), moved(Open, Resolved), moved(Resolved, Closed)}
	}
	return []domain.Event{opened()}
}

var (
	deletedTicket = []domain.Event{opened(), &Deleted{}}
	closedTicket  = reach(Closed)
)

func with(base []domain.Event, more ...domain.Event) []domain.Event {
	return append(slices.Clone(base), more...)
}

func validOpen() OpenCmd {
	return OpenCmd{
		TicketID: ticketID, CompanyID: companyID, Title: "Printer on fire",
		Description: "Third floor,\nnext to the kitchen.", RequesterID: requesterID,
		Tags: []string{"hardware"},
	}
}

func open(change func(*OpenCmd)) func(*Ticket) ([]domain.Event, error) {
	return func(t *Ticket) ([]domain.Event, error) {
		c := validOpen()
		change(&c)
		return t.Open(c)
	}
}

func openedWith(change func(*Opened)) []domain.Event {
	e := opened()
	change(e)
	return []domain.Event{e}
}

func numberedTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%02d", i)
	}
	return tags
}

func TestOpen(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Ticket]{
		{
			Name: "opens with normal priority by default",
			When: open(func(c *OpenCmd) {}),
			Want: []domain.Event{opened()},
		},
		{
			Name: "keeps a given priority",
			When: open(func(c *OpenCmd) { c.Priority = Urgent }),
			Want: openedWith(func(e *Opened) { e.Priority = Urgent }),
		},
		{
			Name: "trims the title",
			When: open(func(c *OpenCmd) { c.Title = " \tPrinter on fire \n" }),
			Want: []domain.Event{opened()},
		},
		{
			Name: "lower-cases, trims and de-duplicates tags keeping order",
			When: open(func(c *OpenCmd) { c.Tags = []string{" Billing", "URGENT", "billing", "urgent ", "VIP"} }),
			Want: openedWith(func(e *Opened) { e.Tags = []string{"billing", "urgent", "vip"} }),
		},
		{
			Name: "records no tags as an empty list",
			When: open(func(c *OpenCmd) { c.Tags = nil }),
			Want: openedWith(func(e *Opened) { e.Tags = []string{} }),
		},
		{
			Name: "accepts 20 tags once duplicates are dropped",
			When: open(func(c *OpenCmd) { c.Tags = append(numberedTags(20), "TAG-00", "tag-19") }),
			Want: openedWith(func(e *Opened) { e.Tags = numberedTags(20) }),
		},
		{
			Name: "accepts the longest title, description and tag, counted in runes",
			When: open(func(c *OpenCmd) {
				c.Title = strings.Repeat("é", MaxTitle)
				c.Description = strings.Repeat("é", MaxDescription)
				c.Tags = []string{strings.Repeat("é", MaxTag)}
			}),
			Want: openedWith(func(e *Opened) {
				e.Title = strings.Repeat("é", MaxTitle)
				e.Description = strings.Repeat("é", MaxDescription)
				e.Tags = []string{strings.Repeat("é", MaxTag)}
			}),
		},
		{
			Name:       "rejects an empty title",
			When:       open(func(c *OpenCmd) { c.Title = "" }),
			WantFields: []string{"title"},
		},
		{
			Name:       "rejects a blank title",
			When:       open(func(c *OpenCmd) { c.Title = " \t\n" }),
			WantFields: []string{"title"},
		},
		{
			Name:       "rejects a too long title",
			When:       open(func(c *OpenCmd) { c.Title = strings.Repeat("x", MaxTitle+1) }),
			WantFields: []string{"title"},
		},
		{
			Name:       "rejects a too long description",
			When:       open(func(c *OpenCmd) { c.Description = strings.Repeat("x", MaxDescription+1) }),
			WantFields: []string{"description"},
		},
		{
			Name:       "rejects an unknown priority",
			When:       open(func(c *OpenCmd) { c.Priority = "critical" }),
			WantFields: []string{"priority"},
		},
		{
			Name:       "rejects an upper-case priority",
			When:       open(func(c *OpenCmd) { c.Priority = "HIGH" }),
			WantFields: []string{"priority"},
		},
		{
			Name:       "rejects an empty tag",
			When:       open(func(c *OpenCmd) { c.Tags = []string{"ok", "  "} }),
			WantFields: []string{"tags"},
		},
		{
			Name:       "rejects a too long tag",
			When:       open(func(c *OpenCmd) { c.Tags = []string{strings.Repeat("x", MaxTag+1)} }),
			WantFields: []string{"tags"},
		},
		{
			Name:       "rejects more than 20 distinct tags",
			When:       open(func(c *OpenCmd) { c.Tags = numberedTags(MaxTags + 1) }),
			WantFields: []string{"tags"},
		},
		{
			Name:       "rejects a ticket id that is not a UUID",
			When:       open(func(c *OpenCmd) { c.TicketID = "ticket-1" }),
			WantFields: []string{"id"},
		},
		{
			Name:       "rejects an upper-case ticket id",
			When:       open(func(c *OpenCmd) { c.TicketID = strings.ToUpper(ticketID) }),
			WantFields: []string{"id"},
		},
		{
			Name:       "rejects a missing company id",
			When:       open(func(c *OpenCmd) { c.CompanyID = "" }),
			WantFields: []string{"company_id"},
		},
		{
			Name:       "rejects a requester id that is not a UUID",
			When:       open(func(c *OpenCmd) { c.RequesterID = requesterID + "0" }),
			WantFields: []string{"requester_id"},
		},
		{
			Name: "reports every invalid field at once",
			When: open(func(c *OpenCmd) {
				*c = OpenCmd{
					TicketID: "x", CompanyID: "y", RequesterID: "z", Title: " ",
					Description: strings.Repeat("x", MaxDescription+1), Priority: "p", Tags: []string{""},
				}
			}),
			WantFields: []string{"company_id", "description", "id", "priority", "requester_id", "tags", "title"},
		},
		{
			Name:    "cannot open twice",
			Given:   []domain.Event{opened()},
			When:    open(func(c *OpenCmd) {}),
			WantErr: domain.ErrAlreadyExists,
		},
		{
			Name:    "cannot reopen a deleted ticket's id",
			Given:   deletedTicket,
			When:    open(func(c *OpenCmd) {}),
			WantErr: domain.ErrAlreadyExists,
		},
		{
			Name:    "existence is checked before validation",
			Given:   []domain.Event{opened()},
			When:    open(func(c *OpenCmd) { c.Title = "" }),
			WantErr: domain.ErrAlreadyExists,
		},
	})
}

func edit(c EditCmd) func(*Ticket) ([]domain.Event, error) {
	return func(t *Ticket) ([]domain.Event, error) { return t.Edit(c) }
}

func TestEdit(t *testing.T) {
	same := opened()
	domaintest.Run(t, []domaintest.Spec[Ticket]{
		{
			Name:  "records a new title, trimmed",
			Given: []domain.Event{opened()},
			When:  edit(EditCmd{Title: domaintest.Ptr("  Printer smoking  ")}),
			Want:  []domain.Event{&Edited{Title: domaintest.Ptr("Printer smoking")}},
		},
		{
			Name:  "records a new description",
			Given: []domain.Event{opened()},
			When:  edit(EditCmd{Description: domaintest.Ptr("Second floor.")}),
			Want:  []domain.Event{&Edited{Description: domaintest.Ptr("Second floor.")}},
		},
		{
			Name:  "records a new priority",
			Given: []domain.Event{opened()},
			When:  edit(EditCmd{Priority: domaintest.Ptr(High)}),
			Want:  []domain.Event{&Edited{Priority: domaintest.Ptr(High)}},
		},
		{
			Name:  "records new tags, normalized",
			Given: []domain.Event{opened()},
			When:  edit(EditCmd{Tags: &[]string{"Hardware", " Fire ", "hardware"}}),
			Want:  []domain.Event{&Edited{Tags: &[]string{"hardware", "fire"}}},
		},
		{
			Name:  "records cleared tags",
			Given: []domain.Event{opened()},
			When:  edit(EditCmd{Tags: &[]string{}}),
			Want:  []domain.Event{&Edited{Tags: &[]string{}}},
		},
		{
			Name:  "records only the fields that change",
			Given: []domain.Event{opened()},
			When: edit(EditCmd{
				Title: domaintest.Ptr(same.Title), Description: domaintest.Ptr("Second floor."),
				Priority: domaintest.Ptr(same.Priority), Tags: &[]string{"HARDWARE"},
			}),
			Want: []domain.Event{&Edited{Description: domaintest.Ptr("Second floor.")}},
		},
		{
			Name:  "an empty edit records nothing",
			Given: []domain.Event{opened()},
			When:  edit(EditCmd{}),
		},
		{
			Name:  "an edit to the current values records nothing",
			Given: []domain.Event{opened()},
			When: edit(EditCmd{
				Title: domaintest.Ptr(" " + same.Title + " "), Description: domaintest.Ptr(same.Description),
				Priority: domaintest.Ptr(same.Priority), Tags: &[]string{" Hardware"},
			}),
		},
		{
			Name:  "no tags edited to an empty list records nothing",
			Given: openedWith(func(e *Opened) { e.Tags = []string{} }),
			When:  edit(EditCmd{Tags: &[]string{}}),
		},
		{
			Name:  "sees the state left by earlier edits",
			Given: []domain.Event{opened(), &Edited{Title: domaintest.Ptr("Printer smoking")}},
			When:  edit(EditCmd{Title: domaintest.Ptr("Printer smoking")}),
		},
		{
			Name:  "a resolved ticket can be edited",
			Given: reach(Resolved),
			When:  edit(EditCmd{Priority: domaintest.Ptr(Low)}),
			Want:  []domain.Event{&Edited{Priority: domaintest.Ptr(Low)}},
		},
		{
			Name:       "rejects an empty title",
			Given:      []domain.Event{opened()},
			When:       edit(EditCmd{Title: domaintest.Ptr("  ")}),
			WantFields: []string{"title"},
		},
		{
			Name:       "rejects a too long title",
			Given:      []domain.Event{opened()},
			When:       edit(EditCmd{Title: domaintest.Ptr(strings.Repeat("x", MaxTitle+1))}),
			WantFields: []string{"title"},
		},
		{
			Name:       "rejects a too long description",
			Given:      []domain.Event{opened()},
			When:       edit(EditCmd{Description: domaintest.Ptr(strings.Repeat("x", MaxDescription+1))}),
			WantFields: []string{"description"},
		},
		{
			Name:       "rejects an empty priority",
			Given:      []domain.Event{opened()},
			When:       edit(EditCmd{Priority: domaintest.Ptr(Priority(""))}),
			WantFields: []string{"priority"},
		},
		{
			Name:       "rejects an unknown priority",
			Given:      []domain.Event{opened()},
			When:       edit(EditCmd{Priority: domaintest.Ptr(Priority("critical"))}),
			WantFields: []string{"priority"},
		},
		{
			Name:       "rejects too many tags",
			Given:      []domain.Event{opened()},
			When:       edit(EditCmd{Tags: domaintest.Ptr(numberedTags(MaxTags + 1))}),
			WantFields: []string{"tags"},
		},
		{
			Name:       "rejects an invalid field even if the valid ones do not change",
			Given:      []domain.Event{opened()},
			When:       edit(EditCmd{Title: domaintest.Ptr(same.Title), Tags: &[]string{strings.Repeat("x", MaxTag+1)}}),
			WantFields: []string{"tags"},
		},
		{
			Name:  "reports every invalid field at once",
			Given: []domain.Event{opened()},
			When: edit(EditCmd{
				Title: domaintest.Ptr(""), Description: domaintest.Ptr(strings.Repeat("x", MaxDescription+1)),
				Priority: domaintest.Ptr(Priority("p")), Tags: &[]string{""},
			}),
			WantFields: []string{"description", "priority", "tags", "title"},
		},
		{
			Name:    "a change to a closed ticket is an invalid transition",
			Given:   closedTicket,
			When:    edit(EditCmd{Title: domaintest.Ptr("Printer smoking")}),
			WantErr: domain.ErrInvalidTransition,
		},
		{
			Name:  "a no-op edit of a closed ticket records nothing",
			Given: closedTicket,
			When:  edit(EditCmd{Title: domaintest.Ptr(same.Title), Priority: domaintest.Ptr(same.Priority)}),
		},
		{
			Name:       "an invalid edit of a closed ticket is reported as invalid",
			Given:      closedTicket,
			When:       edit(EditCmd{Title: domaintest.Ptr("")}),
			WantFields: []string{"title"},
		},
		{
			Name:    "a deleted ticket is not found",
			Given:   deletedTicket,
			When:    edit(EditCmd{Title: domaintest.Ptr("Printer smoking")}),
			WantErr: domain.ErrNotFound,
		},
		{
			Name:    "a ticket never opened is not found",
			When:    edit(EditCmd{Title: domaintest.Ptr("Printer smoking")}),
			WantErr: domain.ErrNotFound,
		},
	})
}

func assign(id string) func(*Ticket) ([]domain.Event, error) {
	return func(t *Ticket) ([]domain.Event, error) { return t.Assign(id) }
}

func TestAssign(t *testing.T) {
	assigned := with([]domain.Event{opened()}, &Assigned{AssigneeID: agentID})
	domaintest.Run(t, []domaintest.Spec[Ticket]{
		{
			Name:  "assigns an unassigned ticket",
			Given: []domain.Event{opened()},
			When:  assign(agentID),
			Want:  []domain.Event{&Assigned{AssigneeID: agentID}},
		},
		{
			Name:  "reassigns, recording the previous assignee",
			Given: assigned,
			When:  assign(otherAgentID),
			Want:  []domain.Event{&Assigned{AssigneeID: otherAgentID, PreviousAssigneeID: agentID}},
		},
		{
			Name:  "the same assignee records nothing",
			Given: assigned,
			When:  assign(agentID),
		},
		{
			Name:  "an empty assignee unassigns",
			Given: assigned,
			When:  assign(""),
			Want:  []domain.Event{&Unassigned{PreviousAssigneeID: agentID}},
		},
		{
			Name:  "unassigning an unassigned ticket records nothing",
			Given: []domain.Event{opened()},
			When:  assign(""),
		},
		{
			Name:  "sees an earlier unassignment",
			Given: with(assigned, &Unassigned{PreviousAssigneeID: agentID}),
			When:  assign(""),
		},
		{
			Name:  "a resolved ticket can be assigned",
			Given: reach(Resolved),
			When:  assign(agentID),
			Want:  []domain.Event{&Assigned{AssigneeID: agentID}},
		},
		{
			Name:       "rejects an assignee id that is not a UUID",
			Given:      []domain.Event{opened()},
			When:       assign("agent-1"),
			WantFields: []string{"assignee_id"},
		},
		{
			Name:       "rejects an upper-case assignee id",
			Given:      []domain.Event{opened()},
			When:       assign(strings.ToUpper(agentID)),
			WantFields: []string{"assignee_id"},
		},
		{
			Name:    "cannot assign a closed ticket",
			Given:   closedTicket,
			When:    assign(agentID),
			WantErr: domain.ErrInvalidTransition,
		},
		{
			Name:    "cannot unassign a closed ticket",
			Given:   with(reach(Resolved), &Assigned{AssigneeID: agentID}, moved(Resolved, Closed)),
			When:    assign(""),
			WantErr: domain.ErrInvalidTransition,
		},
		{
			Name:  "the same assignee on a closed ticket records nothing",
			Given: with(reach(Resolved), &Assigned{AssigneeID: agentID}, moved(Resolved, Closed)),
			When:  assign(agentID),
		},
		{
			Name:    "a deleted ticket is not found",
			Given:   deletedTicket,
			When:    assign(agentID),
			WantErr: domain.ErrNotFound,
		},
		{
			Name:    "a ticket never opened is not found",
			When:    assign(agentID),
			WantErr: domain.ErrNotFound,
		},
	})
}

var statuses = []Status{Open, InProgress, Resolved, Closed}

// allowedTransitions is the lifecycle written out, independent of the
// transitions table it checks.
var allowedTransitions = map[[2]Status]bool{
	{Open, InProgress}:     true,
	{Open, Resolved}:       true,
	{InProgress, Open}:     true,
	{InProgress, Resolved}: true,
	{Resolved, Closed}:     true,
	{Resolved, Open}:       true,
	{Closed, Open}:         true,
}

func TestCanTransition(t *testing.T) {
	for _, from := range statuses {
		for _, to := range statuses {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				want := allowedTransitions[[2]Status{from, to}]
				if got := CanTransition(from, to); got != want {
					t.Fatalf("got CanTransition(%s, %s) = %v, want %v", from, to, got, want)
				}
			})
		}
	}
	for _, s := range []Status{"", "done"} {
		if CanTransition(s, Open) || CanTransition(Open, s) {
			t.Errorf("got a transition between %q and open, want none", s)
		}
	}
}

func changeStatus(to Status) func(*Ticket) ([]domain.Event, error) {
	return func(t *Ticket) ([]domain.Event, error) { return t.ChangeStatus(to) }
}

func TestChangeStatus(t *testing.T) {
	var specs []domaintest.Spec[Ticket]
	for _, from := range statuses {
		for _, to := range statuses {
			s := domaintest.Spec[Ticket]{Name: string(from) + "→" + string(to), Given: reach(from), When: changeStatus(to)}
			switch {
			case from == to:
				s.Name += " records nothing"
			case allowedTransitions[[2]Status{from, to}]:
				s.Want = []domain.Event{moved(from, to)}
			default:
				s.Name += " is invalid"
				s.WantErr = domain.ErrInvalidTransition
			}
			specs = append(specs, s)
		}
	}
	specs = append(specs,
		domaintest.Spec[Ticket]{Name: "rejects an unknown status", Given: reach(Open), When: changeStatus("done"), WantFields: []string{"status"}},
		domaintest.Spec[Ticket]{Name: "rejects an empty status", Given: reach(Open), When: changeStatus(""), WantFields: []string{"status"}},
		domaintest.Spec[Ticket]{Name: "rejects an upper-case status", Given: reach(InProgress), When: changeStatus("OPEN"), WantFields: []string{"status"}},
		domaintest.Spec[Ticket]{Name: "a deleted ticket is not found", Given: deletedTicket, When: changeStatus(InProgress), WantErr: domain.ErrNotFound},
		domaintest.Spec[Ticket]{Name: "a ticket never opened is not found", When: changeStatus(InProgress), WantErr: domain.ErrNotFound},
	)
	domaintest.Run(t, specs)
}

func TestTransitionError(t *testing.T) {
	var tk Ticket
	for _, e := range reach(Open) {
		tk.Apply(e)
	}
	_, err := tk.ChangeStatus(Closed)
	var te *TransitionError
	if !errors.As(err, &te) {
		t.Fatalf("got error %v, want a *TransitionError", err)
	}
	if want := (TransitionError{From: Open, To: Closed}); *te != want {
		t.Fatalf("got %+v, want %+v", *te, want)
	}
	if got, want := err.Error(), "cannot change status from open to closed"; got != want {
		t.Fatalf("got message %q, want %q", got, want)
	}
}

func comment(body string) func(*Ticket) ([]domain.Event, error) {
	return func(t *Ticket) ([]domain.Event, error) {
		return t.Comment(CommentCmd{CommentID: commentID, AuthorID: agentID, Body: body})
	}
}

func TestComment(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Ticket]{
		{
			Name:  "records a trimmed comment",
			Given: []domain.Event{opened()},
			When:  comment("\n  Looks fixed.\n\nPlease check.  "),
			Want:  []domain.Event{&Commented{CommentID: commentID, AuthorID: agentID, Body: "Looks fixed.\n\nPlease check."}},
		},
		{
			Name:  "accepts the longest body, counted in runes",
			Given: []domain.Event{opened()},
			When:  comment(strings.Repeat("é", MaxComment)),
			Want:  []domain.Event{&Commented{CommentID: commentID, AuthorID: agentID, Body: strings.Repeat("é", MaxComment)}},
		},
		{
			Name:  "a resolved ticket takes comments",
			Given: reach(Resolved),
			When:  comment("Thanks!"),
			Want:  []domain.Event{&Commented{CommentID: commentID, AuthorID: agentID, Body: "Thanks!"}},
		},
		{
			Name:       "rejects an empty body",
			Given:      []domain.Event{opened()},
			When:       comment(""),
			WantFields: []string{"body"},
		},
		{
			Name:       "rejects a blank body",
			Given:      []domain.Event{opened()},
			When:       comment(" \n\t "),
			WantFields: []string{"body"},
		},
		{
			Name:       "rejects a too long body",
			Given:      []domain.Event{opened()},
			When:       comment(strings.Repeat("x", MaxComment+1)),
			WantFields: []string{"body"},
		},
		{
			Name:  "rejects a comment id that is not a UUID, with the body",
			Given: []domain.Event{opened()},
			When: func(t *Ticket) ([]domain.Event, error) {
				return t.Comment(CommentCmd{CommentID: "c1", AuthorID: agentID, Body: " "})
			},
			WantFields: []string{"body", "comment_id"},
		},
		{
			Name:    "a closed ticket takes no comments",
			Given:   closedTicket,
			When:    comment("Still broken."),
			WantErr: domain.ErrInvalidTransition,
		},
		{
			Name:  "a reopened ticket takes comments again",
			Given: with(closedTicket, moved(Closed, Open)),
			When:  comment("Still broken."),
			Want:  []domain.Event{&Commented{CommentID: commentID, AuthorID: agentID, Body: "Still broken."}},
		},
		{
			Name:    "a deleted ticket is not found",
			Given:   deletedTicket,
			When:    comment("Hello?"),
			WantErr: domain.ErrNotFound,
		},
		{
			Name:    "a ticket never opened is not found",
			When:    comment("Hello?"),
			WantErr: domain.ErrNotFound,
		},
	})
}

func TestDelete(t *testing.T) {
	del := func(t *Ticket) ([]domain.Event, error) { return t.Delete() }
	specs := []domaintest.Spec[Ticket]{
		{Name: "deletes an open ticket", Given: []domain.Event{opened()}, When: del, Want: []domain.Event{&Deleted{}}},
		{Name: "deletes a closed ticket", Given: closedTicket, When: del, Want: []domain.Event{&Deleted{}}},
		{Name: "a ticket never opened is not found", When: del, WantErr: domain.ErrNotFound},
	}
	// After a delete every command finds nothing, whatever the status was.
	for _, status := range statuses {
		given := with(reach(status), &Deleted{})
		for _, c := range []struct {
			name string
			when func(*Ticket) ([]domain.Event, error)
		}{
			{"edit", edit(EditCmd{Title: domaintest.Ptr("Printer smoking")})},
			{"no-op edit", edit(EditCmd{})},
			{"assign", assign(agentID)},
			{"unassign", assign("")},
			{"change to open", changeStatus(Open)},
			{"change to resolved", changeStatus(Resolved)},
			{"keep status", changeStatus(status)},
			{"unknown status", changeStatus("done")},
			{"comment", comment("Hello?")},
			{"delete", del},
		} {
			specs = append(specs, domaintest.Spec[Ticket]{
				Name:    c.name + " of a deleted " + string(status) + " ticket is not found",
				Given:   given,
				When:    c.when,
				WantErr: domain.ErrNotFound,
			})
		}
	}
	domaintest.Run(t, specs)
}

func TestApply(t *testing.T) {
	base := Ticket{
		ID: ticketID, CompanyID: companyID, Title: "Printer on fire",
		Description: "Third floor,\nnext to the kitchen.", Priority: Normal, Status: Open,
		RequesterID: requesterID, Tags: []string{"hardware"}, Version: 1,
	}
	state := func(change func(*Ticket)) Ticket {
		s := base
		s.Tags = slices.Clone(base.Tags)
		change(&s)
		return s
	}
	for _, c := range []struct {
		name       string
		given      []domain.Event
		want       Ticket
		wantExists bool
	}{
		{name: "nothing", want: Ticket{}},
		{name: "opened", given: []domain.Event{opened()}, want: base, wantExists: true},
		{
			name: "edited fields replace, absent fields stay",
			given: []domain.Event{opened(), &Edited{Title: domaintest.Ptr("Printer smoking"), Tags: &[]string{"a", "b"}},
				&Edited{Priority: domaintest.Ptr(Urgent)}, &Edited{Description: domaintest.Ptr("")}},
			want: state(func(s *Ticket) {
				s.Title, s.Tags, s.Priority, s.Description, s.Version = "Printer smoking", []string{"a", "b"}, Urgent, "", 4
			}),
			wantExists: true,
		},
		{
			name:       "assigned",
			given:      []domain.Event{opened(), &Assigned{AssigneeID: agentID}, &Assigned{AssigneeID: otherAgentID, PreviousAssigneeID: agentID}},
			want:       state(func(s *Ticket) { s.AssigneeID, s.Version = otherAgentID, 3 }),
			wantExists: true,
		},
		{
			name:       "unassigned",
			given:      []domain.Event{opened(), &Assigned{AssigneeID: agentID}, &Unassigned{PreviousAssigneeID: agentID}},
			want:       state(func(s *Ticket) { s.Version = 3 }),
			wantExists: true,
		},
		{
			name:       "status changed",
			given:      reach(Closed),
			want:       state(func(s *Ticket) { s.Status, s.Version = Closed, 3 }),
			wantExists: true,
		},
		{
			name:       "comments counted",
			given:      []domain.Event{opened(), &Commented{CommentID: commentID, Body: "a"}, &Commented{CommentID: commentID, Body: "b"}},
			want:       state(func(s *Ticket) { s.Comments, s.Version = 2, 3 }),
			wantExists: true,
		},
		{
			name:  "deleted keeps the last state and counts the delete",
			given: with(reach(InProgress), &Deleted{}),
			want:  state(func(s *Ticket) { s.Status, s.Deleted, s.Version = InProgress, true, 3 }),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := domaintest.Replay[Ticket](c.given)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got state %+v, want %+v", got, c.want)
			}
			if got.Exists() != c.wantExists {
				t.Fatalf("got Exists() = %v, want %v", got.Exists(), c.wantExists)
			}
		})
	}
}

func TestRef(t *testing.T) {
	var tk Ticket
	for _, e := range []domain.Event{opened(), &Assigned{AssigneeID: agentID}} {
		tk.Apply(e)
	}
	want := domain.TicketRef{CompanyID: companyID, RequesterID: requesterID, AssigneeID: agentID}
	if got := tk.Ref(); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestPriorityValid(t *testing.T) {
	for _, c := range []struct {
		p    Priority
		want bool
	}{
		{Low, true}, {Normal, true}, {High, true}, {Urgent, true},
		{"", false}, {"critical", false}, {"Normal", false},
	} {
		if got := c.p.Valid(); got != c.want {
			t.Errorf("got Priority(%q).Valid() = %v, want %v", c.p, got, c.want)
		}
	}
}
