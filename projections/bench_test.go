package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// benchEvents is the size of the catch-up benchmark's event log;
// AGENTDESK_BENCH_EVENTS overrides the default of 1,000,000.
func benchEvents(tb testing.TB) int {
	n := 1_000_000
	if s := os.Getenv("AGENTDESK_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 5 {
			tb.Fatalf("AGENTDESK_BENCH_EVENTS=%q: want an integer >= 5", s)
		}
		n = v
	}
	return n
}

// fillTickets appends n ticket events: tickets in chunks of 1,000, each
// opened, edited, assigned, moved to in_progress and commented, one kind of
// event at a time across the chunk, so consecutive events touch different
// documents as they do in production.
func fillTickets(tb testing.TB, es eventstore.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	company := uuid.NewString()
	actor := uuid.NewString()
	meta := eventstore.Metadata{CompanyID: company, ActorID: actor, ActorRole: "company_admin", RecordedAt: time.Now().UTC()}
	const chunk, perTicket = 1000, 5
	tickets := n / perTicket
	title := "Printer on fire again"
	prio := ticket.High
	steps := []func(id string) any{
		func(id string) any {
			return &ticket.Opened{TicketID: id, CompanyID: company, Title: "Printer on fire", Description: "Smoke on the third floor", Priority: ticket.Normal, RequesterID: actor, Tags: []string{"hardware"}}
		},
		func(string) any { return &ticket.Edited{Title: &title, Priority: &prio} },
		func(string) any { return &ticket.Assigned{AssigneeID: actor} },
		func(string) any { return &ticket.StatusChanged{From: ticket.Open, To: ticket.InProgress} },
		func(string) any {
			return &ticket.Commented{CommentID: uuid.NewString(), AuthorID: actor, Body: "On my way"}
		},
	}
	types := []string{ticket.TypeOpened, ticket.TypeEdited, ticket.TypeAssigned, ticket.TypeStatusChanged, ticket.TypeCommented}
	for start := 0; start < tickets; start += chunk {
		ids := make([]string, min(chunk, tickets-start))
		for i := range ids {
			ids[i] = uuid.Must(uuid.NewV7()).String()
		}
		for step := range perTicket {
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for w := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < len(ids); i += 64 {
						e := steps[step](ids[i])
						data, _ := json.Marshal(e)
						expected := eventstore.Exact(uint64(step - 1))
						if step == 0 {
							expected = eventstore.NoStream
						}
						ev := eventstore.EventData{ID: uuid.Must(uuid.NewV7()).String(), Type: types[step], SchemaVersion: domain.SchemaVersion(e.(domain.Event)), Data: data, Metadata: meta}
						if _, err := es.Append(ctx, ticket.Stream(ids[i]), expected, []eventstore.EventData{ev}); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// BenchmarkCatchUp measures events per second projected into the tickets
// read model from scratch, from an event log of AGENTDESK_BENCH_EVENTS
// (default 1,000,000) ticket events. Run it with -benchtime 1x.
func BenchmarkCatchUp(b *testing.B) {
	n := benchEvents(b)
	dir := b.TempDir()
	es, head := filledLog(b, dir, n)
	defer es.Close()
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(dir, fmt.Sprintf("reads-%d.db", i))})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r, err := projections.New(ctx, projections.Config{Events: es, Reads: rs, Projectors: []projections.Projector{projections.TicketsProjector()}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx) }()
		if err := r.Wait(context.Background(), projections.Tickets, head); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		cancel()
		<-done
		docs, count, err := rs.Query(context.Background(), projections.Tickets, readstore.Query{Limit: 1, Count: true})
		if err != nil || count != int64(n/5) || len(docs) != 1 {
			b.Fatalf("projected %d tickets (err %v), want %d", count, err, n/5)
		}
		rs.Close()
	}
	b.ReportMetric(float64(head.Commit)*float64(b.N)/total.Seconds(), "events/s") // SQLite numbers events 1, 2, 3, …
}

// filledLog opens an SQLite event log in dir and fills it with n ticket
// events (fillTickets); it returns the log and its head.
func filledLog(b *testing.B, dir string, n int) (*eventstore.SQLiteStore, eventstore.Position) {
	b.Helper()
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	fillTickets(b, es, n)
	head, err := es.Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %s events in %s", head, time.Since(start).Round(time.Millisecond))
	return es, head
}
