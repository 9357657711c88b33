package web

import (
	"bytes"
	"encoding/json"
)

// forgetUser erases a user's personal data. A deleted user has no record
// to answer: its id is, marked deleted, once the users read model has
// caught up.
func (h *Handler) forgetUser(c *call) (outcome, error) {
	if len(bytes.TrimSpace(c.body)) > 0 {
		if err := c.decode(&emptyBody{}); err != nil {
			return outcome{}, err
		}
	}
	f, err := h.app.ForgetUser(c.r.Context(), c.meta, c.id)
	if err != nil {
		return outcome{}, err
	}
	out := outcome{res: f.Result}
	if f.Deleted {
		out.snapshot, err = json.Marshal(map[string]any{"id": c.id, "deleted": true})
	}
	return out, err
}
