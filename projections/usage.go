package projections

import (
	"fmt"
	"time"

	"agentdesk/domain/conversation"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/resource"
	"agentdesk/domain/usage"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Names of the usage read models (and of their projections).
var (
	// Usage holds a document per company, UTC day and agent.
	Usage = resource.Usage.CollectionName()
	// UsageMonthly holds a document per company and UTC month, which the
	// monthly token quota is checked against.
	UsageMonthly = resource.UsageMonthlyCollection
)

// DailyUsage is a document of the usage read model: the tokens of one
// company, UTC day and agent, summed over the calls that spent them.
type DailyUsage struct {
	// ID is usage.DayKey.
	ID string `json:"id"`
	// CompanyID is null for a superadmin's own calls.
	CompanyID *string `json:"company_id"`
	// AgentID is null for calls made for no agent (completions).
	AgentID *string `json:"agent_id"`
	// Day is the UTC day, "2026-11-30"; Month its month, "2026-11".
	Day              string `json:"day"`
	Month            string `json:"month"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	TotalTokens      int64  `json:"total_tokens"`
	// Requests counts the calls.
	Requests  int64     `json:"requests"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MonthlyUsage is a document of the usage_monthly read model: the tokens
// of one company in one UTC month. Calls that count against no company
// have none.
type MonthlyUsage struct {
	// ID is usage.MonthKey.
	ID               string    `json:"id"`
	CompanyID        string    `json:"company_id"`
	Month            string    `json:"month"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	TotalTokens      int64     `json:"total_tokens"`
	Requests         int64     `json:"requests"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// spent is what one event says a call cost, and whom it counts against.
type spent struct {
	companyID, agentID        string
	at                        time.Time
	prompt, completion, total int64
}

// usageSources are the events that spend tokens: usage records, the
// agents' replies in conversations, which carry their own usage, and the
// embeddings of knowledge chunks.
var usageSources = eventstore.Filter{
	Categories: []string{usage.Category, conversation.Category, knowledge.Category},
	Types:      []string{usage.TypeRecorded, conversation.TypeMessagePosted, knowledge.TypeEmbedded},
}

// spending returns what ev cost, or false when it spent nothing (a
// user's message).
func spending(ev eventstore.RecordedEvent) (spent, bool, error) {
	at := ev.Metadata.RecordedAt
	switch ev.Type {
	case usage.TypeRecorded:
		e, err := decode(usage.Events, ev)
		if err != nil {
			return spent{}, false, err
		}
		r := e.(*usage.Recorded)
		return spent{companyID: r.CompanyID, agentID: r.AgentID, at: at,
			prompt: int64(r.PromptTokens), completion: int64(r.CompletionTokens), total: int64(r.TotalTokens)}, true, nil
	case conversation.TypeMessagePosted:
		e, err := decode(conversation.Events, ev)
		if err != nil {
			return spent{}, false, err
		}
		m := e.(*conversation.MessagePosted)
		if m.Usage == nil {
			return spent{}, false, nil
		}
		return spent{companyID: ev.Metadata.CompanyID, agentID: m.AgentID, at: at,
			prompt: int64(m.Usage.PromptTokens), completion: int64(m.Usage.CompletionTokens), total: int64(m.Usage.TotalTokens)}, true, nil
	case knowledge.TypeEmbedded:
		e, err := decode(knowledge.Events, ev)
		if err != nil {
			return spent{}, false, err
		}
		k := e.(*knowledge.Embedded)
		if k.PromptTokens == 0 {
			return spent{}, false, nil
		}
		// An embedding costs its input only.
		return spent{companyID: ev.Metadata.CompanyID, agentID: k.AgentID, at: at,
			prompt: int64(k.PromptTokens), total: int64(k.PromptTokens)}, true, nil
	}
	return spent{}, false, nil
}

// usageDocID returns a DocID function that names the document an event's
// spending goes to, by key ("" for none). An event that cannot be
// decoded is named by its own id, so that Project meets it and reports
// the error rather than it being skipped unseen.
func usageDocID(key func(spent) string) func(eventstore.RecordedEvent) string {
	return func(ev eventstore.RecordedEvent) string {
		s, ok, err := spending(ev)
		switch {
		case err != nil:
			return ev.ID
		case !ok:
			return ""
		}
		return key(s)
	}
}

// UsageProjector builds the usage read model.
func UsageProjector() Projector {
	return &Def[DailyUsage]{
		ProjectionName: Usage,
		Spec:           collectionOf(resource.Usage),
		Categories:     usageSources.Categories,
		Types:          usageSources.Types,
		Totals:         true,
		DocID:          usageDocID(func(s spent) string { return usage.DayKey(s.companyID, s.at, s.agentID) }),
		Project: func(ev eventstore.RecordedEvent, cur *DailyUsage) (*DailyUsage, error) {
			s, err := mustSpend(ev)
			if err != nil {
				return nil, err
			}
			next := DailyUsage{ID: usage.DayKey(s.companyID, s.at, s.agentID), CompanyID: nullable(s.companyID),
				AgentID: nullable(s.agentID), Day: usage.Day(s.at), Month: usage.Month(s.at)}
			if cur != nil {
				next = *cur
			}
			next.PromptTokens += s.prompt
			next.CompletionTokens += s.completion
			next.TotalTokens += s.total
			next.Requests++
			next.UpdatedAt = s.at
			return &next, nil
		},
	}
}

// UsageMonthlyProjector builds the usage_monthly read model.
func UsageMonthlyProjector() Projector {
	return &Def[MonthlyUsage]{
		ProjectionName: UsageMonthly,
		Spec: readstore.Collection{
			Name:   UsageMonthly,
			Fields: []readstore.Field{{Name: "company_id", Type: readstore.String}, {Name: "month", Type: readstore.String}},
			// The quota reads one document by id; the index serves a
			// company's months for operators.
			Indexes: [][]string{{"company_id", "month"}},
		},
		Categories: usageSources.Categories,
		Types:      usageSources.Types,
		Totals:     true,
		DocID: usageDocID(func(s spent) string {
			if s.companyID == "" {
				return "" // a superadmin's own calls count against no quota
			}
			return usage.MonthKey(s.companyID, s.at)
		}),
		Project: func(ev eventstore.RecordedEvent, cur *MonthlyUsage) (*MonthlyUsage, error) {
			s, err := mustSpend(ev)
			if err != nil {
				return nil, err
			}
			next := MonthlyUsage{ID: usage.MonthKey(s.companyID, s.at), CompanyID: s.companyID, Month: usage.Month(s.at)}
			if cur != nil {
				next = *cur
			}
			next.PromptTokens += s.prompt
			next.CompletionTokens += s.completion
			next.TotalTokens += s.total
			next.Requests++
			next.UpdatedAt = s.at
			return &next, nil
		},
	}
}

// mustSpend is spending for an event that DocID named a document for.
func mustSpend(ev eventstore.RecordedEvent) (spent, error) {
	s, ok, err := spending(ev)
	if err == nil && !ok {
		err = fmt.Errorf("%s spent no tokens", ev.Type)
	}
	return s, err
}

// nullable is id, or nil for "".
func nullable(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}
