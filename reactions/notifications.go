package reactions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/notification"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
)

// NotificationsName names the notifications reaction.
const NotificationsName = "notifications"

// NotificationCommands is what the notifications reaction needs of the
// command side.
type NotificationCommands interface {
	Ticket(ctx context.Context, id string) (ticket.Ticket, error)
	CreateNotification(ctx context.Context, m commands.Meta, in commands.CreateNotification) (commands.Result, error)
}

// Notifications returns the reaction that notifies people of what happens
// to tickets: an assigned ticket notifies its assignee, a resolved one its
// requester, and a comment the ticket's requester and assignee, except
// whoever wrote it. Nobody is notified of their own doing.
func Notifications(cmds NotificationCommands) Reaction {
	return Reaction{
		Name:   NotificationsName,
		Filter: eventstore.Filter{Types: []string{ticket.TypeAssigned, ticket.TypeStatusChanged, ticket.TypeCommented}},
		Handle: func(ctx context.Context, ev eventstore.RecordedEvent) error {
			e, err := ticket.Events.Decode(ev.Type, ev.SchemaVersion, ev.Data)
			if err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			type note struct {
				to    string
				kind  notification.Kind
				title string
				body  string
			}
			var notes []note
			actor := ev.Metadata.ActorID
			ticketID := strings.TrimPrefix(ev.StreamID, ticket.Stream(""))
			t, err := cmds.Ticket(ctx, ticketID)
			if errors.Is(err, domain.ErrNotFound) {
				return nil // deleted since: nobody to tell
			}
			if err != nil {
				return err
			}
			switch e := e.(type) {
			case *ticket.Assigned:
				notes = append(notes, note{e.AssigneeID, notification.TicketAssigned, "Ticket assigned to you: " + t.Title, ""})
			case *ticket.StatusChanged:
				if e.To == ticket.Resolved {
					notes = append(notes, note{t.RequesterID, notification.TicketResolved, "Your ticket was resolved: " + t.Title, ""})
				}
			case *ticket.Commented:
				body := clip(e.Body, 500)
				for _, to := range []string{t.RequesterID, t.AssigneeID} {
					if to != e.AuthorID {
						notes = append(notes, note{to, notification.TicketCommented, "New comment on " + t.Title, body})
					}
				}
				actor = e.AuthorID
			}
			seen := map[string]bool{}
			for _, n := range notes {
				if n.to == "" || n.to == actor || seen[n.to] {
					continue
				}
				seen[n.to] = true
				_, err := cmds.CreateNotification(ctx, Meta(NotificationsName, ev, "notify/"+n.to), commands.CreateNotification{
					CompanyID: ev.Metadata.CompanyID, UserID: n.to, Kind: n.kind, Subject: "tickets", SubjectID: ticketID,
					Title: clip(n.title, 200), Body: n.body, ActorID: actor,
				})
				// A recipient deleted or moved away since is nobody to tell.
				if err != nil && !errors.Is(err, domain.ErrNotFound) && !isValidation(err) {
					return fmt.Errorf("notify %s: %w", n.to, err)
				}
			}
			return nil
		},
	}
}

func isValidation(err error) bool {
	var ve *domain.ValidationError
	return errors.As(err, &ve)
}

// clip cuts s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
