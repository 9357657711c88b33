package projections_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// BenchmarkAsOf measures the state of a ticket with 10,000 events as of
// its last event and as of its middle, replayed from the SQLite event log
// with the snapshot cache warm (cold: the first call, which takes the
// snapshots), and a page of 25 of its history, newest first.
//
//	go test -run '^$' -bench AsOf -benchtime 200x ./projections/
func BenchmarkAsOf(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer es.Close()
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(dir, "reads.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	const n = 10_000
	id := uuid.NewString()
	appendTicket(b, es, id, eventstore.NoStream, &ticket.Opened{TicketID: id, CompanyID: "c1", Title: "Long-lived", Priority: ticket.Normal, RequesterID: "u1"})
	for i := 1; i < n; i += 100 {
		evs := make([]domain.Event, 0, 100)
		for j := i; j < min(n, i+100); j++ {
			if j%2 == 0 {
				title := fmt.Sprintf("title %d", j)
				evs = append(evs, &ticket.Edited{Title: &title})
			} else {
				evs = append(evs, &ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: "again"})
			}
		}
		appendTicket(b, es, id, eventstore.Exact(uint64(i-1)), evs...)
	}
	r, ok := projections.ReplayerOf(projections.Tickets)
	if !ok {
		b.Fatal("no replayer for tickets")
	}
	snaps, err := projections.NewSnapshots(ctx, rs)
	if err != nil {
		b.Fatal(err)
	}
	mid := uint64(n/2 + 249) // half a snapshot interval past one: 250 events to replay
	for _, c := range []struct {
		name  string
		until projections.Until
		snaps *projections.Snapshots
	}{
		{"last-no-snapshots", projections.Until{}, nil},
		{"last", projections.Until{}, snaps},
		{"middle", projections.Until{Revision: &mid}, snaps},
	} {
		b.Run(c.name, func(b *testing.B) {
			cold := time.Now()
			if _, _, err := projections.StateAt(ctx, es, c.snaps, r, id, c.until); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(cold).Microseconds())/1000, "cold-ms")
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				if _, _, err := projections.StateAt(ctx, es, c.snaps, r, id, c.until); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			reportLatency(b, lat)
		})
	}
	b.Run("history-page", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			page, total, err := projections.HistoryPage(ctx, es, snaps, r, id, true, 0, 25)
			if err != nil || total != n || len(page) != 25 {
				b.Fatalf("%d of %d, %v", len(page), total, err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
