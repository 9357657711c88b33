package readstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

func BenchmarkZZTune(b *testing.B) {
	const batchSize = 500
	bodies := make([]json.RawMessage, 1000)
	for i := range bodies {
		bodies[i] = ticketJSON(i, fmt.Sprintf("c-%02d", i%90))
	}
	for _, pragmas := range strings.Split(os.Getenv("TUNE"), "|") {
		b.Run(pragmas, func(b *testing.B) {
			s := openTestSQLite(b, "")
			ctx := context.Background()
			for _, p := range strings.Split(pragmas, ";") {
				if p != "" {
					if _, err := s.wconn.ExecContext(ctx, "PRAGMA "+p); err != nil {
						b.Fatal(err)
					}
				}
			}
			c := benchTickets()
			if os.Getenv("NOIDX") != "" {
				c.Indexes = nil
			}
			if err := s.Ensure(ctx, c); err != nil {
				b.Fatal(err)
			}
			writes := make([]Write, batchSize)
			version := uint64(0)
			round := 0
			for b.Loop() {
				for i := range writes {
					version++
					id := round*batchSize + i
					writes[i] = Write{Collection: "tickets", Doc: Doc{ID: "tkt-" + strconv.Itoa(id), Version: version, Data: bodies[(round*batchSize+i)%len(bodies)]}}
				}
				round++
				if err := s.Apply(ctx, Batch{Writes: writes, Checkpoint: &Checkpoint{Name: "tickets", Position: version}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}
