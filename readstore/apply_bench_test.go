package readstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"agentdesk/projections"
	"agentdesk/readstore"
)

// BenchmarkApplyLive measures the live tail's writes: batches of a few
// new tickets each, as a projection applies them when creates arrive
// over HTTP, into the real tickets collection (its indexes, kept counts,
// text index and tag index). It reports the cost per ticket.
// AGENTDESK_BENCH_STRIP takes parts away to weigh them: fts, counts,
// tags (the tag index and the last four indexes), idx (every index but
// the first), all.
func BenchmarkApplyLive(b *testing.B) {
	for _, size := range []int{1, 16, 64, 2000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := openTestSQLite(b, "")
			ctx := context.Background()
			var tickets readstore.Collection
			for _, p := range projections.All() {
				if p.Collection().Name == projections.Tickets {
					tickets = p.Collection()
				}
			}
			switch os.Getenv("AGENTDESK_BENCH_STRIP") {
			case "fts":
				tickets.TextFields = nil
			case "counts":
				tickets.Counts = nil
			case "tags":
				tickets.Indexes = tickets.Indexes[:10]
			case "all":
				tickets.TextFields, tickets.Counts, tickets.Indexes = nil, nil, tickets.Indexes[:1]
			case "idx":
				tickets.Indexes = tickets.Indexes[:1]
			}
			if err := s.Ensure(ctx, tickets); err != nil {
				b.Fatal(err)
			}
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			company := "01a22b3c-0000-7000-8000-00000000000c"
			n := 0
			b.ResetTimer()
			for b.Loop() {
				var batch readstore.Batch
				for range size {
					n++
					t := projections.Ticket{ID: fmt.Sprintf("t%09d", n), CompanyID: company, Title: fmt.Sprintf("Printer %d on fire", n),
						Description: "It smokes and beeps", Priority: "high", Status: "open", RequesterID: "u1", Tags: []string{"hardware", fmt.Sprintf("floor%d", n%7)},
						CreatedAt: at, UpdatedAt: at, LastActivityAt: at}
					data, _ := json.Marshal(t)
					batch.Writes = append(batch.Writes, readstore.Write{Collection: projections.Tickets, Doc: readstore.Doc{ID: t.ID, Version: fmt.Sprintf("%032x", n), Data: data}})
				}
				batch.Checkpoint = &readstore.Checkpoint{Name: "tickets", Position: fmt.Sprintf("%032x", n)}
				if err := s.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/ticket")
		})
	}
}
