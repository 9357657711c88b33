// Package usage is the usage Record aggregate: what one call to a model
// cost, in tokens, and who made it. Each record is its own stream, so
// that concurrent requests never contend; the read side sums records
// per company, day and agent (see DayKey) and per company and month (see
// MonthKey), where the monthly token quota is checked.
package usage

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"agentdesk/domain"
)

// Kind says what a model was asked for. It is an open set: a kind added
// later needs no change to the events recorded before it.
type Kind string

// Kinds of usage.
const (
	// Completion is a chat completion (POST /api/llm/completion).
	Completion Kind = "completion"
)

// Limits on field sizes, in characters.
const (
	MaxModel = 200
	MaxKind  = 50
	MaxUser  = 200
)

// Record is the state of one usage record, rebuilt from its events.
type Record struct {
	CompanyID string
	// Version is the number of events applied; the stream's revision is
	// Version-1.
	Version uint64
}

// Exists reports whether the record was made.
func (r *Record) Exists() bool { return r.Version > 0 }

// Apply evolves r by one event.
func (r *Record) Apply(e domain.Event) {
	r.Version++
	if e, ok := e.(*Recorded); ok {
		r.CompanyID = e.CompanyID
	}
}

// RecordCmd records what one model call cost.
type RecordCmd struct {
	// CompanyID is the company the tokens count against; "" for a
	// superadmin's own call, which counts against none.
	CompanyID string
	// UserID is who made the call: a user id, or a platform process's
	// actor id ("system:…").
	UserID string
	// AgentID is the agent the call was made for; "" for none (a
	// completion).
	AgentID string
	Model   string
	Kind    Kind
	// Tokens as the provider reported them.
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
}

// Record decides recording a call's usage. A call that cost no tokens
// (a provider that reports none) records nothing.
func (r *Record) Record(cmd RecordCmd) ([]domain.Event, error) {
	if r.Exists() {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	if cmd.CompanyID != "" && !domain.ValidID(cmd.CompanyID) {
		p.Add("company_id", "must be a UUID, or empty for none")
	}
	switch {
	case strings.TrimSpace(cmd.UserID) == "":
		p.Add("user_id", "is required")
	case utf8.RuneCountInString(cmd.UserID) > MaxUser:
		p.Add("user_id", fmt.Sprintf("must be at most %d characters", MaxUser))
	}
	if cmd.AgentID != "" && !domain.ValidID(cmd.AgentID) {
		p.Add("agent_id", "must be a UUID, or empty for none")
	}
	switch {
	case strings.TrimSpace(cmd.Model) == "":
		p.Add("model", "is required")
	case utf8.RuneCountInString(cmd.Model) > MaxModel:
		p.Add("model", fmt.Sprintf("must be at most %d characters", MaxModel))
	}
	if !validKind(cmd.Kind) {
		p.Add("kind", fmt.Sprintf("must be a name of lower-case letters and underscores, at most %d, such as %s", MaxKind, Completion))
	}
	for field, n := range map[string]int{"prompt_tokens": cmd.PromptTokens, "completion_tokens": cmd.CompletionTokens, "total_tokens": cmd.TotalTokens} {
		if n < 0 {
			p.Add(field, "must not be negative")
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if cmd.PromptTokens == 0 && cmd.CompletionTokens == 0 && cmd.TotalTokens == 0 {
		return nil, nil
	}
	return []domain.Event{&Recorded{
		CompanyID: cmd.CompanyID, UserID: cmd.UserID, AgentID: cmd.AgentID, Model: cmd.Model, Kind: cmd.Kind,
		PromptTokens: cmd.PromptTokens, CompletionTokens: cmd.CompletionTokens, TotalTokens: cmd.TotalTokens,
	}}, nil
}

func validKind(k Kind) bool {
	if k == "" || len(k) > MaxKind {
		return false
	}
	for _, r := range k {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

// Keys of the records that sum usage. A record of a company's day for
// one agent is "<company_id>:<YYYY-MM-DD>:<agent_id>", with "none" for
// no company (a superadmin's own calls) or no agent; a company's month
// is "<company_id>:<YYYY-MM>". Days and months are UTC.
const none = "none"

// Day is the UTC day of t, as "2026-11-30".
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// Month is the UTC month of t, as "2026-11".
func Month(t time.Time) string { return t.UTC().Format("2006-01") }

// NextMonth is the first instant of the UTC month after t's: when a
// monthly quota starts again.
func NextMonth(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// DayKey is the id of the usage of companyID ("" for none) on the UTC
// day of t for agentID ("" for none).
func DayKey(companyID string, t time.Time, agentID string) string {
	return or(companyID) + ":" + Day(t) + ":" + or(agentID)
}

// MonthKey is the id of the usage of companyID in the UTC month of t.
func MonthKey(companyID string, t time.Time) string { return companyID + ":" + Month(t) }

// ValidDayKey reports whether id is a DayKey.
func ValidDayKey(id string) bool {
	company, rest, ok := strings.Cut(id, ":")
	if !ok {
		return false
	}
	day, agent, ok := strings.Cut(rest, ":")
	if !ok {
		return false
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil || len(day) != len(time.DateOnly) {
		return false
	}
	return (company == none || domain.ValidID(company)) && (agent == none || domain.ValidID(agent))
}

func or(id string) string {
	if id == "" {
		return none
	}
	return id
}
