package main

import (
	"net/http"
	"testing"
)

// TestLifecyclesTakeEffectAtOnce: a deactivated user, a user whose role
// changed, and the users of a suspended or deleted company lose their
// tokens, cannot sign in and cannot act, at once.
func TestLifecyclesTakeEffectAtOnce(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Vandelay")
	mk := func(username, role string) (string, *client) {
		u := a.admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": username, "password": "password-" + username, "role": role}).Map(t)
		return u["id"].(string), login(t, ts.URL, username, "password-"+username)
	}
	signIn := func(username string) int {
		anon := &client{tb: t, base: ts.URL}
		return anon.do("POST", "/auth/token", map[string]any{"username": username, "password": "password-" + username}).Status
	}

	t.Run("deactivated user", func(t *testing.T) {
		id, kramer := mk("kramer", "content_writer")
		kramer.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Before"})
		a.admin.must(http.StatusOK, "POST", "/api/users/"+id+"/deactivate", nil)
		kramer.must(http.StatusUnauthorized, "GET", "/auth/me", nil)
		kramer.must(http.StatusUnauthorized, "POST", "/api/tickets", map[string]any{"title": "After"})
		if got := signIn("kramer"); got != http.StatusUnauthorized {
			t.Fatalf("sign-in of a deactivated user: %d, want 401", got)
		}
		if l := a.admin.list("/api/users" + filterQuery(map[string]any{"active": false}, "")); l.Total != 1 || l.Data[0]["id"] != id {
			t.Fatalf("inactive users: %+v", l)
		}
		a.admin.must(http.StatusOK, "POST", "/api/users/"+id+"/reactivate", nil)
		if got := signIn("kramer"); got != http.StatusOK {
			t.Fatalf("sign-in after reactivation: %d, want 200", got)
		}
		me := a.admin.must(http.StatusOK, "GET", "/auth/me", nil).Map(t)
		a.admin.must(http.StatusForbidden, "POST", "/api/users/"+me["id"].(string)+"/deactivate", nil)
	})

	t.Run("role changed", func(t *testing.T) {
		id, newman := mk("newman", "content_manager")
		newman.must(http.StatusOK, "GET", "/api/users", nil)
		a.admin.must(http.StatusOK, "PUT", "/api/users/"+id, map[string]any{"role": "client"})
		newman.must(http.StatusUnauthorized, "GET", "/api/users", nil)
		again := login(t, ts.URL, "newman", "password-newman")
		again.must(http.StatusOK, "GET", "/auth/me", nil)
	})

	t.Run("own password needs the old one; an admin resets without", func(t *testing.T) {
		id, elaine := mk("elaine", "content_writer")
		elaine.must(http.StatusUnprocessableEntity, "PUT", "/api/users/"+id, map[string]any{"password": "brand-new-pw"})
		elaine.must(http.StatusUnprocessableEntity, "PUT", "/api/users/"+id, map[string]any{"password": "brand-new-pw", "old_password": "wrong-one"})
		elaine.must(http.StatusOK, "PUT", "/api/users/"+id, map[string]any{"password": "brand-new-pw", "old_password": "password-elaine"})
		// A password change ends every older token, the changer's too.
		elaine.must(http.StatusUnauthorized, "GET", "/auth/me", nil)
		second := login(t, ts.URL, "elaine", "brand-new-pw")
		second.must(http.StatusOK, "GET", "/auth/me", nil)
		a.admin.must(http.StatusOK, "PUT", "/api/users/"+id, map[string]any{"password": "reset-by-admin"})
		second.must(http.StatusUnauthorized, "GET", "/auth/me", nil)
		login(t, ts.URL, "elaine", "reset-by-admin").must(http.StatusOK, "GET", "/auth/me", nil)
	})

	t.Run("suspended, then deleted company", func(t *testing.T) {
		_, jerry := mk("jerry", "content_manager")
		jerry.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Before"})
		root.must(http.StatusOK, "POST", "/api/companies/"+a.id+"/suspend", nil)
		if co := root.must(http.StatusOK, "GET", "/api/companies/"+a.id, nil).Map(t); co["status"] != "suspended" {
			t.Fatalf("company after suspend: %v", co)
		}
		jerry.must(http.StatusUnauthorized, "POST", "/api/tickets", map[string]any{"title": "During"})
		a.admin.must(http.StatusUnauthorized, "GET", "/api/tickets", nil)
		if got := signIn("jerry"); got != http.StatusUnauthorized {
			t.Fatalf("sign-in in a suspended company: %d, want 401", got)
		}
		a.admin.must(http.StatusUnauthorized, "POST", "/api/companies/"+a.id+"/reactivate", nil)
		root.must(http.StatusOK, "POST", "/api/companies/"+a.id+"/reactivate", nil)
		jerry.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "After reactivation"})

		// Deleted: today's trap was a deleted company's admin still
		// opening tickets.
		root.must(http.StatusOK, "DELETE", "/api/companies/"+a.id, nil)
		a.admin.must(http.StatusUnauthorized, "POST", "/api/tickets", map[string]any{"title": "After deletion"})
		jerry.must(http.StatusUnauthorized, "GET", "/auth/me", nil)
		if got := signIn("jerry"); got != http.StatusUnauthorized {
			t.Fatalf("sign-in in a deleted company: %d, want 401", got)
		}
	})
}
