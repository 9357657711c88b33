package company

import (
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const companyID = "aaaaaaaa-1111-4111-8111-111111111111"

func created() *Created { return &Created{CompanyID: companyID, Name: "Acme"} }

var deletedCompany = []domain.Event{created(), &Deleted{}}

func create(id, name string) func(*Company) ([]domain.Event, error) {
	return func(c *Company) ([]domain.Event, error) { return c.Create(id, name) }
}

func update(name string) func(*Company) ([]domain.Event, error) {
	return func(c *Company) ([]domain.Event, error) { return c.Update(name) }
}

func del(c *Company) ([]domain.Event, error) { return c.Delete() }

func TestCreate(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Company]{
		{Name: "creates a company", When: create(companyID, "Acme"), Want: []domain.Event{created()}},
		{
			Name: "trims the name",
			When: create(companyID, " \tAcme Corp \n"),
			Want: []domain.Event{&Created{CompanyID: companyID, Name: "Acme Corp"}},
		},
		{
			Name: "accepts the longest name, counted in runes",
			When: create(companyID, strings.Repeat("é", MaxName)),
			Want: []domain.Event{&Created{CompanyID: companyID, Name: strings.Repeat("é", MaxName)}},
		},
		{Name: "rejects an empty name", When: create(companyID, ""), WantFields: []string{"name"}},
		{Name: "rejects a blank name", When: create(companyID, "  \t"), WantFields: []string{"name"}},
		{Name: "rejects a too long name", When: create(companyID, strings.Repeat("x", MaxName+1)), WantFields: []string{"name"}},
		{Name: "rejects an id that is not a UUID", When: create("acme", "Acme"), WantFields: []string{"id"}},
		{Name: "rejects an upper-case id", When: create(strings.ToUpper(companyID), "Acme"), WantFields: []string{"id"}},
		{Name: "reports every invalid field at once", When: create("", ""), WantFields: []string{"id", "name"}},
		{Name: "cannot create twice", Given: []domain.Event{created()}, When: create(companyID, "Acme"), WantErr: domain.ErrAlreadyExists},
		{Name: "cannot reuse a deleted company's id", Given: deletedCompany, When: create(companyID, "Acme"), WantErr: domain.ErrAlreadyExists},
	})
}

func TestUpdate(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Company]{
		{
			Name:  "renames, trimmed",
			Given: []domain.Event{created()},
			When:  update("  Acme Corp "),
			Want:  []domain.Event{&Updated{Name: "Acme Corp"}},
		},
		{Name: "the same name records nothing", Given: []domain.Event{created()}, When: update("Acme")},
		{Name: "the same name with spaces records nothing", Given: []domain.Event{created()}, When: update(" Acme\n")},
		{
			Name:  "a change of case is a rename",
			Given: []domain.Event{created()},
			When:  update("ACME"),
			Want:  []domain.Event{&Updated{Name: "ACME"}},
		},
		{
			Name:  "sees an earlier rename",
			Given: []domain.Event{created(), &Updated{Name: "Acme Corp"}},
			When:  update("Acme Corp"),
		},
		{Name: "rejects an empty name", Given: []domain.Event{created()}, When: update(" "), WantFields: []string{"name"}},
		{
			Name:       "rejects a too long name",
			Given:      []domain.Event{created()},
			When:       update(strings.Repeat("x", MaxName+1)),
			WantFields: []string{"name"},
		},
		{Name: "a deleted company is not found", Given: deletedCompany, When: update("Acme Corp"), WantErr: domain.ErrNotFound},
		{Name: "a company never created is not found", When: update("Acme Corp"), WantErr: domain.ErrNotFound},
	})
}

func TestDelete(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Company]{
		{Name: "deletes a company", Given: []domain.Event{created()}, When: del, Want: []domain.Event{&Deleted{}}},
		{
			Name:  "deletes a renamed company",
			Given: []domain.Event{created(), &Updated{Name: "Acme Corp"}},
			When:  del,
			Want:  []domain.Event{&Deleted{}},
		},
		{Name: "cannot delete twice", Given: deletedCompany, When: del, WantErr: domain.ErrNotFound},
		{Name: "a company never created is not found", When: del, WantErr: domain.ErrNotFound},
	})
}

func TestApply(t *testing.T) {
	for _, c := range []struct {
		name       string
		given      []domain.Event
		want       Company
		wantExists bool
	}{
		{name: "nothing", want: Company{}},
		{name: "created", given: []domain.Event{created()}, want: Company{ID: companyID, Name: "Acme", Version: 1}, wantExists: true},
		{
			name:       "renamed",
			given:      []domain.Event{created(), &Updated{Name: "Acme Corp"}},
			want:       Company{ID: companyID, Name: "Acme Corp", Version: 2},
			wantExists: true,
		},
		{name: "deleted", given: deletedCompany, want: Company{ID: companyID, Name: "Acme", Deleted: true, Version: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := domaintest.Replay[Company](c.given)
			if got != c.want {
				t.Fatalf("got state %+v, want %+v", got, c.want)
			}
			if got.Exists() != c.wantExists {
				t.Fatalf("got Exists() = %v, want %v", got.Exists(), c.wantExists)
			}
		})
	}
}

