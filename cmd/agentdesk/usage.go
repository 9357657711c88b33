package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/usage"
	"agentdesk/readapi"
)

// usageMeter records completions' usage as events, through the commands
// (readapi.Meter): the query API appends nothing itself.
type usageMeter struct{ app *commands.App }

// Record implements readapi.Meter.
func (u usageMeter) Record(ctx context.Context, p domain.Principal, model string, t readapi.TokenUsage) error {
	_, err := u.app.RecordUsage(ctx, commands.Meta{Principal: p, RequestID: middleware.GetReqID(ctx)}, commands.RecordUsage{
		Model: model, Kind: usage.Completion, PromptTokens: t.PromptTokens, CompletionTokens: t.CompletionTokens, TotalTokens: t.TotalTokens})
	return err
}

// clock is the wall clock, or the time a test set.
type clock struct {
	set atomic.Pointer[func() time.Time]
}

// Now returns the time.
func (c *clock) Now() time.Time {
	if f := c.set.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// setClock makes now tell the time (tests).
func (c *clock) setClock(now func() time.Time) { c.set.Store(&now) }
