package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"agentdesk/domain"
	"agentdesk/eventstore"
	"agentdesk/readapi"
)

// goneRecords plays a client that goes away while its write is read
// back: the read cancels the request's context, then fails with err.
type goneRecords struct {
	fakeRecords
	cancel context.CancelFunc
	err    error
}

func (g goneRecords) Record(context.Context, domain.Principal, string, string, eventstore.Position) (json.RawMessage, error) {
	g.cancel()
	return nil, g.err
}

// TestClientGoneWhileReadingBack: once the client has gone, a write whose
// record could not be read back answers 499 and logs nothing above debug,
// whatever error the read failed with: a store may fail a read it was
// told to stop with an error of its own ("interrupted"), or the write
// wait may end just as the client leaves.
func TestClientGoneWhileReadingBack(t *testing.T) {
	fx := newFixture(t)
	for _, c := range []struct {
		name string
		err  error
	}{
		{"read cancelled", context.Canceled},
		{"store's own error", errors.New("sqlite3: interrupted")},
		{"write wait over", context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logged bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h, err := New(Config{
				App: fx.app(t, fx.base.clone()), Records: goneRecords{cancel: cancel, err: c.err}, Inbox: fakeRecords{}, Sealer: fakeSealer{},
				Principal:   func(context.Context) (domain.Principal, bool) { return fx.admin, true },
				WriteError:  func(w http.ResponseWriter, r *http.Request, err error) { readapi.WriteError(log, w, r, err) },
				ErrorStatus: readapi.ErrorStatus,
				Logger:      log,
			})
			if err != nil {
				t.Fatal(err)
			}
			r := chi.NewRouter()
			h.Mount(r)
			req := httptest.NewRequestWithContext(ctx, "POST", "/api/tickets", strings.NewReader(`{"title":"Gone"}`))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != 499 || logged.Len() != 0 {
				t.Fatalf("status %d, logged %q; want 499 and nothing logged above debug", rec.Code, logged.String())
			}
		})
	}
}
