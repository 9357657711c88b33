package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	decl "agentdesk/domain/resource"
	"agentdesk/domain/usage"
	"agentdesk/readstore"
)

// Quota checks companies' monthly token quotas: what a company's users
// may spend on the LLM in a UTC month, its own (monthly_token_quota of
// its record, set by a superadmin) or else Default. It reads the
// companies read model and the month's total from usage_monthly.
//
// The check is best-effort under concurrency: a request is admitted on
// what was spent before it and recorded after it answered, so requests
// in flight together, or sent before the last ones were counted (the
// totals are projected from the log a moment after each request), can
// overshoot the quota by their own size. The next request then sees the
// overshoot and is refused.
//
// A Quota is safe for concurrent use. Other endpoints that spend tokens
// (agents' chat) call Check through an interface of their own.
type Quota struct {
	// Store holds the read models; required.
	Store readstore.Store
	// Default is the quota of a company that has none of its own; 0 or
	// less means no limit.
	Default int64
	// Now tells the time, which says the month; default time.Now.
	Now func() time.Time
	// Observer, when set, counts each refusal ("token_quota"), for
	// completions and chats alike.
	Observer RateLimitObserver
}

// QuotaExceededError is a company that has spent its monthly token
// quota: 429, with Retry-After until the month ends.
type QuotaExceededError struct {
	CompanyID string
	// Company names the company in the message: its name, or its id.
	Company string
	// Used and Limit are the month's tokens and the quota.
	Used, Limit int64
	// ResetsAt is the first instant of the next UTC month, and Wait how
	// long until then.
	ResetsAt time.Time
	Wait     time.Duration
}

// Error says who spent what and when it resets.
func (e *QuotaExceededError) Error() string {
	return fmt.Sprintf("company %s has used %s of its %s monthly tokens; the quota resets on %s",
		e.Company, thousands(e.Used), thousands(e.Limit), e.ResetsAt.UTC().Format(time.RFC3339))
}

// HTTPStatus is 429.
func (e *QuotaExceededError) HTTPStatus() int { return http.StatusTooManyRequests }

// RetryAfter is the wait until the quota resets.
func (e *QuotaExceededError) RetryAfter() time.Duration { return e.Wait }

// Check returns a *QuotaExceededError when companyID has spent its
// quota this month (used at or past it), nil when it may spend more or
// has no limit. A principal with no company (a superadmin) is never
// limited: pass "". Other errors are the read store's.
func (q *Quota) Check(ctx context.Context, companyID string) error {
	if companyID == "" {
		return nil
	}
	var co struct {
		Name              string `json:"name"`
		MonthlyTokenQuota *int64 `json:"monthly_token_quota"`
	}
	if err := q.read(ctx, decl.Companies.CollectionName(), companyID, &co); err != nil {
		return err
	}
	limit := q.Default
	if co.MonthlyTokenQuota != nil {
		limit = *co.MonthlyTokenQuota
	} else if limit <= 0 {
		return nil
	}
	now := time.Now
	if q.Now != nil {
		now = q.Now
	}
	at := now()
	var month struct {
		TotalTokens int64 `json:"total_tokens"`
	}
	if err := q.read(ctx, decl.UsageMonthlyCollection, usage.MonthKey(companyID, at), &month); err != nil {
		return err
	}
	if month.TotalTokens < limit {
		return nil
	}
	name := co.Name
	if name == "" {
		name = companyID
	}
	reset := usage.NextMonth(at)
	if q.Observer != nil {
		q.Observer.RateLimited(companyID, "token_quota")
	}
	return &QuotaExceededError{CompanyID: companyID, Company: name, Used: month.TotalTokens, Limit: limit, ResetsAt: reset, Wait: reset.Sub(at)}
}

// read decodes document id of collection into v; a missing one leaves v
// as it is.
func (q *Quota) read(ctx context.Context, collection, id string, v any) error {
	doc, err := q.Store.Get(ctx, collection, id)
	if errors.Is(err, readstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("token quota: read %s: %w", collection, err)
	}
	if err := json.Unmarshal(doc.Data, v); err != nil {
		return fmt.Errorf("token quota: decode %s/%s: %w", collection, id, err)
	}
	return nil
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return sign + string(out)
}
