package web

import (
	"bytes"
	"encoding/json"
	"net/http"

	"agentdesk/domain/resource"
)

// Notifications
//
//	POST /api/notifications/{id}/read
//	POST /api/notifications/read_all
//
// Notifications are created by the platform's own processes, never over
// HTTP; a user reads (GET) and marks read only their own. read_all marks
// every unread notification of the caller, paging through them on the
// read side (Inbox) by id, which marking them read does not disturb.

// unreadPage is how many unread notifications read_all lists and marks
// at a time.
const unreadPage = 500

// MarkedRead is the answer of POST /api/notifications/read_all.
type MarkedRead struct {
	// Marked is how many notifications were unread and are now read.
	Marked int `json:"marked"`
}

func (h *Handler) readAllNotifications(c *call) (outcome, error) {
	if len(bytes.TrimSpace(c.body)) > 0 {
		var empty emptyBody
		if err := c.decode(&empty); err != nil {
			return outcome{}, err
		}
	}
	ctx := c.r.Context()
	out := outcome{location: "/api/" + resource.Notifications.Name}
	total := 0
	for after := ""; ; {
		ids, err := h.inbox.UnreadNotifications(ctx, c.meta.Principal, after, unreadPage)
		if err != nil {
			return outcome{}, err
		}
		marked, last, err := h.app.MarkNotificationsRead(ctx, c.meta, ids)
		total += marked
		if last.Changed {
			out.res = last
		}
		if err != nil {
			return outcome{}, err
		}
		if len(ids) < unreadPage {
			break
		}
		after = ids[len(ids)-1]
	}
	body, err := json.Marshal(MarkedRead{Marked: total})
	if err != nil {
		return outcome{}, err
	}
	// The last change's position covers every earlier one: once the view
	// has applied it, the next list shows them all read.
	out.snapshot = body
	return out, nil
}

// notificationsCreatedByPlatform answers POST /api/notifications.
func (h *Handler) notificationsCreatedByPlatform(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET")
	h.writeErr(w, r, &requestError{status: http.StatusMethodNotAllowed,
		msg: "notifications are created by the platform, not over the API; mark yours read with POST /api/notifications/{id}/read or /api/notifications/read_all"})
}
