package reactions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/eventstore"
	"agentdesk/reactions"
	"agentdesk/reactions/reactionstest"
)

// BenchmarkReactions measures the notifications reaction end to end, on
// the in-process GoChannel and on an embedded NATS JetStream server:
//
//   - throughput: AGENTDESK_BENCH_TICKETS (default 2,000) tickets are
//     assigned by 16 writers at once, and the clock runs from the first
//     assignment until the last assignee's notification is appended;
//   - lag: assignments are appended at 1,000 a second for 5 s, and each
//     one's lag runs from its append until its notification is appended.
//
// Run it with: go test -run '^$' -bench Reactions -benchtime 1x ./reactions/
func BenchmarkReactions(b *testing.B) {
	n := 2000
	if s := os.Getenv("AGENTDESK_BENCH_TICKETS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for _, transport := range []string{"gochannel", "nats"} {
		b.Run(transport, func(b *testing.B) {
			for b.Loop() {
				w := newWorld(b)
				_, admin := w.company(b, "bench")
				writer := w.user(b, admin, "wanda", domain.ContentWriter)
				ps := reactions.NewGoChannel(slog.New(slog.DiscardHandler))
				if transport == "nats" {
					var err error
					if ps, err = reactions.NewNATS(reactions.NATSConfig{URL: reactionstest.RunNATS(b)}, slog.New(slog.DiscardHandler)); err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { ps.Close() })
				}
				tickets := open(b, w, admin, n+5000)
				seen := watchNotifications(b, w)
				start(b, reactions.Config{Events: w.events, Checkpoints: &memCheckpoints{}, Parking: &memParking{}, PubSub: ps,
					Reactions: []reactions.Reaction{reactions.Notifications(w.app)}})

				// Throughput.
				t0 := time.Now()
				var wg sync.WaitGroup
				next := make(chan string)
				for range 16 {
					wg.Go(func() {
						for id := range next {
							if _, err := w.app.AssignTicket(context.Background(), admin, id, writer.Principal.UserID); err != nil {
								b.Error(err)
							}
						}
					})
				}
				for _, id := range tickets[:n] {
					next <- id
				}
				close(next)
				wg.Wait()
				last := seen.waitAll(b, tickets[:n])
				rate := float64(n) / last.Sub(t0).Seconds()
				b.ReportMetric(rate, "events/s")

				// Lag at 1,000 appends a second.
				paced := tickets[n:]
				appended := make([]time.Time, len(paced))
				tick := time.NewTicker(time.Millisecond)
				for i, id := range paced {
					<-tick.C
					appended[i] = time.Now()
					go func() {
						if _, err := w.app.AssignTicket(context.Background(), admin, id, writer.Principal.UserID); err != nil {
							b.Error(err)
						}
					}()
				}
				tick.Stop()
				seen.waitAll(b, paced)
				lags := make([]time.Duration, len(paced))
				for i, id := range paced {
					lags[i] = seen.at(id).Sub(appended[i])
				}
				slices.Sort(lags)
				p50, p99 := lags[len(lags)/2], lags[len(lags)*99/100]
				b.ReportMetric(float64(p50.Microseconds())/1000, "lag-p50-ms")
				b.ReportMetric(float64(p99.Microseconds())/1000, "lag-p99-ms")
				b.Logf("%s: %d assignments → notifications at %.0f events/s; at 1,000 appends/s lag p50 %s, p99 %s",
					transport, n, rate, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
			}
		})
	}
}

// open opens n tickets and returns their ids.
func open(b *testing.B, w *world, m commands.Meta, n int) []string {
	b.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < n; i += 16 {
				res, err := w.app.OpenTicket(context.Background(), m, commands.OpenTicket{Title: fmt.Sprintf("Ticket %d", i)})
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = res.ID
			}
		})
	}
	wg.Wait()
	return ids
}

// notifications notes when each ticket's first notification was appended.
type notifications struct {
	mu   sync.Mutex
	seen map[string]time.Time
	cond *sync.Cond
}

func watchNotifications(b *testing.B, w *world) *notifications {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	sub, err := w.events.Subscribe(ctx, eventstore.Start, eventstore.Filter{Types: []string{"notification.created"}})
	if err != nil {
		b.Fatal(err)
	}
	ns := &notifications{seen: map[string]time.Time{}}
	ns.cond = sync.NewCond(&ns.mu)
	go func() {
		defer sub.Close()
		for {
			batch, err := sub.Next(ctx, 1000)
			if err != nil {
				return
			}
			now := time.Now()
			ns.mu.Lock()
			for _, ev := range batch.Events {
				var d struct {
					SubjectID string `json:"subject_id"`
				}
				json.Unmarshal(ev.Data, &d)
				if _, ok := ns.seen[d.SubjectID]; !ok {
					ns.seen[d.SubjectID] = now
				}
			}
			ns.cond.Broadcast()
			ns.mu.Unlock()
		}
	}()
	return ns
}

// waitAll waits until every ticket of ids has its notification and
// returns when the last one came.
func (ns *notifications) waitAll(b *testing.B, ids []string) time.Time {
	deadline := time.AfterFunc(2*time.Minute, func() {
		ns.mu.Lock()
		ns.cond.Broadcast()
		ns.mu.Unlock()
	})
	defer deadline.Stop()
	limit := time.Now().Add(2 * time.Minute)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for {
		var last time.Time
		missing := 0
		for _, id := range ids {
			t, ok := ns.seen[id]
			if !ok {
				missing++
			}
			if t.After(last) {
				last = t
			}
		}
		if missing == 0 {
			return last
		}
		if time.Now().After(limit) {
			b.Fatalf("%d of %d notifications missing after 2 minutes", missing, len(ids))
		}
		ns.cond.Wait()
	}
}

func (ns *notifications) at(id string) time.Time {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.seen[id]
}
