package reactions_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/reactions"
)

// TestIntegrationEvents: ticket events reach the integration topic as
// versioned CloudEvents, not as the stored events.
func TestIntegrationEvents(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	companyID, admin := w.company(t, "acme")
	writer := w.user(t, admin, "wanda", domain.ContentWriter)
	ps := reactions.NewGoChannel(slog.New(slog.DiscardHandler))
	const topic = "agentdesk_integration_test"
	msgs, err := ps.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	start(t, reactions.Config{Events: w.events, Checkpoints: &memCheckpoints{}, Parking: &memParking{}, PubSub: ps,
		Reactions: []reactions.Reaction{reactions.Integration(ps.Publisher, topic)}})
	tk, err := w.app.OpenTicket(ctx, admin, commands.OpenTicket{Title: "Printer on fire", Tags: []string{"hardware"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.AssignTicket(ctx, admin, tk.ID, writer.Principal.UserID); err != nil {
		t.Fatal(err)
	}
	var got []reactions.IntegrationEvent
	for len(got) < 2 {
		select {
		case m := <-msgs:
			var ce reactions.IntegrationEvent
			if err := json.Unmarshal(m.Payload, &ce); err != nil {
				t.Fatal(err)
			}
			got = append(got, ce)
			m.Ack()
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d integration events, want 2", len(got))
		}
	}
	if got[0].Type != "agentdesk.ticket.opened.v1" || got[1].Type != "agentdesk.ticket.assigned.v1" {
		t.Fatalf("types %s, %s", got[0].Type, got[1].Type)
	}
	a := got[1]
	if a.SpecVersion != "1.0" || a.Source != "agentdesk" || a.Subject != "tickets/"+tk.ID || a.CompanyID != companyID || a.ID == "" || a.Time.IsZero() {
		t.Fatalf("envelope %+v", a)
	}
	var data reactions.TicketAssignedV1
	if err := json.Unmarshal(a.Data, &data); err != nil || data.TicketID != tk.ID || data.AssigneeID != writer.Principal.UserID {
		t.Fatalf("data %s (%v)", a.Data, err)
	}
	var fields map[string]any
	json.Unmarshal(a.Data, &fields)
	if len(fields) != 2 { // ticket_id, assignee_id: previous_assignee_id is omitted when empty
		t.Fatalf("data fields %v: want exactly the documented ones", fields)
	}
}
