// Package campaign is the Campaign aggregate: a company's outreach on one
// channel, run by an agent over an optional time window, with its
// lifecycle draft → scheduled → active ⇄ paused → completed → archived
// and its content items.
//
// Content items are child records: read models keep each as a document of
// its own, but their events live in the campaign's stream, and the
// aggregate keeps only a compact index of them (id → status, revision and
// digests of title and body) to decide on them.
package campaign

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"agentdesk/domain"
)

// Channel is where a campaign reaches people.
type Channel string

// Channels.
const (
	Email  Channel = "email"
	Social Channel = "social"
	Blog   Channel = "blog"
	Web    Channel = "web"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool { return c == Email || c == Social || c == Blog || c == Web }

// Status is where a campaign is in its lifecycle.
type Status string

// Statuses, in lifecycle order.
const (
	Draft     Status = "draft"
	Scheduled Status = "scheduled"
	Active    Status = "active"
	Paused    Status = "paused"
	Completed Status = "completed"
	Archived  Status = "archived"
)

// Statuses lists every status in lifecycle order, the order enums sort in.
var Statuses = []Status{Draft, Scheduled, Active, Paused, Completed, Archived}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// transitions lists the statuses reachable from each status. A scheduled
// campaign may go back to draft (unscheduled). Completed is reachable only
// from active or paused, so a completed campaign has run. Archiving puts
// away a completed campaign, or a draft that will never run; an archived
// campaign stays archived.
var transitions = map[Status][]Status{
	Draft:     {Scheduled, Archived},
	Scheduled: {Draft, Active},
	Active:    {Paused, Completed},
	Paused:    {Active, Completed},
	Completed: {Archived},
}

// CanTransition reports whether a campaign may go from one status to another.
func CanTransition(from, to Status) bool { return slices.Contains(transitions[from], to) }

// Editable reports whether a campaign in status s takes edits of its name,
// description, agent, channel and window: while draft, scheduled or
// paused. An active campaign is paused first; a completed or archived one
// is history.
func Editable(s Status) bool { return s == Draft || s == Scheduled || s == Paused }

// TakesContent reports whether a campaign in status s takes changes to its
// content items: until it is completed. Publishing needs it active besides.
func TakesContent(s Status) bool { return s != Completed && s != Archived }

// ItemStatus is where a content item is in its lifecycle draft → approved
// → published; a removed item is gone.
type ItemStatus string

// Item statuses.
const (
	ItemDraft     ItemStatus = "draft"
	ItemApproved  ItemStatus = "approved"
	ItemPublished ItemStatus = "published"
)

// Limits on field sizes, in characters.
const (
	MaxName        = 200
	MaxDescription = 5000
	MaxItemTitle   = 200
	MaxItemBody    = 50000
)

// Item is what the aggregate knows of a live content item.
type Item struct {
	Status ItemStatus
	// Revision is the campaign stream's revision of the last event about
	// the item: the item's own revision for optimistic concurrency.
	Revision uint64
	title    [sha256.Size]byte
	body     [sha256.Size]byte
	removed  bool
}

// Campaign is the state of one campaign, rebuilt from its events.
type Campaign struct {
	ID          string
	CompanyID   string
	Name        string
	Description string
	AgentID     string
	Channel     Channel
	StartsAt    *time.Time
	EndsAt      *time.Time
	Status      Status
	Deleted     bool
	// Version is the number of events applied; the stream's revision is
	// Version-1.
	Version uint64

	// items holds every content item ever added, removed ones marked so,
	// which keeps an item id from being used twice. Copies of a Campaign
	// share it: Apply writes only to a map this very value made (see
	// writableItems), so a state cached and copied by concurrent commands
	// is never written under a reader.
	items      map[string]Item
	itemsOwner *Campaign
}

// Exists reports whether the campaign was created and not deleted.
func (c *Campaign) Exists() bool { return c.Version > 0 && !c.Deleted }

// Ref is what the role policy needs to know about c.
func (c *Campaign) Ref() domain.CampaignRef { return domain.CampaignRef{CompanyID: c.CompanyID} }

// Item returns the live content item id.
func (c *Campaign) Item(id string) (Item, bool) {
	it, ok := c.items[id]
	return it, ok && !it.removed
}

// KnowsItem reports whether id names a content item of c, live or removed.
func (c *Campaign) KnowsItem(id string) bool {
	_, ok := c.items[id]
	return ok
}

// ItemCount returns the number of live content items.
func (c *Campaign) ItemCount() int {
	n := 0
	for _, it := range c.items {
		if !it.removed {
			n++
		}
	}
	return n
}

// writableItems returns c's item map, first copied if c did not make it
// (c is a copy of the state that did). The owner pointer keeps the maker
// alive, so no other value can take its address meanwhile.
func (c *Campaign) writableItems() map[string]Item {
	if c.itemsOwner != c {
		c.items = maps.Clone(c.items)
		if c.items == nil {
			c.items = map[string]Item{}
		}
		c.itemsOwner = c
	}
	return c.items
}

// Apply evolves c by one event.
func (c *Campaign) Apply(e domain.Event) {
	c.Version++
	revision := c.Version - 1
	switch e := e.(type) {
	case *Created:
		c.ID, c.CompanyID, c.Name, c.Description = e.CampaignID, e.CompanyID, e.Name, e.Description
		c.AgentID, c.Channel, c.StartsAt, c.EndsAt, c.Status = e.AgentID, e.Channel, e.StartsAt, e.EndsAt, Draft
	case *Updated:
		if e.Name != nil {
			c.Name = *e.Name
		}
		if e.Description != nil {
			c.Description = *e.Description
		}
		if e.AgentID != nil {
			c.AgentID = *e.AgentID
		}
		if e.Channel != nil {
			c.Channel = *e.Channel
		}
		if e.Window != nil {
			c.StartsAt, c.EndsAt = e.Window.StartsAt, e.Window.EndsAt
		}
	case *StatusChanged:
		c.Status = e.To
	case *Deleted:
		c.Deleted = true
	case *ContentAdded:
		c.writableItems()[e.ItemID] = Item{Status: ItemDraft, Revision: revision, title: digest(e.Title), body: digest(e.Body)}
	case *ContentEdited:
		items := c.writableItems()
		it := items[e.ItemID]
		if e.Title != nil {
			it.title = digest(*e.Title)
		}
		if e.Body != nil {
			it.body = digest(*e.Body)
		}
		it.Status, it.Revision = ItemDraft, revision
		items[e.ItemID] = it
	case *ContentApproved:
		c.setItemStatus(e.ItemID, ItemApproved, revision)
	case *ContentPublished:
		c.setItemStatus(e.ItemID, ItemPublished, revision)
	case *ContentRemoved:
		items := c.writableItems()
		it := items[e.ItemID]
		it.removed, it.Revision = true, revision
		items[e.ItemID] = it
	}
}

func (c *Campaign) setItemStatus(id string, s ItemStatus, revision uint64) {
	items := c.writableItems()
	it := items[id]
	it.Status, it.Revision = s, revision
	items[id] = it
}

func digest(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

// Window is when a campaign runs; either end may be open (nil). EndsAt
// must be after StartsAt when both are set.
type Window struct {
	StartsAt *time.Time `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at"`
}

// CreateCmd creates a campaign, as a draft.
type CreateCmd struct {
	CampaignID  string
	CompanyID   string
	Name        string
	Description string
	// AgentID is optional until the campaign is scheduled; the caller has
	// checked that it is an agent of the company.
	AgentID  string
	Channel  Channel
	StartsAt *time.Time
	EndsAt   *time.Time
}

// Create decides the creation of a campaign; a new campaign is a draft.
// Times are kept in UTC.
func (c *Campaign) Create(cmd CreateCmd) ([]domain.Event, error) {
	if c.Version > 0 {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	if !domain.ValidID(cmd.CampaignID) {
		p.Add("id", "must be a UUID")
	}
	if !domain.ValidID(cmd.CompanyID) {
		p.Add("company_id", "must be a UUID")
	}
	name := strings.TrimSpace(cmd.Name)
	checkName(p, name)
	checkDescription(p, cmd.Description)
	if cmd.AgentID != "" && !domain.ValidID(cmd.AgentID) {
		p.Add("agent_id", "must be a UUID")
	}
	checkChannel(p, cmd.Channel)
	w := Window{StartsAt: utc(cmd.StartsAt), EndsAt: utc(cmd.EndsAt)}
	checkWindow(p, w)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Created{
		CampaignID: cmd.CampaignID, CompanyID: cmd.CompanyID, Name: name, Description: cmd.Description,
		AgentID: cmd.AgentID, Channel: cmd.Channel, StartsAt: w.StartsAt, EndsAt: w.EndsAt,
	}}, nil
}

// UpdateCmd changes the fields that are set; nil fields stay as they are.
type UpdateCmd struct {
	Name        *string
	Description *string
	// AgentID, when set, changes the agent ("" removes it, which only a
	// draft allows); the caller has checked that it is an agent of the
	// company.
	AgentID *string
	Channel *Channel
	// StartsAt and EndsAt, when set, change that end of the window to the
	// time pointed to, or clear it when that is nil.
	StartsAt **time.Time
	EndsAt   **time.Time
}

// Update decides an edit; only fields that change are recorded, and an
// edit that changes nothing records nothing. Campaigns are edited while
// draft, scheduled or paused (see Editable); past draft, a campaign keeps
// an agent and a start time.
func (c *Campaign) Update(cmd UpdateCmd) ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	p := domain.Problems{}
	var e Updated
	changed := false
	if cmd.Name != nil {
		name := strings.TrimSpace(*cmd.Name)
		checkName(p, name)
		if name != c.Name {
			e.Name, changed = &name, true
		}
	}
	if cmd.Description != nil {
		checkDescription(p, *cmd.Description)
		if *cmd.Description != c.Description {
			e.Description, changed = cmd.Description, true
		}
	}
	if cmd.AgentID != nil {
		switch id := *cmd.AgentID; {
		case id == "" && c.Status != Draft:
			p.Add("agent_id", "is required once the campaign is scheduled")
		case id != "" && !domain.ValidID(id):
			p.Add("agent_id", "must be a UUID")
		case id != c.AgentID:
			e.AgentID, changed = cmd.AgentID, true
		}
	}
	if cmd.Channel != nil {
		checkChannel(p, *cmd.Channel)
		if *cmd.Channel != c.Channel {
			e.Channel, changed = cmd.Channel, true
		}
	}
	w := Window{StartsAt: c.StartsAt, EndsAt: c.EndsAt}
	if cmd.StartsAt != nil {
		w.StartsAt = utc(*cmd.StartsAt)
	}
	if cmd.EndsAt != nil {
		w.EndsAt = utc(*cmd.EndsAt)
	}
	if !sameTime(w.StartsAt, c.StartsAt) || !sameTime(w.EndsAt, c.EndsAt) {
		checkWindow(p, w)
		if w.StartsAt == nil && c.Status != Draft {
			p.Add("starts_at", "is required once the campaign is scheduled")
		}
		e.Window, changed = &w, true
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if !changed {
		return nil, nil
	}
	switch {
	case c.Status == Active:
		return nil, stateErr("cannot edit an active campaign; pause it first")
	case !Editable(c.Status):
		return nil, stateErr("cannot edit %s campaign", article(c.Status))
	}
	return []domain.Event{&e}, nil
}

// ChangeStatus decides moving the campaign along its lifecycle (see
// CanTransition); now is the current time. Scheduling needs an agent and
// a start time, and an end, if any, still to come.
func (c *Campaign) ChangeStatus(to Status, now time.Time) ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	if !to.Valid() {
		return nil, &domain.ValidationError{Fields: map[string]string{"status": "must be one of draft, scheduled, active, paused, completed, archived"}}
	}
	if to == c.Status {
		return nil, nil
	}
	if !CanTransition(c.Status, to) {
		return nil, &TransitionError{From: c.Status, To: to}
	}
	if to == Scheduled {
		p := domain.Problems{}
		if c.AgentID == "" {
			p.Add("agent_id", "is required to schedule the campaign")
		}
		if c.StartsAt == nil {
			p.Add("starts_at", "is required to schedule the campaign")
		}
		if c.EndsAt != nil && !c.EndsAt.After(now) {
			p.Add("ends_at", "has passed; move it to schedule the campaign")
		}
		if err := p.Err(); err != nil {
			return nil, err
		}
	}
	return []domain.Event{&StatusChanged{From: c.Status, To: to}}, nil
}

// Delete decides deleting the campaign, in any status; its history stays.
func (c *Campaign) Delete() ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	return []domain.Event{&Deleted{}}, nil
}

