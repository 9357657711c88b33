package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBodiesRefused: what is not one JSON object of the endpoint's exact
// keys is a 400, a body over the limit a 413 (refused from its
// Content-Length before it is read), on the command endpoints, the chat
// and the sign-in alike.
func TestBodiesRefused(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Bodies"}).Map(t)
	tk := root.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"company_id": co["id"], "title": "t"}).Map(t)

	root.must(http.StatusBadRequest, "POST", "/api/tickets", "null")
	root.must(http.StatusBadRequest, "PUT", "/api/tickets/"+tk["id"].(string), " null ")
	root.must(http.StatusBadRequest, "PUT", "/api/tickets/"+tk["id"].(string), `["title"]`)
	root.must(http.StatusRequestEntityTooLarge, "POST", "/api/agents/"+noSuchID+"/chat", `{"message":"`+strings.Repeat("a", 1<<20)+`"}`)

	// A Content-Length over the limit is answered at once, though the
	// body never comes.
	for _, path := range []string{"/api/tickets", "/auth/token", "/api/agents/" + noSuchID + "/chat"} {
		if got := declaredTooLong(t, ts.URL, path, root.token); got != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s declaring 99999999999 bytes: got %d, want 413", path, got)
		}
	}

	// List parameters follow the same rules.
	for _, q := range []string{
		"filter=%5B%5D", "filter=1", `filter=` + url.QueryEscape(`{"status":"open","status":"closed"}`), "filter=%7B%22title%22%3A%22%C3%28%22%7D",
		"range=" + url.QueryEscape("[null,null]"), "range=" + url.QueryEscape("[0,null]"), "range=" + url.QueryEscape("[null,5]"),
	} {
		root.must(http.StatusBadRequest, "GET", "/api/tickets?"+q, nil)
	}
	root.must(http.StatusOK, "GET", "/api/tickets?filter=%7B%7D&range="+url.QueryEscape("[0,9]"), nil)
	root.must(http.StatusOK, "GET", "/api/tickets?filter=null", nil) // no filter
	// A time before anything was recorded, Go's zero time included, is
	// before the record existed, not "now".
	root.must(http.StatusNotFound, "GET", "/api/tickets/"+tk["id"].(string)+"?as_of=0001-01-01T00:00:00Z", nil)
	if r := root.must(http.StatusOK, "GET", "/api/audit/export?company_id="+co["id"].(string)+"&as_of=0001-01-01T00:00:00Z", nil); len(strings.TrimSpace(string(r.Body))) != 0 {
		t.Errorf("export as of 0001-01-01: got %s, want nothing", r.Body)
	}

	signIn := func(contentType, body string) int {
		t.Helper()
		resp, err := http.Post(ts.URL+"/auth/token", contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	pw := fmt.Sprintf("%q", testAdminPassword)
	for _, c := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"JSON", "application/json", `{"username":"admin","password":` + pw + `}`, http.StatusOK},
		{"form", "application/x-www-form-urlencoded", "username=admin&password=" + testAdminPassword, http.StatusOK},
		{"JSON with OAuth2's grant_type", "application/json", `{"grant_type":"password","username":"admin","password":` + pw + `}`, http.StatusOK},
		{"a key in capitals", "application/json", `{"USERNAME":"admin","password":` + pw + `}`, http.StatusBadRequest},
		{"a key given twice", "application/json", `{"username":"nobody","username":"admin","password":` + pw + `}`, http.StatusBadRequest},
		{"an unknown key", "application/json", `{"username":"admin","password":` + pw + `,"role":"superadmin"}`, http.StatusBadRequest},
		{"null", "application/json", `null`, http.StatusBadRequest},
		{"two objects", "application/json", `{"username":"admin","password":` + pw + `}{}`, http.StatusBadRequest},
		{"over 64 KiB", "application/json", `{"username":"admin","password":"` + strings.Repeat("a", 64<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"plain text", "text/plain", "username=admin&password=" + testAdminPassword, http.StatusUnsupportedMediaType},
	} {
		if got := signIn(c.contentType, c.body); got != c.want {
			t.Errorf("sign-in, %s: got %d, want %d", c.name, got, c.want)
		}
	}
}

// declaredTooLong posts to path a request whose Content-Length says
// 99999999999 bytes, sends a few, and returns the status of the answer.
func declaredTooLong(t *testing.T, base, path, token string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{\"title\":", path, token)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
