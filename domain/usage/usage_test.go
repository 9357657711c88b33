package usage

import (
	"strings"
	"testing"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	recordID  = "aaaaaaaa-1111-4111-8111-111111111111"
	companyID = "22222222-2222-4222-8222-222222222222"
	agentID   = "33333333-3333-4333-8333-333333333333"
	userID    = "44444444-4444-4444-8444-444444444444"
)

func recorded() *Recorded {
	return &Recorded{CompanyID: companyID, UserID: userID, Model: "gpt-4o-mini", Kind: Completion,
		PromptTokens: 12, CompletionTokens: 30, TotalTokens: 42}
}

func TestEventsRoundTrip(t *testing.T) {
	withAgent := recorded()
	withAgent.AgentID = agentID
	domaintest.RoundTrip(t, Events, map[string]domain.Event{TypeRecorded: withAgent})
}

func TestStream(t *testing.T) {
	if got, want := Stream(recordID), "usage-"+recordID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(recordID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(recordID), Category)
	}
}

func TestRecord(t *testing.T) {
	record := func(change func(*RecordCmd)) func(*Record) ([]domain.Event, error) {
		return func(r *Record) ([]domain.Event, error) {
			cmd := RecordCmd{CompanyID: companyID, UserID: userID, Model: "gpt-4o-mini", Kind: Completion,
				PromptTokens: 12, CompletionTokens: 30, TotalTokens: 42}
			change(&cmd)
			return r.Record(cmd)
		}
	}
	with := func(change func(*Recorded)) []domain.Event {
		e := recorded()
		change(e)
		return []domain.Event{e}
	}
	domaintest.Run(t, []domaintest.Spec[Record]{
		{Name: "a completion's tokens", When: record(func(*RecordCmd) {}), Want: []domain.Event{recorded()}},
		{Name: "for an agent", When: record(func(c *RecordCmd) { c.AgentID = agentID }), Want: with(func(e *Recorded) { e.AgentID = agentID })},
		{Name: "a superadmin's own call counts against no company", When: record(func(c *RecordCmd) { c.CompanyID = "" }),
			Want: with(func(e *Recorded) { e.CompanyID = "" })},
		{Name: "a platform process as the user", When: record(func(c *RecordCmd) { c.UserID = "system:embeddings" }),
			Want: with(func(e *Recorded) { e.UserID = "system:embeddings" })},
		{Name: "a kind added later", When: record(func(c *RecordCmd) { c.Kind = "embedding" }), Want: with(func(e *Recorded) { e.Kind = "embedding" })},
		{Name: "the provider's total as it came", When: record(func(c *RecordCmd) { c.TotalTokens = 50 }), Want: with(func(e *Recorded) { e.TotalTokens = 50 })},
		{Name: "no tokens records nothing", When: record(func(c *RecordCmd) { c.PromptTokens, c.CompletionTokens, c.TotalTokens = 0, 0, 0 })},
		{Name: "twice", Given: []domain.Event{recorded()}, When: record(func(*RecordCmd) {}), WantErr: domain.ErrAlreadyExists},
		{Name: "negative tokens", When: record(func(c *RecordCmd) { c.PromptTokens, c.TotalTokens = -1, -1 }),
			WantFields: []string{"prompt_tokens", "total_tokens"}},
		{Name: "bad ids", When: record(func(c *RecordCmd) { c.CompanyID, c.AgentID, c.UserID = "acme", "bot", " " }),
			WantFields: []string{"agent_id", "company_id", "user_id"}},
		{Name: "no model, bad kind", When: record(func(c *RecordCmd) { c.Model, c.Kind = "", "Chat Completion" }),
			WantFields: []string{"kind", "model"}},
		{Name: "empty kind", When: record(func(c *RecordCmd) { c.Kind = "" }), WantFields: []string{"kind"}},
		{Name: "model too long", When: record(func(c *RecordCmd) { c.Model = strings.Repeat("m", MaxModel+1) }), WantFields: []string{"model"}},
	})
}

func TestKeys(t *testing.T) {
	at := time.Date(2026, 11, 30, 23, 59, 59, 0, time.FixedZone("CET", 3600))
	// 23:59:59 at UTC+1 is 22:59:59 UTC: the same day either way, but
	// 00:30 at UTC+1 is the day before in UTC.
	early := time.Date(2026, 12, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600))
	for _, c := range []struct{ got, want string }{
		{DayKey(companyID, at, ""), companyID + ":2026-11-30:none"},
		{DayKey("", at, agentID), "none:2026-11-30:" + agentID},
		{DayKey(companyID, early, agentID), companyID + ":2026-11-30:" + agentID},
		{MonthKey(companyID, early), companyID + ":2026-11"},
		{Month(at), "2026-11"},
		{Day(early), "2026-11-30"},
		{NextMonth(early).Format(time.RFC3339), "2026-12-01T00:00:00Z"},
		{NextMonth(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)).Format(time.RFC3339), "2027-01-01T00:00:00Z"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for id, want := range map[string]bool{
		DayKey(companyID, at, agentID): true,
		DayKey("", at, ""):             true,
		companyID + ":2026-11-31:none": false,
		companyID + ":2026-1-30:none":  false,
		companyID + ":2026-11-30":      false,
		"acme:2026-11-30:none":         false,
		companyID + ":2026-11-30:bot":  false,
		recordID:                       false,
		"":                             false,
	} {
		if got := ValidDayKey(id); got != want {
			t.Errorf("ValidDayKey(%q) = %v, want %v", id, got, want)
		}
	}
}
