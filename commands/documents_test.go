package commands_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/document"
	"agentdesk/eventstore"
)

// memBlobs is a blob store in memory whose deletes can be made to fail.
type memBlobs struct {
	mu         sync.Mutex
	blobs      map[string][]byte
	failDelete bool
}

func (m *memBlobs) Put(_ context.Context, key string, r io.Reader, _ int64, _ string) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[key] = b
	return nil
}

func (m *memBlobs) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failDelete {
		return errors.New("blob store unavailable")
	}
	delete(m.blobs, key)
	return nil
}

func (m *memBlobs) has(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.blobs[key]
	return ok
}

// flakyChunks fails every append to a knowledge chunk's stream while
// failing is set: a process that stops between a document's events and
// its chunks'.
type flakyChunks struct {
	eventstore.Store
	failing atomic.Bool
}

func (f *flakyChunks) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if f.failing.Load() && strings.HasPrefix(stream, "knowledge-") {
		return eventstore.AppendResult{}, errors.New("event store unavailable")
	}
	return f.Store.Append(ctx, stream, expected, events)
}

func newDocumentApp(t *testing.T) (*commands.App, *flakyChunks, *memBlobs) {
	t.Helper()
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	flaky := &flakyChunks{Store: es}
	blobs := &memBlobs{blobs: map[string][]byte{}}
	app, err := commands.New(commands.Config{Store: flaky, Hasher: noHash{}, Now: func() time.Time { return fixedNow }, Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	return app, flaky, blobs
}

func guide(paragraphs ...string) commands.UploadKnowledgeDocument {
	in := commands.UploadKnowledgeDocument{Title: "Guide", Filename: "guide.md", ContentType: "text/markdown",
		Data: []byte(strings.Join(paragraphs, "\n\n"))}
	for _, p := range paragraphs {
		in.Pieces = append(in.Pieces, commands.DocumentPiece{Title: "Guide", Content: p})
	}
	return in
}

func documentOf(t *testing.T, es eventstore.Store, id string) document.Document {
	t.Helper()
	evs, err := es.ReadStream(context.Background(), document.Stream(id), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var d document.Document
	for _, rec := range evs {
		e, err := document.Events.Decode(rec.Type, rec.SchemaVersion, rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		d.Apply(e)
	}
	return d
}

// TestDocumentIngestionCutShortResumes: chunks that cannot be written
// leave the document failed, with its file and its plan recorded; the
// same file again writes them and marks it ingested.
func TestDocumentIngestionCutShortResumes(t *testing.T) {
	app, es, blobs := newDocumentApp(t)
	ctx := context.Background()
	m := adminOf("11111111-1111-4111-8111-111111111111")
	in := guide("Returns within 30 days.", "Refunds within 5 days.")
	in.AgentID = newAgent(t, app, m)
	m.CommandID = "upload-1"
	es.failing.Store(true)
	if _, err := app.UploadKnowledgeDocument(ctx, m, in); err == nil {
		t.Fatal("upload with chunks failing: got no error")
	}
	id := commands.DeriveID("upload-1", "knowledge_document")
	d := documentOf(t, es, id)
	if d.Status != document.StatusFailed || !strings.Contains(d.Error, "event store unavailable") || len(d.Chunks) != 2 || !blobs.has(d.File.BlobKey) {
		t.Fatalf("got %+v, want a failed document with its 2 chunks planned and its file stored", d)
	}
	es.failing.Store(false)
	res, err := app.ReplaceKnowledgeDocument(ctx, adminOf(m.Principal.CompanyID), id, in)
	if err != nil {
		t.Fatal(err)
	}
	d = documentOf(t, es, id)
	if d.Status != document.StatusIngested || res.Revision != d.Version-1 {
		t.Fatalf("got %+v, want it ingested", d)
	}
	for _, c := range d.Chunks {
		chunk, err := app.KnowledgeChunk(ctx, c.ID)
		if err != nil || chunk.DocumentID != id {
			t.Fatalf("chunk %s: got %+v, %v; want it written, linked to the document", c.ID, chunk, err)
		}
	}
}

// TestDocumentDeleteCutShortIsFinishedByTheNext: a delete whose chunks or
// file cannot be removed still records the deletion; the next delete
// removes what is left and answers not found.
func TestDocumentDeleteCutShortIsFinishedByTheNext(t *testing.T) {
	app, es, blobs := newDocumentApp(t)
	ctx := context.Background()
	m := adminOf("11111111-1111-4111-8111-111111111111")
	in := guide("Returns within 30 days.", "Refunds within 5 days.")
	in.AgentID = newAgent(t, app, m)
	res, err := app.UploadKnowledgeDocument(ctx, m, in)
	if err != nil {
		t.Fatal(err)
	}
	d := documentOf(t, es, res.ID)
	es.failing.Store(true)
	blobs.failDelete = true
	if _, err := app.DeleteKnowledgeDocument(ctx, m, res.ID); err == nil {
		t.Fatal("delete with chunks failing: got no error")
	}
	if !documentOf(t, es, res.ID).Deleted {
		t.Fatal("the deletion is not recorded")
	}
	if _, err := app.KnowledgeChunk(ctx, d.Chunks[0].ID); err != nil {
		t.Fatalf("chunk: got %v, want it still there (the delete was cut short)", err)
	}
	es.failing.Store(false)
	blobs.failDelete = false
	if _, err := app.DeleteKnowledgeDocument(ctx, m, res.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("second delete: got %v, want ErrNotFound", err)
	}
	for _, c := range d.Chunks {
		if _, err := app.KnowledgeChunk(ctx, c.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("chunk %s: got %v, want it deleted", c.ID, err)
		}
	}
	if blobs.has(d.File.BlobKey) {
		t.Fatal("the file is still stored")
	}
}

// TestDocumentReplaceKeepsUnchangedChunks: a new version keeps the chunks
// whose content did not change, creates the new ones and deletes the
// vanished; a content that comes back later gets a new chunk.
func TestDocumentReplaceKeepsUnchangedChunks(t *testing.T) {
	app, es, blobs := newDocumentApp(t)
	ctx := context.Background()
	m := adminOf("11111111-1111-4111-8111-111111111111")
	v1 := guide("A.", "B.", "C.")
	v1.AgentID = newAgent(t, app, m)
	res, err := app.UploadKnowledgeDocument(ctx, m, v1)
	if err != nil {
		t.Fatal(err)
	}
	first := documentOf(t, es, res.ID)
	if _, err := app.ReplaceKnowledgeDocument(ctx, m, res.ID, guide("A.", "B2.", "C.")); err != nil {
		t.Fatal(err)
	}
	second := documentOf(t, es, res.ID)
	if second.Chunks[0] != first.Chunks[0] || second.Chunks[2] != first.Chunks[2] || second.Chunks[1].ID == first.Chunks[1].ID {
		t.Fatalf("got %v after %v, want A and C kept", second.Chunks, first.Chunks)
	}
	if _, err := app.KnowledgeChunk(ctx, first.Chunks[1].ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("B: got %v, want it deleted", err)
	}
	if blobs.has(first.File.BlobKey) || !blobs.has(second.File.BlobKey) {
		t.Fatal("want the old version's file deleted and the new one's stored")
	}
	if _, err := app.ReplaceKnowledgeDocument(ctx, m, res.ID, guide("A.", "B.", "C.")); err != nil {
		t.Fatal(err)
	}
	third := documentOf(t, es, res.ID)
	if third.Chunks[1].ID == first.Chunks[1].ID {
		t.Fatal("B came back under its deleted chunk's id")
	}
	if c, err := app.KnowledgeChunk(ctx, third.Chunks[1].ID); err != nil || c.Content != "B." {
		t.Fatalf("B again: got %+v, %v", c, err)
	}
	writer := commands.Meta{Principal: domain.Principal{UserID: "w", CompanyID: m.Principal.CompanyID, Role: domain.ContentWriter}}
	if _, err := app.DeleteKnowledgeDocument(ctx, writer, res.ID); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("a content writer deletes: got %v, want ErrForbidden", err)
	}
	if _, err := app.ReplaceKnowledgeDocument(ctx, adminOf("22222222-2222-4222-8222-222222222222"), res.ID, guide("X.")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("another company replaces: got %v, want ErrNotFound", err)
	}
}