func TestEventsRoundTrip(t *testing.T) {
	domaintest.RoundTrip(t, Events, map[string]domain.Event{
		"company.created":     created(),
		"company.updated":     &Updated{Name: "Acme Corp"},
		"company.deleted":     &Deleted{},
		"company.suspended":   &SuspendedEvent{},
		"company.reactivated": &Reactivated{},
		"company.quota_set":   &QuotaSet{MonthlyTokenQuota: domaintest.Ptr[int64](100000)},
	})
}

func TestSetQuota(t *testing.T) {
	set := func(q *int64) func(*Company) ([]domain.Event, error) {
		return func(c *Company) ([]domain.Event, error) { return c.SetQuota(q) }
	}
	n := domaintest.Ptr[int64]
	domaintest.Run(t, []domaintest.Spec[Company]{
		{Name: "sets a quota", Given: []domain.Event{created()}, When: set(n(100000)), Want: []domain.Event{&QuotaSet{MonthlyTokenQuota: n(100000)}}},
		{Name: "zero is no tokens at all", Given: []domain.Event{created()}, When: set(n(0)), Want: []domain.Event{&QuotaSet{MonthlyTokenQuota: n(0)}}},
		{Name: "the largest", Given: []domain.Event{created()}, When: set(n(MaxQuota)), Want: []domain.Event{&QuotaSet{MonthlyTokenQuota: n(MaxQuota)}}},
		{Name: "changes a quota", Given: []domain.Event{created(), &QuotaSet{MonthlyTokenQuota: n(5)}}, When: set(n(6)),
			Want: []domain.Event{&QuotaSet{MonthlyTokenQuota: n(6)}}},
		{Name: "null restores the default", Given: []domain.Event{created(), &QuotaSet{MonthlyTokenQuota: n(5)}}, When: set(nil),
			Want: []domain.Event{&QuotaSet{}}},
		{Name: "the same quota records nothing", Given: []domain.Event{created(), &QuotaSet{MonthlyTokenQuota: n(5)}}, When: set(n(5))},
		{Name: "the default again records nothing", Given: []domain.Event{created()}, When: set(nil)},
		{Name: "zero is not the default", Given: []domain.Event{created(), &QuotaSet{MonthlyTokenQuota: n(0)}}, When: set(nil),
			Want: []domain.Event{&QuotaSet{}}},
		{Name: "rejects a negative quota", Given: []domain.Event{created()}, When: set(n(-1)), WantFields: []string{"monthly_token_quota"}},
		{Name: "rejects a huge quota", Given: []domain.Event{created()}, When: set(n(MaxQuota + 1)), WantFields: []string{"monthly_token_quota"}},
		{Name: "a deleted company is not found", Given: deletedCompany, When: set(n(5)), WantErr: domain.ErrNotFound},
	})
	// The event holds its own copy: changing the caller's number later
	// changes nothing recorded.
	q := int64(7)
	var c Company
	c.Apply(created())
	evs, _ := c.SetQuota(&q)
	q = 8
	if got := *evs[0].(*QuotaSet).MonthlyTokenQuota; got != 7 {
		t.Fatalf("got quota %d after the caller changed its number, want 7", got)
	}
}

func TestDecodeUnknownType(t *testing.T) {
	for _, eventType := range []string{"company.exploded", "ticket.opened", ""} {
		got, err := Events.Decode(eventType, 1, []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("Decode(%q): got %v, %v, want an unknown event type error", eventType, got, err)
		}
	}
}

func TestStream(t *testing.T) {
	if got, want := Stream(companyID), "company-"+companyID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(companyID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(companyID), Category)
	}
}

func TestSuspendReactivate(t *testing.T) {
	suspend := func(c *Company) ([]domain.Event, error) { return c.Suspend() }
	reactivate := func(c *Company) ([]domain.Event, error) { return c.Reactivate() }
	domaintest.Run(t, []domaintest.Spec[Company]{
		{Name: "suspends an active company", Given: []domain.Event{created()}, When: suspend, Want: []domain.Event{&SuspendedEvent{}}},
		{Name: "suspending again records nothing", Given: []domain.Event{created(), &SuspendedEvent{}}, When: suspend},
		{Name: "reactivates a suspended company", Given: []domain.Event{created(), &SuspendedEvent{}}, When: reactivate, Want: []domain.Event{&Reactivated{}}},
		{Name: "reactivating an active company records nothing", Given: []domain.Event{created()}, When: reactivate},
		{Name: "a missing company cannot be suspended", When: suspend, WantErr: domain.ErrNotFound},
		{Name: "a deleted company cannot be reactivated", Given: []domain.Event{created(), &SuspendedEvent{}, &Deleted{}}, When: reactivate, WantErr: domain.ErrNotFound},
	})
}
