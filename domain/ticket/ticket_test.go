package ticket

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"agentdesk/domain"
)

const (
	ticketID     = "aaaaaaaa-1111-4111-8111-111111111111"
	companyID    = "22222222-2222-4222-8222-222222222222"
	requesterID  = "33333333-3333-4333-8333-333333333333"
	agentID      = "dddddddd-4444-4444-8444-444444444444"
	otherAgentID = "55555555-5555-4555-8555-555555555555"
	commentID    = "66666666-6666-4666-8666-666666666666"
)

// spec is one "given events → command → expected events or error" case.
// A case that expects neither an error nor fields expects exactly want
// (nothing when want is empty).
type spec struct {
	name       string
	given      []domain.Event
	when       func(*Ticket) ([]domain.Event, error)
	want       []domain.Event
	wantErr    error    // checked with errors.Is
	wantFields []string // keys of the expected *domain.ValidationError
}

func runSpecs(t *testing.T, specs []spec) {
	t.Helper()
	for _, s := range specs {
		t.Run(s.name, func(t *testing.T) {
			var tk Ticket
			for _, e := range s.given {
				tk.Apply(e)
			}
			got, err := s.when(&tk)
			checkOutcome(t, got, err, s.want, s.wantErr, s.wantFields)
		})
	}
}

func checkOutcome(tb testing.TB, got []domain.Event, err error, want []domain.Event, wantErr error, wantFields []string) {
	tb.Helper()
	switch {
	case wantErr != nil:
		if !errors.Is(err, wantErr) {
			tb.Fatalf("got error %v, want %v", err, wantErr)
		}
	case wantFields != nil:
		var ve *domain.ValidationError
		if !errors.As(err, &ve) {
			tb.Fatalf("got error %v, want a *domain.ValidationError on %v", err, wantFields)
		}
		if keys := fieldKeys(ve); !slices.Equal(keys, wantFields) {
			tb.Fatalf("got invalid fields %v, want %v", keys, wantFields)
		}
	case err != nil:
		tb.Fatalf("got error %v, want events %s", err, describe(want))
	}
	if err != nil {
		if len(got) != 0 {
			tb.Fatalf("got events %s along with error %v, want none", describe(got), err)
		}
		return
	}
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("got events %s, want %s", describe(got), describe(want))
	}
}

