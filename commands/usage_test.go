package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/company"
	"agentdesk/domain/usage"
)

func TestRecordUsage(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	co := uuid.NewString()
	writer := member(co, domain.ContentWriter)
	in := commands.RecordUsage{Model: "gpt-4o-mini", Kind: usage.Completion, PromptTokens: 12, CompletionTokens: 30, TotalTokens: 42}

	res, err := app.RecordUsage(ctx, writer, in)
	if err != nil || !res.Changed {
		t.Fatalf("writer records: %+v, %v", res, err)
	}
	evs := readStream(t, es, usage.Stream(res.ID))
	var got usage.Recorded
	if err := json.Unmarshal(evs[0].Data, &got); err != nil {
		t.Fatal(err)
	}
	want := usage.Recorded{CompanyID: co, UserID: writer.Principal.UserID, Model: "gpt-4o-mini", Kind: usage.Completion,
		PromptTokens: 12, CompletionTokens: 30, TotalTokens: 42}
	if got != want || evs[0].Type != usage.TypeRecorded {
		t.Fatalf("got %s %+v, want %+v", evs[0].Type, got, want)
	}
	if md := evs[0].Metadata; md.CompanyID != co || md.ActorID != writer.Principal.UserID || md.ActorRole != string(domain.ContentWriter) {
		t.Fatalf("got metadata %+v, want the writer's company and id", md)
	}

	// Each record is its own stream: another one lands beside it.
	again, err := app.RecordUsage(ctx, writer, in)
	if err != nil || again.ID == res.ID {
		t.Fatalf("second record: %+v, %v; want a stream of its own", again, err)
	}

	// A platform process records for an agent; a superadmin against no
	// company.
	agentID := uuid.NewString()
	sys, err := app.RecordUsage(ctx, commands.Meta{Principal: domain.SystemPrincipal("embeddings", co)},
		commands.RecordUsage{AgentID: agentID, Model: "text-embedding-3-small", Kind: "embedding", PromptTokens: 900, TotalTokens: 900})
	if err != nil {
		t.Fatalf("system records: %v", err)
	}
	if evs := readStream(t, es, usage.Stream(sys.ID)); evs[0].Metadata.CompanyID != co || evs[0].Metadata.ActorID != "system:embeddings" {
		t.Fatalf("system's record: got metadata %+v", evs[0].Metadata)
	}
	root := superadminMeta()
	sa, err := app.RecordUsage(ctx, root, in)
	if err != nil {
		t.Fatalf("superadmin records: %v", err)
	}
	if evs := readStream(t, es, usage.Stream(sa.ID)); evs[0].Metadata.CompanyID != "" {
		t.Fatalf("superadmin's record: got company %q, want none", evs[0].Metadata.CompanyID)
	}

	// A client talks to agents only; nothing is recorded for it.
	if _, err := app.RecordUsage(ctx, member(co, domain.Client), in); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("client records: got %v, want forbidden", err)
	}
	// No tokens, nothing recorded; bad input, a validation error.
	if res, err := app.RecordUsage(ctx, writer, commands.RecordUsage{Model: "m", Kind: usage.Completion}); err != nil || res.Changed {
		t.Fatalf("no tokens: got %+v, %v; want nothing recorded", res, err)
	}
	wantFieldError(t, func() error {
		_, err := app.RecordUsage(ctx, writer, commands.RecordUsage{Model: "m", Kind: usage.Completion, PromptTokens: -1})
		return err
	}(), "prompt_tokens", "must not be negative")
}

func TestCompanyQuota(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	root := superadminMeta()
	res, err := app.CreateCompany(ctx, root, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	id := res.ID
	n := func(v int64) *int64 { return &v }

	if _, err := app.SetCompanyQuota(ctx, adminOf(id), id, n(1)); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("company admin sets its quota: got %v, want forbidden", err)
	}
	if _, err := app.SetCompanyQuota(ctx, member(id, domain.ContentManager), id, n(1)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("content manager sets the quota: got %v, want not found", err)
	}
	if _, err := app.SetCompanyQuota(ctx, root, id, n(100000)); err != nil {
		t.Fatalf("superadmin sets the quota: %v", err)
	}
	// A rename with the quota sent back unchanged records the rename only;
	// a rename and a new quota land in one append.
	name := "Acme Corp"
	if _, err := app.ChangeCompany(ctx, root, id, commands.CompanyChanges{Name: &name, SetQuota: true, MonthlyTokenQuota: n(100000)}); err != nil {
		t.Fatal(err)
	}
	name = "Acme Inc"
	both, err := app.ChangeCompany(ctx, root, id, commands.CompanyChanges{Name: &name, SetQuota: true})
	if err != nil {
		t.Fatal(err)
	}
	evs := readStream(t, es, company.Stream(id))
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []string{company.TypeCreated, company.TypeQuotaSet, company.TypeUpdated, company.TypeUpdated, company.TypeQuotaSet}
	if len(types) != len(want) {
		t.Fatalf("got events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("got events %v, want %v", types, want)
		}
	}
	if last := evs[len(evs)-1]; string(last.Data) != `{"monthly_token_quota":null}` || both.Revision != last.Revision {
		t.Fatalf("back to the default: got %s at %d", last.Data, last.Revision)
	}
	if _, err := app.SetCompanyQuota(ctx, root, id, n(-5)); err == nil {
		t.Fatal("a negative quota was accepted")
	}
}