// AddContentCmd adds a content item.
type AddContentCmd struct {
	ItemID   string
	AuthorID string
	Title    string
	Body     string
}

// AddContent decides adding a content item, as a draft.
func (c *Campaign) AddContent(cmd AddContentCmd) ([]domain.Event, error) {
	if err := c.checkContent("add content to"); err != nil {
		return nil, err
	}
	if c.KnowsItem(cmd.ItemID) {
		return nil, fmt.Errorf("content item %s: %w", cmd.ItemID, domain.ErrAlreadyExists)
	}
	p := domain.Problems{}
	if !domain.ValidID(cmd.ItemID) {
		p.Add("id", "must be a UUID")
	}
	title := strings.TrimSpace(cmd.Title)
	checkItemTitle(p, title)
	checkItemBody(p, cmd.Body)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&ContentAdded{ItemID: cmd.ItemID, Title: title, Body: cmd.Body, AuthorID: cmd.AuthorID}}, nil
}

// EditContentCmd changes the fields of a content item that are set.
type EditContentCmd struct {
	ItemID string
	Title  *string
	Body   *string
}

// EditContent decides an edit of a content item; only fields that change
// are recorded, and an edit that changes nothing records nothing. An
// edited approved item is a draft again and needs a new approval; a
// published item is not edited.
func (c *Campaign) EditContent(cmd EditContentCmd) ([]domain.Event, error) {
	it, err := c.liveItem(cmd.ItemID, "edit content of")
	if err != nil {
		return nil, err
	}
	p := domain.Problems{}
	e := ContentEdited{ItemID: cmd.ItemID}
	changed := false
	if cmd.Title != nil {
		title := strings.TrimSpace(*cmd.Title)
		checkItemTitle(p, title)
		if digest(title) != it.title {
			e.Title, changed = &title, true
		}
	}
	if cmd.Body != nil {
		checkItemBody(p, *cmd.Body)
		if digest(*cmd.Body) != it.body {
			e.Body, changed = cmd.Body, true
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if !changed {
		return nil, nil
	}
	if it.Status == ItemPublished {
		return nil, stateErr("cannot edit a published content item")
	}
	return []domain.Event{&e}, nil
}

// ApproveContent decides approving a draft content item; an approved or
// published item records nothing.
func (c *Campaign) ApproveContent(itemID string) ([]domain.Event, error) {
	it, err := c.liveItem(itemID, "approve content of")
	if err != nil {
		return nil, err
	}
	if it.Status != ItemDraft {
		return nil, nil
	}
	return []domain.Event{&ContentApproved{ItemID: itemID}}, nil
}

// PublishContent decides publishing an approved content item, which
// needs the campaign active; a published item records nothing.
func (c *Campaign) PublishContent(itemID string) ([]domain.Event, error) {
	it, err := c.liveItem(itemID, "publish content of")
	if err != nil {
		return nil, err
	}
	switch {
	case it.Status == ItemPublished:
		return nil, nil
	case it.Status != ItemApproved:
		return nil, stateErr("cannot publish a content item that is not approved; approve it first")
	case c.Status != Active:
		return nil, stateErr("cannot publish content of %s campaign; it must be active", article(c.Status))
	}
	return []domain.Event{&ContentPublished{ItemID: itemID}}, nil
}

// RemoveContent decides removing a content item, in any item status; its
// id is never used again.
func (c *Campaign) RemoveContent(itemID string) ([]domain.Event, error) {
	if _, err := c.liveItem(itemID, "remove content of"); err != nil {
		return nil, err
	}
	return []domain.Event{&ContentRemoved{ItemID: itemID}}, nil
}

// checkContent reports whether c exists and takes content changes.
func (c *Campaign) checkContent(verb string) error {
	if !c.Exists() {
		return domain.ErrNotFound
	}
	if !TakesContent(c.Status) {
		return stateErr("cannot %s %s campaign", verb, article(c.Status))
	}
	return nil
}

// liveItem returns the live item id of a campaign that takes content changes.
func (c *Campaign) liveItem(id, verb string) (Item, error) {
	if !c.Exists() {
		return Item{}, domain.ErrNotFound
	}
	it, ok := c.Item(id)
	if !ok {
		return Item{}, fmt.Errorf("content item %s: %w", id, domain.ErrNotFound)
	}
	if err := c.checkContent(verb); err != nil {
		return Item{}, err
	}
	return it, nil
}

// TransitionError is an invalid status change.
type TransitionError struct {
	From, To Status
}

// Error names both statuses.
func (e *TransitionError) Error() string {
	return "cannot change campaign status from " + string(e.From) + " to " + string(e.To)
}

// Unwrap makes errors.Is(err, domain.ErrInvalidTransition) hold.
func (e *TransitionError) Unwrap() error { return domain.ErrInvalidTransition }

type stateError struct{ msg string }

func (e *stateError) Error() string { return e.msg }
func (e *stateError) Unwrap() error { return domain.ErrInvalidTransition }

func stateErr(format string, args ...any) error {
	return &stateError{msg: fmt.Sprintf(format, args...)}
}

// article returns "a draft", "an active"… for messages.
func article(s Status) string {
	if strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + string(s)
	}
	return "a " + string(s)
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func checkName(p domain.Problems, name string) {
	switch {
	case name == "":
		p.Add("name", "must not be empty")
	case utf8.RuneCountInString(name) > MaxName:
		p.Add("name", fmt.Sprintf("must be at most %d characters", MaxName))
	}
}

func checkDescription(p domain.Problems, d string) {
	if utf8.RuneCountInString(d) > MaxDescription {
		p.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescription))
	}
}

func checkChannel(p domain.Problems, ch Channel) {
	if !ch.Valid() {
		p.Add("channel", "must be one of email, social, blog, web")
	}
}

func checkWindow(p domain.Problems, w Window) {
	if w.StartsAt != nil && w.EndsAt != nil && !w.EndsAt.After(*w.StartsAt) {
		p.Add("ends_at", "must be after starts_at")
	}
}

func checkItemTitle(p domain.Problems, title string) {
	switch {
	case title == "":
		p.Add("title", "must not be empty")
	case utf8.RuneCountInString(title) > MaxItemTitle:
		p.Add("title", fmt.Sprintf("must be at most %d characters", MaxItemTitle))
	}
}

func checkItemBody(p domain.Problems, body string) {
	if utf8.RuneCountInString(body) > MaxItemBody {
		p.Add("body", fmt.Sprintf("must be at most %d characters", MaxItemBody))
	}
}