func fieldKeys(ve *domain.ValidationError) []string {
	keys := make([]string, 0, len(ve.Fields))
	for k := range ve.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// describe prints events with their type and JSON data, so pointer fields
// show their values rather than addresses.
func describe(evs []domain.Event) string {
	if len(evs) == 0 {
		return "[]"
	}
	parts := make([]string, len(evs))
	for i, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			data = fmt.Appendf(nil, "%+v", e)
		}
		parts[i] = e.EventType() + string(data)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func ptr[T any](v T) *T { return &v }

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
	runSpecs(t, []spec{
		{
			name: "opens with normal priority by default",
			when: open(func(c *OpenCmd) {}),
			want: []domain.Event{opened()},
		},
		{
			name: "keeps a given priority",
			when: open(func(c *OpenCmd) { c.Priority = Urgent }),
			want: openedWith(func(e *Opened) { e.Priority = Urgent }),
		},
		{
			name: "trims the title",
			when: open(func(c *OpenCmd) { c.Title = " \tPrinter on fire \n" }),
			want: []domain.Event{opened()},
		},
		{
			name: "lower-cases, trims and de-duplicates tags keeping order",
			when: open(func(c *OpenCmd) { c.Tags = []string{" Billing", "URGENT", "billing", "urgent ", "VIP"} }),
			want: openedWith(func(e *Opened) { e.Tags = []string{"billing", "urgent", "vip"} }),
		},
		{
			name: "records no tags as an empty list",
			when: open(func(c *OpenCmd) { c.Tags = nil }),
			want: openedWith(func(e *Opened) { e.Tags = []string{} }),
		},
		{
			name: "accepts 20 tags once duplicates are dropped",
			when: open(func(c *OpenCmd) { c.Tags = append(numberedTags(20), "TAG-00", "tag-19") }),
			want: openedWith(func(e *Opened) { e.Tags = numberedTags(20) }),
		},
		{
			name: "accepts the longest title, description and tag, counted in runes",
			when: open(func(c *OpenCmd) {
				c.Title = strings.Repeat("é", MaxTitle)
				c.Description = strings.Repeat("é", MaxDescription)
				c.Tags = []string{strings.Repeat("é", MaxTag)}
			}),
			want: openedWith(func(e *Opened) {
				e.Title = strings.Repeat("é", MaxTitle)
				e.Description = strings.Repeat("é", MaxDescription)
				e.Tags = []string{strings.Repeat("é", MaxTag)}
			}),
		},
		{
			name:       "rejects an empty title",
			when:       open(func(c *OpenCmd) { c.Title = "" }),
			wantFields: []string{"title"},
		},
		{
			name:       "rejects a blank title",
			when:       open(func(c *OpenCmd) { c.Title = " \t\n" }),
			wantFields: []string{"title"},
		},
		{
			name:       "rejects a too long title",
			when:       open(func(c *OpenCmd) { c.Title = strings.Repeat("x", MaxTitle+1) }),
			wantFields: []string{"title"},
		},
		{
			name:       "rejects a too long description",
			when:       open(func(c *OpenCmd) { c.Description = strings.Repeat("x", MaxDescription+1) }),
			wantFields: []string{"description"},
		},
		{
			name:       "rejects an unknown priority",
			when:       open(func(c *OpenCmd) { c.Priority = "critical" }),
			wantFields: []string{"priority"},
		},
		{
			name:       "rejects an upper-case priority",
			when:       open(func(c *OpenCmd) { c.Priority = "HIGH" }),
			wantFields: []string{"priority"},
		},
		{
			name:       "rejects an empty tag",
			when:       open(func(c *OpenCmd) { c.Tags = []string{"ok", "  "} }),
			wantFields: []string{"tags"},
		},
		{
			name:       "rejects a too long tag",
			when:       open(func(c *OpenCmd) { c.Tags = []string{strings.Repeat("x", MaxTag+1)} }),
			wantFields: []string{"tags"},
		},
		{
			name:       "rejects more than 20 distinct tags",
			when:       open(func(c *OpenCmd) { c.Tags = numberedTags(MaxTags + 1) }),
			wantFields: []string{"tags"},
		},
		{
			name:       "rejects a ticket id that is not a UUID",
			when:       open(func(c *OpenCmd) { c.TicketID = "ticket-1" }),
			wantFields: []string{"id"},
		},
		{
			name:       "rejects an upper-case ticket id",
			when:       open(func(c *OpenCmd) { c.TicketID = strings.ToUpper(ticketID) }),
			wantFields: []string{"id"},
		},
		{
			name:       "rejects a missing company id",
			when:       open(func(c *OpenCmd) { c.CompanyID = "" }),
			wantFields: []string{"company_id"},
		},
		{
			name:       "rejects a requester id that is not a UUID",
			when:       open(func(c *OpenCmd) { c.RequesterID = requesterID + "0" }),
			wantFields: []string{"requester_id"},
		},
		{
			name: "reports every invalid field at once",
			when: open(func(c *OpenCmd) {
				*c = OpenCmd{
					TicketID: "x", CompanyID: "y", RequesterID: "z", Title: " ",
					Description: strings.Repeat("x", MaxDescription+1), Priority: "p", Tags: []string{""},
				}
			}),
			wantFields: []string{"company_id", "description", "id", "priority", "requester_id", "tags", "title"},
		},
		{
			name:    "cannot open twice",
			given:   []domain.Event{opened()},
			when:    open(func(c *OpenCmd) {}),
			wantErr: domain.ErrAlreadyExists,
		},
		{
			name:    "cannot reopen a deleted ticket's id",
			given:   deletedTicket,
			when:    open(func(c *OpenCmd) {}),
			wantErr: domain.ErrAlreadyExists,
		},
		{
			name:    "existence is checked before validation",
			given:   []domain.Event{opened()},
			when:    open(func(c *OpenCmd) { c.Title = "" }),
			wantErr: domain.ErrAlreadyExists,
		},
	})
}

func edit(c EditCmd) func(*Ticket) ([]domain.Event, error) {
	return func(t *Ticket) ([]domain.Event, error) { return t.Edit(c) }
}

