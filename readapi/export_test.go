package readapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"agentdesk/domain"
	"agentdesk/eventstore"
)

// endlessLog is an EventLog whose head is at head and whose subscription
// delivers events of company c1 at positions 1, 2, 3, … without end, as
// a log that grows while it is read.
type endlessLog struct {
	head   uint64
	closed chan struct{}
}

func (l *endlessLog) Head(context.Context) (eventstore.Position, error) {
	return eventstore.Position{Commit: l.head, Prepare: l.head}, nil
}

func (l *endlessLog) Subscribe(_ context.Context, _ eventstore.Position, f eventstore.Filter) (eventstore.Subscription, error) {
	if f.CompanyID != "c1" {
		return nil, fmt.Errorf("filter %+v, want company c1", f)
	}
	return &endlessSub{log: l}, nil
}

type endlessSub struct {
	log  *endlessLog
	next uint64
	once sync.Once
}

func (s *endlessSub) Next(ctx context.Context, max int) (eventstore.Batch, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.Batch{}, err
	}
	var b eventstore.Batch
	for range min(max, 7) {
		s.next++
		p := eventstore.Position{Commit: s.next, Prepare: s.next}
		b.Events = append(b.Events, eventstore.RecordedEvent{ID: fmt.Sprintf("e%d", s.next), StreamID: "ticket-t1", Revision: s.next - 1,
			Position: p, Type: "ticket.edited", SchemaVersion: 1, Data: json.RawMessage(`{"title":"x"}`), Metadata: eventstore.Metadata{CompanyID: "c1"}})
		b.Checkpoint = p
	}
	return b, nil
}

func (s *endlessSub) Close() error {
	s.once.Do(func() {
		if s.log.closed != nil {
			close(s.log.closed)
		}
	})
	return nil
}

// An export ends at the head it started from, whatever is appended
// meanwhile, and reports its progress after each batch.
func TestExportEndsAtTheHead(t *testing.T) {
	var out bytes.Buffer
	var last eventstore.Position
	n, err := ExportEvents(context.Background(), &endlessLog{head: 25}, "c1", &out, func(at, head eventstore.Position) error {
		if at.Compare(last) < 0 || head.Commit != 25 {
			t.Errorf("progress at %v after %v, head %v", at, last, head)
		}
		last = at
		return nil
	})
	if err != nil || n != 25 {
		t.Fatalf("exported %d events (%v), want the 25 up to the head", n, err)
	}
	if last.Commit != 25 {
		t.Errorf("last progress at %v, want the head", last)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var ev ExportedEvent
	if err := json.Unmarshal([]byte(lines[24]), &ev); err != nil || ev.ID != "e25" || ev.Position != (eventstore.Position{Commit: 25, Prepare: 25}).Key() {
		t.Errorf("last line %s (%v), want event e25 with its position key", lines[24], err)
	}
	if _, err := ExportEvents(context.Background(), &endlessLog{head: 25}, "", &out, nil); err == nil {
		t.Error("an export of no company (every company's events) was not refused")
	}
}

// A client that goes away ends the export: the log is let go, and
// neither an error line nor an error in the log is written.
func TestExportClientGoneIsNoError(t *testing.T) {
	var logs bytes.Buffer
	log := &endlessLog{head: 1 << 40, closed: make(chan struct{})}
	a := &API{events: log, log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := domain.Principal{UserID: "u1", CompanyID: "c1", Role: domain.CompanyAdmin}
		a.exportAudit(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/audit/export", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	for i := 0; i < 100 && sc.Scan(); i++ {
		var ev ExportedEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.ID == "" {
			t.Fatalf("line %d: %s is not an event", i+1, sc.Bytes())
		}
	}
	cancel()
	resp.Body.Close()
	select {
	case <-log.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the export still reads the log 10s after its client went away")
	}
	srv.Close() // waits for the handler to return
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a client going away was logged as an error:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "client went away") {
		t.Errorf("logs %q, want the stop noted at debug level", logs.String())
	}
}
