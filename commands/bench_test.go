package commands_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/mattn/go-sqlite3"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/eventstore"
)

type noHash struct{}

func (noHash) Hash(pw string) (string, error) { return "x:" + pw, nil }

func (noHash) Verify(hash, pw string) bool { return hash == "x:"+pw }

// BenchmarkAppend measures concurrent single-event ticket commands through
// the whole command pipeline (load the stream, decide, encode, append with
// the expected revision) into the SQLite event store, beside a raw batched
// INSERT of rows of the same size into an equivalent table in the same run.
// Run it with a fixed count, for example -benchtime 20000x.
func BenchmarkAppend(b *testing.B) {
	for _, g := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("pipeline/goroutines=%d", g), func(b *testing.B) { benchPipeline(b, g, false) })
	}
	b.Run("pipeline-comment/goroutines=64", func(b *testing.B) { benchPipeline(b, 64, true) })
	b.Run("raw-insert/batch=64", benchRawInsert)
}

// benchPipeline runs b.N commands on goroutines workers: ticket opens, or
// with comment set, comments on existing tickets (100 per worker, taken
// in turn), which load the ticket's stream before appending.
func benchPipeline(b *testing.B, goroutines int, comment bool) {
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(b.TempDir(), "events.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer es.Close()
	app, err := commands.New(commands.Config{Store: es, Hasher: noHash{}})
	if err != nil {
		b.Fatal(err)
	}
	company := uuid.NewString()
	m := commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), CompanyID: company, Role: domain.CompanyAdmin}}
	ctx := context.Background()
	var tickets []string
	if comment {
		for range goroutines * 100 {
			res, err := app.OpenTicket(ctx, m, commands.OpenTicket{Title: "to comment on"})
			if err != nil {
				b.Fatal(err)
			}
			tickets = append(tickets, res.ID)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	b.ResetTimer()
	start := time.Now()
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				var err error
				if comment {
					_, err = app.CommentTicket(ctx, m, tickets[int(i)%len(tickets)], "on my way")
				} else {
					_, err = app.OpenTicket(ctx, m, commands.OpenTicket{Title: fmt.Sprintf("ticket %d", i), Description: "the printer is on fire", Priority: "high", Tags: []string{"hardware"}})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commands/s")
}

// benchRawInsert is the ceiling: the same rows inserted 64 per multi-row
// statement and transaction by one goroutine, with the event store's
// schema and pragmas (WAL, synchronous=FULL).
func benchRawInsert(b *testing.B) {
	path := filepath.Join(b.TempDir(), "raw.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=FULL")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
		stream_id TEXT NOT NULL, revision INTEGER NOT NULL, type TEXT NOT NULL, schema_version INTEGER NOT NULL,
		company_id TEXT NOT NULL, category TEXT NOT NULL, data BLOB NOT NULL, metadata BLOB NOT NULL,
		UNIQUE (stream_id, revision));
		CREATE INDEX events_company ON events (company_id, position);`); err != nil {
		b.Fatal(err)
	}
	const batch = 64
	stmt, err := db.Prepare("INSERT INTO events (id, stream_id, revision, type, schema_version, company_id, category, data, metadata) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?),", batch), ","))
	if err != nil {
		b.Fatal(err)
	}
	company := uuid.NewString()
	data := []byte(`{"ticket_id":"` + uuid.NewString() + `","company_id":"` + company + `","title":"ticket 123456","description":"the printer is on fire","priority":"high","requester_id":"` + uuid.NewString() + `","tags":["hardware"]}`)
	meta := []byte(`{"company_id":"` + company + `","actor_id":"` + uuid.NewString() + `","actor_role":"company_admin","correlation_id":"` + uuid.NewString() + `","causation_id":"` + uuid.NewString() + `","command_id":"` + uuid.NewString() + `","recorded_at":"2026-11-25T18:00:00.123456789Z"}`)
	args := make([]any, 0, batch*9)
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; done += batch {
		args = args[:0]
		for range batch {
			id := uuid.Must(uuid.NewV7()).String()
			args = append(args, id, "ticket-"+id, 0, "ticket.opened", 1, company, "ticket", data, meta)
		}
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Stmt(stmt).Exec(args...); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rows := (b.N + batch - 1) / batch * batch
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "events/s")
}