func TestEdit(t *testing.T) {
	same := opened()
	runSpecs(t, []spec{
		{
			name:  "records a new title, trimmed",
			given: []domain.Event{opened()},
			when:  edit(EditCmd{Title: ptr("  Printer smoking  ")}),
			want:  []domain.Event{&Edited{Title: ptr("Printer smoking")}},
		},
		{
			name:  "records a new description",
			given: []domain.Event{opened()},
			when:  edit(EditCmd{Description: ptr("Second floor.")}),
			want:  []domain.Event{&Edited{Description: ptr("Second floor.")}},
		},
		{
			name:  "records a new priority",
			given: []domain.Event{opened()},
			when:  edit(EditCmd{Priority: ptr(High)}),
			want:  []domain.Event{&Edited{Priority: ptr(High)}},
		},
		{
			name:  "records new tags, normalized",
			given: []domain.Event{opened()},
			when:  edit(EditCmd{Tags: &[]string{"Hardware", " Fire ", "hardware"}}),
			want:  []domain.Event{&Edited{Tags: &[]string{"hardware", "fire"}}},
		},
		{
			name:  "records cleared tags",
			given: []domain.Event{opened()},
			when:  edit(EditCmd{Tags: &[]string{}}),
			want:  []domain.Event{&Edited{Tags: &[]string{}}},
		},
		{
			name:  "records only the fields that change",
			given: []domain.Event{opened()},
			when: edit(EditCmd{
				Title: ptr(same.Title), Description: ptr("Second floor."),
				Priority: ptr(same.Priority), Tags: &[]string{"HARDWARE"},
			}),
			want: []domain.Event{&Edited{Description: ptr("Second floor.")}},
		},
		{
			name:  "an empty edit records nothing",
			given: []domain.Event{opened()},
			when:  edit(EditCmd{}),
		},
		{
			name:  "an edit to the current values records nothing",
			given: []domain.Event{opened()},
			when: edit(EditCmd{
				Title: ptr(" " + same.Title + " "), Description: ptr(same.Description),
				Priority: ptr(same.Priority), Tags: &[]string{" Hardware"},
			}),
		},
		{
			name:  "no tags edited to an empty list records nothing",
			given: openedWith(func(e *Opened) { e.Tags = []string{} }),
			when:  edit(EditCmd{Tags: &[]string{}}),
		},
		{
			name:  "sees the state left by earlier edits",
			given: []domain.Event{opened(), &Edited{Title: ptr("Printer smoking")}},
			when:  edit(EditCmd{Title: ptr("Printer smoking")}),
		},
		{
			name:  "a resolved ticket can be edited",
			given: reach(Resolved),
			when:  edit(EditCmd{Priority: ptr(Low)}),
			want:  []domain.Event{&Edited{Priority: ptr(Low)}},
		},
		{
			name:       "rejects an empty title",
			given:      []domain.Event{opened()},
			when:       edit(EditCmd{Title: ptr("  ")}),
			wantFields: []string{"title"},
		},
		{
			name:       "rejects a too long title",
			given:      []domain.Event{opened()},
			when:       edit(EditCmd{Title: ptr(strings.Repeat("x", MaxTitle+1))}),
			wantFields: []string{"title"},
		},
		{
			name:       "rejects a too long description",
			given:      []domain.Event{opened()},
			when:       edit(EditCmd{Description: ptr(strings.Repeat("x", MaxDescription+1))}),
			wantFields: []string{"description"},
		},
		{
			name:       "rejects an empty priority",
			given:      []domain.Event{opened()},
			when:       edit(EditCmd{Priority: ptr(Priority(""))}),
			wantFields: []string{"priority"},
		},
		{
			name:       "rejects an unknown priority",
			given:      []domain.Event{opened()},
			when:       edit(EditCmd{Priority: ptr(Priority("critical"))}),
			wantFields: []string{"priority"},
		},
		{
			name:       "rejects too many tags",
			given:      []domain.Event{opened()},
			when:       edit(EditCmd{Tags: ptr(numberedTags(MaxTags + 1))}),
			wantFields: []string{"tags"},
		},
		{
			name:       "rejects an invalid field even if the valid ones do not change",
			given:      []domain.Event{opened()},
			when:       edit(EditCmd{Title: ptr(same.Title), Tags: &[]string{strings.Repeat("x", MaxTag+1)}}),
			wantFields: []string{"tags"},
		},
		{
			name:  "reports every invalid field at once",
			given: []domain.Event{opened()},
			when: edit(EditCmd{
				Title: ptr(""), Description: ptr(strings.Repeat("x", MaxDescription+1)),
				Priority: ptr(Priority("p")), Tags: &[]string{""},
			}),
			wantFields: []string{"description", "priority", "tags", "title"},
		},
		{
			name:    "a change to a closed ticket is an invalid transition",
			given:   closedTicket,
			when:    edit(EditCmd{Title: ptr("Printer smoking")}),
			wantErr: domain.ErrInvalidTransition,
		},
		{
			name:  "a no-op edit of a closed ticket records nothing",
			given: closedTicket,
			when:  edit(EditCmd{Title: ptr(same.Title), Priority: ptr(same.Priority)}),
		},
		{
			name:       "an invalid edit of a closed ticket is reported as invalid",
			given:      closedTicket,
			when:       edit(EditCmd{Title: ptr("")}),
			wantFields: []string{"title"},
		},
		{
			name:    "a deleted ticket is not found",
			given:   deletedTicket,
			when:    edit(EditCmd{Title: ptr("Printer smoking")}),
			wantErr: domain.ErrNotFound,
		},
		{
			name:    "a ticket never opened is not found",
			when:    edit(EditCmd{Title: ptr("Printer smoking")}),
			wantErr: domain.ErrNotFound,
		},
	})
}

