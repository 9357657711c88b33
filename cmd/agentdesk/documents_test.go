package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"agentdesk/internal/blob/blobtest"
)

// multipartBody builds a multipart upload of file (named filename,
// declared as contentType) and the form fields.
func multipartBody(tb testing.TB, filename, contentType string, file []byte, fields map[string]string) ([]byte, string) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+filename+`"`)
		h.Set("Content-Type", contentType)
		w, err := mw.CreatePart(h)
		if err != nil {
			tb.Fatal(err)
		}
		_, _ = w.Write(file)
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// upload sends a document upload and returns the response.
func (c *client) upload(method, path, filename, contentType string, file []byte, fields map[string]string) response {
	c.tb.Helper()
	body, ct := multipartBody(c.tb, filename, contentType, file, fields)
	return c.do(method, path, body, "Content-Type", ct)
}

// testFile reads one of the sample files the extraction tests use.
func testFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("../../internal/extract/testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// docChunks lists a document's chunks, id by title and content.
func docChunks(t *testing.T, c *client, docID string) map[string]string {
	t.Helper()
	l := c.list("/api/knowledge_chunks" + filterQuery(map[string]any{"document_id": docID}, "limit=100"))
	out := map[string]string{}
	for _, d := range l.Data {
		if d["document_id"] != docID || d["source"] != "upload" {
			t.Fatalf("chunk %v: want document_id %s and source upload", d, docID)
		}
		out[d["title"].(string)+"\x00"+d["content"].(string)] = d["id"].(string)
	}
	if int64(len(out)) != l.Total {
		t.Fatalf("got %d distinct chunks of %d", len(out), l.Total)
	}
	return out
}

// TestKnowledgeDocuments drives knowledge documents over HTTP: an upload
// of each kind of file answers the document ingested with its chunks
// readable, a new version replaces only the chunk that changed, the
// file downloads as uploaded, a delete takes the chunks with it, and
// the refusals (size, type, no text, another company, roles).
func TestKnowledgeDocuments(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := newCompany(t, ts, root, "Docs")
	other := newCompany(t, ts, root, "Elsewhere")
	admin := co.users["company_admin"]
	agentID := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Helper", "model": "gpt-4o-mini"}).Map(t)["id"].(string)

	docs := map[string]map[string]any{}
	for _, tc := range []struct {
		file, declared string
		wantType       string
		wantTitles     []string
		wantText       string
	}{
		{"guide.md", "text/markdown", "text/markdown", []string{"Guide › Returns guide", "Guide › Returns guide › Time limits",
			"Guide › Returns guide › Refunds", "Guide › Returns guide › Refunds › Store credit"}, "within 30 days of delivery"},
		{"guide.html", "text/html", "text/html", []string{"Guide › Shipping guide", "Guide › Shipping guide › Delivery times",
			"Guide › Shipping guide › Costs"}, "Shipping is free above 50 €."},
		{"notes.txt", "text/plain", "text/plain", []string{"Guide"}, "Monday to Friday"},
		{"warranty.pdf", "application/octet-stream", "application/pdf", []string{"Guide › Warranty terms"}, "café machines excluded"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			admin := admin.with(t)
			r := admin.upload("POST", "/api/knowledge_documents", tc.file, tc.declared, testFile(t, tc.file), map[string]string{"agent_id": agentID, "title": "Guide"})
			if r.Status != http.StatusCreated {
				t.Fatalf("upload: got %d %s, want 201", r.Status, r.Body)
			}
			doc := r.Map(t)
			if doc["status"] != "ingested" || doc["content_type"] != tc.wantType || doc["filename"] != tc.file || doc["agent_id"] != agentID {
				t.Fatalf("got %v, want an ingested %s document", doc, tc.wantType)
			}
			chunks := docChunks(t, admin, doc["id"].(string))
			var titles []string
			text := ""
			for k := range chunks {
				title, content, _ := strings.Cut(k, "\x00")
				titles = append(titles, title)
				text += content
			}
			sort.Strings(titles)
			want := append([]string(nil), tc.wantTitles...)
			sort.Strings(want)
			if strings.Join(titles, "|") != strings.Join(want, "|") {
				t.Fatalf("chunk titles: got %q, want %q", titles, want)
			}
			if int(doc["chunk_count"].(float64)) != len(chunks) {
				t.Fatalf("chunk_count %v, but %d chunks", doc["chunk_count"], len(chunks))
			}
			if !strings.Contains(text, tc.wantText) {
				t.Fatalf("chunks %q: want %q among them", text, tc.wantText)
			}
			docs[tc.file] = doc
		})
	}
	if t.Failed() {
		return
	}

	t.Run("List", func(t *testing.T) {
		l := admin.with(t).list("/api/knowledge_documents" + filterQuery(map[string]any{"status": "ingested", "agent_id": agentID}, "sort=filename&order=ASC"))
		if l.Total != 4 || l.Data[0]["filename"] != "guide.html" || l.Data[3]["filename"] != "warranty.pdf" {
			t.Fatalf("got %v, want the 4 documents by filename", l.Data)
		}
		if n := other.users["company_admin"].with(t).list("/api/knowledge_documents").Total; n != 0 {
			t.Fatalf("another company lists %d documents, want 0", n)
		}
	})

	md := docs["guide.md"]
	mdID := md["id"].(string)
	t.Run("Download", func(t *testing.T) {
		r := admin.with(t).must(http.StatusOK, "GET", "/api/knowledge_documents/"+mdID+"/file", nil)
		if !bytes.Equal(r.Body, testFile(t, "guide.md")) || r.Header.Get("Content-Type") != "text/markdown" ||
			!strings.Contains(r.Header.Get("Content-Disposition"), `filename="guide.md"`) {
			t.Fatalf("got %q %v, want the file as uploaded", r.Body, r.Header)
		}
		other.users["company_admin"].with(t).must(http.StatusNotFound, "GET", "/api/knowledge_documents/"+mdID+"/file", nil)
	})

	t.Run("Replace", func(t *testing.T) {
		admin := admin.with(t)
		before := docChunks(t, admin, mdID)
		changed := strings.Replace(string(testFile(t, "guide.md")), "within 5 business days", "within 3 business days", 1)
		r := admin.upload("PUT", "/api/knowledge_documents/"+mdID, "guide.md", "text/markdown", []byte(changed), nil)
		if r.Status != http.StatusOK {
			t.Fatalf("replace: got %d %s", r.Status, r.Body)
		}
		doc := r.Map(t)
		if doc["status"] != "ingested" || doc["chunk_count"].(float64) != 4 || doc["title"] != "Guide" || doc["sha256"] == md["sha256"] {
			t.Fatalf("got %v, want the new version ingested with its 4 chunks and its title kept", doc)
		}
		after := docChunks(t, admin, mdID)
		var kept, gone, added int
		for k, id := range before {
			if after[k] == id {
				kept++
			} else {
				gone++
			}
		}
		for k := range after {
			if _, ok := before[k]; !ok {
				added++
				if !strings.Contains(k, "within 3 business days") {
					t.Errorf("new chunk %q: want only the changed paragraph's", k)
				}
			}
		}
		if kept != 3 || gone != 1 || added != 1 {
			t.Fatalf("kept %d, replaced %d, added %d chunks; want 3 kept (same ids), 1 replaced, 1 added", kept, gone, added)
		}
		// The same file again changes nothing.
		again := admin.upload("PUT", "/api/knowledge_documents/"+mdID, "guide.md", "text/markdown", []byte(changed), nil)
		if again.Status != http.StatusOK || again.Map(t)["revision"] != doc["revision"] {
			t.Fatalf("the same file again: got %d %s, want 200 at revision %v", again.Status, again.Body, doc["revision"])
		}
		// The versions are the document's history.
		var hist struct {
			Data []map[string]any `json:"data"`
		}
		admin.must(http.StatusOK, "GET", "/api/knowledge_documents/"+mdID+"/history?order=ASC", nil).JSON(t, &hist)
		var types []string
		for _, h := range hist.Data {
			types = append(types, h["type"].(string))
		}
		if want := "knowledge_document.uploaded knowledge_document.ingested knowledge_document.replaced knowledge_document.ingested"; strings.Join(types, " ") != want {
			t.Fatalf("history: got %v, want %s", types, want)
		}
		if r := other.users["company_admin"].with(t).upload("PUT", "/api/knowledge_documents/"+mdID, "guide.md", "text/markdown", []byte(changed), nil); r.Status != http.StatusNotFound {
			t.Fatalf("another company replaces: got %d %s, want 404", r.Status, r.Body)
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		admin := admin.with(t)
		fields := map[string]string{"agent_id": agentID}
		big := bytes.Repeat([]byte("a line of text\n"), (10<<20)/15+100)
		for _, tc := range []struct {
			name, filename, declared string
			file                     []byte
			fields                   map[string]string
			want                     int
		}{
			{"too large", "big.txt", "text/plain", big, fields, http.StatusRequestEntityTooLarge},
			{"an image", "photo.png", "image/png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), fields, http.StatusUnsupportedMediaType},
			{"not the PDF it claims", "fake.pdf", "application/pdf", []byte("just text"), fields, http.StatusUnsupportedMediaType},
			{"no text", "blank.md", "text/markdown", []byte("\n\n   \n"), fields, http.StatusUnprocessableEntity},
			{"a PDF cut short", "cut.pdf", "application/pdf", testFile(t, "warranty.pdf")[:300], fields, http.StatusUnprocessableEntity},
			{"no agent", "a.md", "text/markdown", []byte("# A\n\ntext"), nil, http.StatusUnprocessableEntity},
			{"another company's agent", "a.md", "text/markdown", []byte("# A\n\ntext"), map[string]string{"agent_id": otherAgent(t, other.users["company_admin"])}, http.StatusUnprocessableEntity},
			{"no file", "", "", nil, fields, http.StatusUnprocessableEntity},
		} {
			r := admin.upload("POST", "/api/knowledge_documents", tc.filename, tc.declared, tc.file, tc.fields)
			if r.Status != tc.want || !bytes.Contains(r.Body, []byte(`"detail"`)) {
				t.Errorf("%s: got %d %s, want %d with a detail", tc.name, r.Status, r.Body, tc.want)
			}
		}
		r := admin.do("POST", "/api/knowledge_documents", map[string]any{"agent_id": agentID, "content": "x"})
		if r.Status != http.StatusUnsupportedMediaType {
			t.Errorf("a JSON body: got %d %s, want 415", r.Status, r.Body)
		}
	})

	t.Run("Roles", func(t *testing.T) {
		file := []byte("# Roles\n\nWho may upload.")
		for role, want := range map[string]int{"content_manager": 201, "content_writer": 201, "client": 403} {
			r := co.users[role].with(t).upload("POST", "/api/knowledge_documents", "r.md", "text/markdown", file, map[string]string{"agent_id": agentID})
			if r.Status != want {
				t.Errorf("%s uploads: got %d %s, want %d", role, r.Status, r.Body, want)
			}
		}
		co.users["client"].with(t).must(http.StatusForbidden, "GET", "/api/knowledge_documents", nil)
		co.users["client"].with(t).must(http.StatusNotFound, "GET", "/api/knowledge_documents/"+mdID+"/file", nil)
		co.users["content_writer"].with(t).must(http.StatusForbidden, "DELETE", "/api/knowledge_documents/"+mdID, nil)
	})

	t.Run("Delete", func(t *testing.T) {
		admin := admin.with(t)
		if n := len(docChunks(t, admin, mdID)); n == 0 {
			t.Fatal("no chunks before the delete")
		}
		other.users["company_admin"].with(t).must(http.StatusNotFound, "DELETE", "/api/knowledge_documents/"+mdID, nil)
		gone := admin.must(http.StatusOK, "DELETE", "/api/knowledge_documents/"+mdID, nil).Map(t)
		if gone["id"] != mdID {
			t.Fatalf("got %v, want the document as it was", gone)
		}
		admin.must(http.StatusNotFound, "GET", "/api/knowledge_documents/"+mdID, nil)
		admin.must(http.StatusNotFound, "GET", "/api/knowledge_documents/"+mdID+"/file", nil)
		deadline := time.Now().Add(5 * time.Second)
		for len(docChunks(t, admin, mdID)) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the document's chunks are still listed")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A second delete finds nothing, and finishes what a first one
		// cut short would have left.
		admin.must(http.StatusNotFound, "DELETE", "/api/knowledge_documents/"+mdID, nil)
		entries, err := os.ReadDir(ts.dir + "/blobs/" + co.id + "/documents/" + mdID)
		if err == nil && len(entries) != 0 {
			t.Fatalf("the document's blobs remain: %v", entries)
		}
	})
}

func otherAgent(t *testing.T, c *client) string {
	t.Helper()
	return c.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Other", "model": "gpt-4o-mini"}).Map(t)["id"].(string)
}

// TestKnowledgeDocumentsOnS3: with AWS_S3_BUCKET set the server keeps
// document files in the bucket (an in-process S3 server reached through
// the SDK's default configuration and AWS_ENDPOINT_URL), and a download
// is a redirect to a presigned URL that serves the file.
func TestKnowledgeDocumentsOnS3(t *testing.T) {
	fake := blobtest.NewFakeS3(t)
	for k, v := range map[string]string{"AWS_ENDPOINT_URL": fake.URL, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test",
		"AWS_SECRET_ACCESS_KEY": "test", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.S3Bucket, cfg.S3Prefix, cfg.S3PathStyle = fake.Bucket, "e2e", true
	ts := startServerWith(t, dir, cfg)
	root := login(t, ts.URL, "admin", testAdminPassword)
	admin := newCompany(t, ts, root, "Bucket").users["company_admin"]
	agentID := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Helper", "model": "gpt-4o-mini"}).Map(t)["id"].(string)
	r := admin.upload("POST", "/api/knowledge_documents", "warranty.pdf", "application/pdf", testFile(t, "warranty.pdf"), map[string]string{"agent_id": agentID})
	if r.Status != http.StatusCreated {
		t.Fatalf("upload: got %d %s", r.Status, r.Body)
	}
	doc := r.Map(t)
	if _, err := os.Stat(dir + "/blobs"); err == nil {
		t.Fatal("DATA_DIR/blobs exists: the file went to the disk, not the bucket")
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c := *admin
	c.http = noRedirect
	got := c.must(http.StatusFound, "GET", "/api/knowledge_documents/"+doc["id"].(string)+"/file", nil)
	loc := got.Header.Get("Location")
	if !strings.HasPrefix(loc, fake.URL+"/"+fake.Bucket+"/e2e/") {
		t.Fatalf("Location %q: want a URL of the bucket under the prefix", loc)
	}
	resp, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, testFile(t, "warranty.pdf")) {
		t.Fatalf("presigned GET: got %d and %d bytes, want 200 and the file", resp.StatusCode, len(body))
	}
	admin.must(http.StatusOK, "DELETE", "/api/knowledge_documents/"+doc["id"].(string), nil)
	if resp, err := http.Get(loc); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the file after the delete: got %d, want 404", resp.StatusCode)
		}
	}
}
