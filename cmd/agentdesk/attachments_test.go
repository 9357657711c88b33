package main

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestTicketAttachments: a file attached to a ticket is listed as the
// ticket's child record, downloads as uploaded (as a download, its type
// sniffed), is part of the ticket's history, and is removed with its
// file; who may do what follows the ticket.
func TestTicketAttachments(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := newCompany(t, ts, root, "Attach")
	other := newCompany(t, ts, root, "Elsewhere")
	client, admin, writer := co.users["client"], co.users["company_admin"], co.users["content_writer"]
	tk := client.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Broken screen"}).Map(t)
	ticketID := tk["id"].(string)

	page := []byte("<html><script>alert(1)</script></html>")
	r := client.upload("POST", "/api/tickets/"+ticketID+"/attachments", "photo.html", "image/png", page, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("attach: got %d %s, want 201", r.Status, r.Body)
	}
	att := r.Map(t)
	attID := att["id"].(string)
	if att["ticket_id"] != ticketID || att["filename"] != "photo.html" || att["size"].(float64) != float64(len(page)) ||
		att["content_type"] != "text/html; charset=utf-8" || att["uploader_id"] != co.ids["client"] {
		t.Fatalf("got %v, want the attachment with its sniffed type", att)
	}
	l := admin.list("/api/ticket_attachments" + filterQuery(map[string]any{"ticket_id": ticketID}, ""))
	if l.Total != 1 || l.Data[0]["id"] != attID {
		t.Fatalf("got %v, want the one attachment", l.Data)
	}
	file := "/api/tickets/" + ticketID + "/attachments/" + attID + "/file"
	got := client.must(http.StatusOK, "GET", file, nil)
	if !bytes.Equal(got.Body, page) || !strings.HasPrefix(got.Header.Get("Content-Disposition"), "attachment;") ||
		got.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: got %q %v, want the file as a download", got.Body, got.Header)
	}
	other.users["company_admin"].must(http.StatusNotFound, "GET", file, nil)
	other.users["company_admin"].must(http.StatusNotFound, "DELETE", "/api/tickets/"+ticketID+"/attachments/"+attID, nil)
	if r := other.users["company_admin"].upload("POST", "/api/tickets/"+ticketID+"/attachments", "a.txt", "text/plain", []byte("x"), nil); r.Status != http.StatusNotFound {
		t.Fatalf("another company attaches: got %d, want 404", r.Status)
	}
	if r := client.upload("POST", "/api/tickets/"+ticketID+"/attachments", "big.bin", "application/octet-stream", bytes.Repeat([]byte{1}, 10<<20+1), nil); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a file over 10 MiB: got %d, want 413", r.Status)
	}
	// A content writer not assigned to the ticket may attach (as they may
	// comment) but not remove someone else's file.
	writer.must(http.StatusForbidden, "DELETE", "/api/tickets/"+ticketID+"/attachments/"+attID, nil)

	var hist struct {
		Data []map[string]any `json:"data"`
	}
	admin.must(http.StatusOK, "GET", "/api/tickets/"+ticketID+"/history?order=ASC", nil).JSON(t, &hist)
	if n := len(hist.Data); n != 2 || hist.Data[1]["type"] != "ticket.attachment_added" {
		t.Fatalf("ticket history: got %v, want opened then attachment_added", hist.Data)
	}

	gone := client.must(http.StatusOK, "DELETE", "/api/tickets/"+ticketID+"/attachments/"+attID, nil).Map(t)
	if gone["id"] != attID {
		t.Fatalf("got %v, want the attachment as it was", gone)
	}
	client.must(http.StatusNotFound, "GET", file, nil)
	if n := admin.list("/api/ticket_attachments" + filterQuery(map[string]any{"ticket_id": ticketID}, "")).Total; n != 0 {
		t.Fatalf("got %d attachments after the removal, want 0", n)
	}
	client.must(http.StatusNotFound, "DELETE", "/api/tickets/"+ticketID+"/attachments/"+attID, nil)

	// Deleting the ticket deletes its attachments' records and files.
	kept := client.upload("POST", "/api/tickets/"+ticketID+"/attachments", "notes.txt", "text/plain", []byte("serial 42"), nil).Map(t)
	admin.must(http.StatusOK, "DELETE", "/api/tickets/"+ticketID, nil)
	root.must(http.StatusNotFound, "GET", "/api/ticket_attachments/"+kept["id"].(string), nil)
	if entries, err := os.ReadDir(ts.dir + "/blobs/" + co.id + "/tickets/" + ticketID); err == nil && len(entries) != 0 {
		t.Fatalf("files of the deleted ticket's attachment %v remain: %v", kept["id"], entries)
	}
}