func assign(id string) func(*Ticket) ([]domain.Event, error) {
	return func(t *Ticket) ([]domain.Event, error) { return t.Assign(id) }
}

func TestAssign(t *testing.T) {
	assigned := with([]domain.Event{opened()}, &Assigned{AssigneeID: agentID})
	runSpecs(t, []spec{
		{
			name:  "assigns an unassigned ticket",
			given: []domain.Event{opened()},
			when:  assign(agentID),
			want:  []domain.Event{&Assigned{AssigneeID: agentID}},
		},
		{
			name:  "reassigns, recording the previous assignee",
			given: assigned,
			when:  assign(otherAgentID),
			want:  []domain.Event{&Assigned{AssigneeID: otherAgentID, PreviousAssigneeID: agentID}},
		},
		{
			name:  "the same assignee records nothing",
			given: assigned,
			when:  assign(agentID),
		},
		{
			name:  "an empty assignee unassigns",
			given: assigned,
			when:  assign(""),
			want:  []domain.Event{&Unassigned{PreviousAssigneeID: agentID}},
		},
		{
			name:  "unassigning an unassigned ticket records nothing",
			given: []domain.Event{opened()},
			when:  assign(""),
		},
		{
			name:  "sees an earlier unassignment",
			given: with(assigned, &Unassigned{PreviousAssigneeID: agentID}),
			when:  assign(""),
		},
		{
			name:  "a resolved ticket can be assigned",
			given: reach(Resolved),
			when:  assign(agentID),
			want:  []domain.Event{&Assigned{AssigneeID: agentID}},
		},
		{
			name:       "rejects an assignee id that is not a UUID",
			given:      []domain.Event{opened()},
			when:       assign("agent-1"),
			wantFields: []string{"assignee_id"},
		},
		{
			name:       "rejects an upper-case assignee id",
			given:      []domain.Event{opened()},
			when:       assign(strings.ToUpper(agentID)),
			wantFields: []string{"assignee_id"},
		},
		{
			name:    "cannot assign a closed ticket",
			given:   closedTicket,
			when:    assign(agentID),
			wantErr: domain.ErrInvalidTransition,
		},
		{
			name:    "cannot unassign a closed ticket",
			given:   with(reach(Resolved), &Assigned{AssigneeID: agentID}, moved(Resolved, Closed)),
			when:    assign(""),
			wantErr: domain.ErrInvalidTransition,
		},
		{
			name:  "the same assignee on a closed ticket records nothing",
			given: with(reach(Resolved), &Assigned{AssigneeID: agentID}, moved(Resolved, Closed)),
			when:  assign(agentID),
		},
		{
			name:    "a deleted ticket is not found",
			given:   deletedTicket,
			when:    assign(agentID),
			wantErr: domain.ErrNotFound,
		},
		{
			name:    "a ticket never opened is not found",
			when:    assign(agentID),
			wantErr: domain.ErrNotFound,
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
	var specs []spec
	for _, from := range statuses {
		for _, to := range statuses {
			s := spec{name: string(from) + "→" + string(to), given: reach(from), when: changeStatus(to)}
			switch {
			case from == to:
				s.name += " records nothing"
			case allowedTransitions[[2]Status{from, to}]:
				s.want = []domain.Event{moved(from, to)}
			default:
				s.name += " is invalid"
				s.wantErr = domain.ErrInvalidTransition
			}
			specs = append(specs, s)
		}
	}
	specs = append(specs,
		spec{name: "rejects an unknown status", given: reach(Open), when: changeStatus("done"), wantFields: []string{"status"}},
		spec{name: "rejects an empty status", given: reach(Open), when: changeStatus(""), wantFields: []string{"status"}},
		spec{name: "rejects an upper-case status", given: reach(InProgress), when: changeStatus("OPEN"), wantFields: []string{"status"}},
		spec{name: "a deleted ticket is not found", given: deletedTicket, when: changeStatus(InProgress), wantErr: domain.ErrNotFound},
		spec{name: "a ticket never opened is not found", when: changeStatus(InProgress), wantErr: domain.ErrNotFound},
	)
	runSpecs(t, specs)
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
	runSpecs(t, []spec{
		{
			name:  "records a trimmed comment",
			given: []domain.Event{opened()},
			when:  comment("\n  Looks fixed.\n\nPlease check.  "),
			want:  []domain.Event{&Commented{CommentID: commentID, AuthorID: agentID, Body: "Looks fixed.\n\nPlease check."}},
		},
		{
			name:  "accepts the longest body, counted in runes",
			given: []domain.Event{opened()},
			when:  comment(strings.Repeat("é", MaxComment)),
			want:  []domain.Event{&Commented{CommentID: commentID, AuthorID: agentID, Body: strings.Repeat("é", MaxComment)}},
		},
		{
			name:  "a resolved ticket takes comments",
			given: reach(Resolved),
			when:  comment("Thanks!"),
			want:  []domain.Event{&Commented{CommentID: commentID, AuthorID: agentID, Body: "Thanks!"}},
		},
		{
			name:       "rejects an empty body",
			given:      []domain.Event{opened()},
			when:       comment(""),
			wantFields: []string{"body"},
		},
		{
			name:       "rejects a blank body",
			given:      []domain.Event{opened()},
			when:       comment(" \n\t "),
			wantFields: []string{"body"},
		},
		{
			name:       "rejects a too long body",
			given:      []domain.Event{opened()},
			when:       comment(strings.Repeat("x", MaxComment+1)),
			wantFields: []string{"body"},
		},
		{
			name:  "rejects a comment id that is not a UUID, with the body",
			given: []domain.Event{opened()},
			when: func(t *Ticket) ([]domain.Event, error) {
				return t.Comment(CommentCmd{CommentID: "c1", AuthorID: agentID, Body: " "})
			},
			wantFields: []string{"body", "comment_id"},
		},
		{
			name:    "a closed ticket takes no comments",
			given:   closedTicket,
			when:    comment("Still broken."),
			wantErr: domain.ErrInvalidTransition,
		},
		{
			name:  "a reopened ticket takes comments again",
			given: with(closedTicket, moved(Closed, Open)),
			when:  comment("Still broken."),
			want:  []domain.Event{&Commented{CommentID: commentID, AuthorID: agentID, Body: "Still broken."}},
		},
		{
			name:    "a deleted ticket is not found",
			given:   deletedTicket,
			when:    comment("Hello?"),
			wantErr: domain.ErrNotFound,
		},
		{
			name:    "a ticket never opened is not found",
			when:    comment("Hello?"),
			wantErr: domain.ErrNotFound,
		},
	})
}

func TestDelete(t *testing.T) {
	del := func(t *Ticket) ([]domain.Event, error) { return t.Delete() }
	specs := []spec{
		{name: "deletes an open ticket", given: []domain.Event{opened()}, when: del, want: []domain.Event{&Deleted{}}},
		{name: "deletes a closed ticket", given: closedTicket, when: del, want: []domain.Event{&Deleted{}}},
		{name: "a ticket never opened is not found", when: del, wantErr: domain.ErrNotFound},
	}
	// After a delete every command finds nothing, whatever the status was.
	for _, status := range statuses {
		given := with(reach(status), &Deleted{})
		for _, c := range []struct {
			name string
			when func(*Ticket) ([]domain.Event, error)
		}{
			{"edit", edit(EditCmd{Title: ptr("Printer smoking")})},
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
			specs = append(specs, spec{
				name:    c.name + " of a deleted " + string(status) + " ticket is not found",
				given:   given,
				when:    c.when,
				wantErr: domain.ErrNotFound,
			})
		}
	}
	runSpecs(t, specs)
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
			given: []domain.Event{opened(), &Edited{Title: ptr("Printer smoking"), Tags: &[]string{"a", "b"}},
				&Edited{Priority: ptr(Urgent)}, &Edited{Description: ptr("")}},
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
			var got Ticket
			for _, e := range c.given {
				got.Apply(e)
			}
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
