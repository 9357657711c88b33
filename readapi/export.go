package readapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"agentdesk/domain"
	"agentdesk/eventstore"
)

// EventLog is what the audit export reads of the event store; an
// eventstore.Store is one. The query API reads the log for audit only.
type EventLog interface {
	// Head returns the position of the last event stored.
	Head(ctx context.Context) (eventstore.Position, error)
	// Subscribe delivers the events after from that pass filter, in
	// log order.
	Subscribe(ctx context.Context, from eventstore.Position, filter eventstore.Filter) (eventstore.Subscription, error)
}

// ExportedEvent is one line of an audit export: an event as the log
// stores it, its position as a position key (whose byte order is the
// log's order).
type ExportedEvent struct {
	ID            string              `json:"id"`
	StreamID      string              `json:"stream_id"`
	Revision      uint64              `json:"revision"`
	Position      string              `json:"position"`
	Type          string              `json:"type"`
	SchemaVersion int                 `json:"schema_version"`
	Data          json.RawMessage     `json:"data"`
	Metadata      eventstore.Metadata `json:"metadata"`
}

// ExportFailure is the last line of an export that failed after it had
// begun (its status was sent): a line with no event, saying why.
type ExportFailure struct {
	Error Problem `json:"error"`
}

// exportBatch is how many events an export reads at once, and writes
// before it flushes.
const exportBatch = 1000

// ExportEvents writes every event of companyID that the log holds when it
// starts, in log order, to w as JSON lines (ExportedEvent), and returns
// how many it wrote. Events appended meanwhile are left for the next
// export, so that an export of a busy company ends. After each batch it
// flushes its buffer and calls afterBatch, when not nil, with how far it
// has read and the head it reads up to; an error of afterBatch stops it.
// companyID must not be empty: an empty filter would select every
// company's events.
func ExportEvents(ctx context.Context, log EventLog, companyID string, w io.Writer, afterBatch func(at, head eventstore.Position) error, redact ...func(context.Context, eventstore.RecordedEvent) json.RawMessage) (n int64, err error) {
	if companyID == "" {
		return 0, errors.New("export: no company")
	}
	head, err := log.Head(ctx)
	if err != nil {
		return 0, fmt.Errorf("export: read the log's head: %w", err)
	}
	if head.IsZero() {
		return 0, nil
	}
	sub, err := log.Subscribe(ctx, eventstore.Start, eventstore.Filter{CompanyID: companyID})
	if err != nil {
		return 0, fmt.Errorf("export: read the log: %w", err)
	}
	defer sub.Close()
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	for {
		b, err := sub.Next(ctx, exportBatch)
		if err != nil {
			return n, fmt.Errorf("export: read the log: %w", err)
		}
		at, done := b.Checkpoint, b.CaughtUp
		for _, ev := range b.Events {
			if ev.Position.Compare(head) > 0 {
				done = true
				break
			}
			data := ev.Data
			for _, f := range redact {
				data = f(ctx, ev)
			}
			if err := enc.Encode(ExportedEvent{ID: ev.ID, StreamID: ev.StreamID, Revision: ev.Revision, Position: ev.Position.Key(),
				Type: ev.Type, SchemaVersion: ev.SchemaVersion, Data: data, Metadata: ev.Metadata}); err != nil {
				return n, err
			}
			n++
			if ev.Position.Compare(at) > 0 {
				at = ev.Position
			}
		}
		if at.Compare(head) >= 0 {
			at, done = head, true
		}
		if err := bw.Flush(); err != nil {
			return n, err
		}
		if afterBatch != nil {
			if err := afterBatch(at, head); err != nil {
				return n, err
			}
		}
		if done {
			return n, nil
		}
	}
}

// exportWriteWait is how long one batch of an export may take to reach
// the client. The server's write timeout bounds whole responses, which an
// export of a long log outlasts: each flush gives the next batch this
// long again.
const exportWriteWait = time.Minute

// exportAudit answers GET /api/audit/export: the company's events, in log
// order, as JSON lines, streamed batch by batch. A company admin exports
// its own company (naming another is 403); a superadmin names one with
// company_id; every other role is refused.
func (a *API) exportAudit(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	companyID := r.URL.Query().Get("company_id")
	switch {
	case p.Role != domain.Superadmin && p.Role != domain.CompanyAdmin:
		a.fail(w, r, fmt.Errorf("%w: only company admins and superadmins read the audit trail", domain.ErrForbidden))
		return
	case companyID == "" && p.Role == domain.CompanyAdmin:
		companyID = p.CompanyID
	case companyID == "":
		a.fail(w, r, badRequestf("export one company's audit trail at a time: name it with company_id"))
		return
	case !domain.ValidID(companyID):
		a.fail(w, r, badRequestf("company_id must be a UUID"))
		return
	}
	if !domain.CanAudit(p, companyID) {
		a.fail(w, r, fmt.Errorf("%w: you may export your own company's audit trail only", domain.ErrForbidden))
		return
	}
	var asOf time.Time
	if r.URL.Query().Has("as_of") {
		t, err := parseAsOf(r.URL.Query().Get("as_of"))
		if err == nil && a.audit == nil {
			err = badRequestf("as_of is not served here")
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		asOf = t
	}
	// Head and subscription errors before the first byte still answer
	// with a status; the first batch is what commits to 200.
	rc := http.NewResponseController(w)
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.ndjson"`, companyID))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
	_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWait))
	// A write that fails means the client is gone, whether or not the
	// request's context has noticed yet.
	writeFailed := false
	out := writerFunc(func(b []byte) (int, error) {
		start()
		n, err := w.Write(b)
		writeFailed = writeFailed || err != nil
		return n, err
	})
	flush := func() {
		start()
		// A flush that fails means the client is gone; the next read
		// of the log sees the request's context end.
		_ = rc.Flush()
		_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWait))
	}
	var n int64
	var err error
	switch {
	case !asOf.IsZero():
		var lines int
		count := 0
		lines, err = a.audit.ExportStates(r.Context(), out, companyID, asOf, func() {
			if count++; count%1000 == 0 {
				flush()
			}
		})
		n = int64(lines)
	case a.audit != nil:
		n, err = ExportEvents(r.Context(), a.events, companyID, out, func(_, _ eventstore.Position) error { flush(); return nil }, a.audit.Redact)
	default:
		n, err = ExportEvents(r.Context(), a.events, companyID, out, func(_, _ eventstore.Position) error { flush(); return nil })
	}
	switch {
	case err == nil:
		start() // an empty export is an empty 200
	case r.Context().Err() != nil || writeFailed:
		// The client went away: nobody reads an error line, and it is no
		// failure of the server's.
		a.log.Debug("audit export stopped: client went away", "company_id", companyID, "events", n)
		if !started {
			w.WriteHeader(statusClientClosed)
		}
	case !started:
		a.fail(w, r, err)
	default:
		a.log.Error("audit export failed", "company_id", companyID, "events", n, "err", err)
		_ = json.NewEncoder(w).Encode(ExportFailure{Error: Problem{Detail: "the export failed after " + fmt.Sprint(n) + " events; retry it"}})
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
