package document

import (
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	docID     = "aaaaaaaa-1111-4111-8111-111111111111"
	companyID = "22222222-2222-4222-8222-222222222222"
	agentID   = "33333333-3333-4333-8333-333333333333"
	chunkA    = "c0000000-0000-4000-8000-00000000000a"
	chunkB    = "c0000000-0000-4000-8000-00000000000b"
	chunkC    = "c0000000-0000-4000-8000-00000000000c"
)

var (
	shaA, shaB, shaC = PieceSHA256("T", "a"), PieceSHA256("T", "b"), PieceSHA256("T", "c")
	sha1             = strings.Repeat("1", 64)
	sha2             = strings.Repeat("2", 64)
)

func file(sha string) File {
	return File{Filename: "guide.md", ContentType: "text/markdown", Size: 10, SHA256: sha, BlobKey: BlobKey(companyID, docID, sha)}
}

func uploaded() *Uploaded {
	return &Uploaded{DocumentID: docID, CompanyID: companyID, AgentID: agentID, Title: "Guide", File: file(sha1),
		Chunks: []ChunkRef{{chunkA, shaA}, {chunkB, shaB}}}
}

func TestDocument(t *testing.T) {
	upload := func(change func(*UploadCmd)) func(*Document) ([]domain.Event, error) {
		return func(d *Document) ([]domain.Event, error) {
			cmd := UploadCmd{DocumentID: docID, CompanyID: companyID, AgentID: agentID, Title: " Guide ", File: file(sha1),
				Chunks: []ChunkRef{{chunkA, shaA}, {chunkB, shaB}}}
			change(&cmd)
			return d.Upload(cmd)
		}
	}
	replaced := &Replaced{Title: "Guide", File: file(sha2), Chunks: []ChunkRef{{chunkA, shaA}, {chunkC, shaC}}}
	domaintest.Run(t, []domaintest.Spec[Document]{
		{Name: "upload", When: upload(func(*UploadCmd) {}), Want: []domain.Event{uploaded()}},
		{Name: "upload twice", Given: []domain.Event{uploaded()}, When: upload(func(*UploadCmd) {}), WantErr: domain.ErrAlreadyExists},
		{Name: "upload without text", When: upload(func(c *UploadCmd) { c.Chunks = nil }), WantFields: []string{"file"}},
		{Name: "upload invalid", When: upload(func(c *UploadCmd) {
			c.AgentID, c.Title, c.File.Size, c.Chunks = "", "", 0, []ChunkRef{{chunkA, shaA}, {chunkA, shaB}}
		}), WantFields: []string{"agent_id", "chunks", "file", "title"}},
		{Name: "replace", Given: []domain.Event{uploaded(), &Ingested{ChunkCount: 2}},
			When: func(d *Document) ([]domain.Event, error) {
				return d.Replace(ReplaceCmd{File: file(sha2), Chunks: []ChunkRef{{chunkA, shaA}, {chunkC, shaC}}})
			}, Want: []domain.Event{replaced}},
		{Name: "replace with the same file", Given: []domain.Event{uploaded(), &Ingested{ChunkCount: 2}},
			When: func(d *Document) ([]domain.Event, error) {
				return d.Replace(ReplaceCmd{File: file(sha1), Chunks: []ChunkRef{{chunkA, shaA}, {chunkB, shaB}}})
			}},
		{Name: "replace a deleted document", Given: []domain.Event{uploaded(), &Deleted{}},
			When: func(d *Document) ([]domain.Event, error) {
				return d.Replace(ReplaceCmd{File: file(sha2), Chunks: []ChunkRef{{chunkA, shaA}}})
			}, WantErr: domain.ErrNotFound},
		{Name: "ingested", Given: []domain.Event{uploaded()}, When: (*Document).MarkIngested, Want: []domain.Event{&Ingested{ChunkCount: 2}}},
		{Name: "ingested again", Given: []domain.Event{uploaded(), &Ingested{ChunkCount: 2}}, When: (*Document).MarkIngested},
		{Name: "failed", Given: []domain.Event{uploaded()}, When: func(d *Document) ([]domain.Event, error) { return d.MarkFailed(" disk full ") },
			Want: []domain.Event{&Failed{Reason: "disk full"}}},
		{Name: "failed again the same", Given: []domain.Event{uploaded(), &Failed{Reason: "disk full"}},
			When: func(d *Document) ([]domain.Event, error) { return d.MarkFailed("disk full") }},
		{Name: "delete", Given: []domain.Event{uploaded()}, When: (*Document).Delete, Want: []domain.Event{&Deleted{}}},
		{Name: "delete twice", Given: []domain.Event{uploaded(), &Deleted{}}, When: (*Document).Delete, WantErr: domain.ErrNotFound},
	})
}

// TestReplaceKeepsStaleUntilIngested: the chunks a new version drops
// stay listed until it is ingested, so a deletion after a replacement
// cut short still finds them.
func TestReplaceKeepsStaleUntilIngested(t *testing.T) {
	var d Document
	for _, e := range []domain.Event{uploaded(), &Ingested{ChunkCount: 2}, &Replaced{Title: "Guide", File: file(sha2), Chunks: []ChunkRef{{chunkA, shaA}, {chunkC, shaC}}}} {
		d.Apply(e)
	}
	if d.Status != StatusUploaded || len(d.Stale) != 1 || d.Stale[0].ID != chunkB || len(d.AllChunks()) != 3 {
		t.Fatalf("got status %s, stale %v, all %v; want uploaded with chunk B stale", d.Status, d.Stale, d.AllChunks())
	}
	d.Apply(&Ingested{ChunkCount: 2})
	if d.Status != StatusIngested || len(d.Stale) != 0 {
		t.Fatalf("got status %s, stale %v; want ingested with nothing stale", d.Status, d.Stale)
	}
}

func TestPlan(t *testing.T) {
	var d Document
	d.Apply(uploaded())
	n := 0
	got := d.Plan([]string{shaC, shaB, shaA, shaA}, func(i int) string {
		n++
		return "new-" + string(rune('0'+i))
	})
	want := []ChunkRef{{"new-0", shaC}, {chunkB, shaB}, {chunkA, shaA}, {"new-3", shaA}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v: unchanged content keeps its chunk, once", got, want)
		}
	}
	if n != 2 {
		t.Fatalf("got %d new ids, want 2", n)
	}
}

func TestEvents(t *testing.T) {
	domaintest.RoundTrip(t, Events, map[string]domain.Event{
		TypeUploaded: uploaded(),
		TypeReplaced: &Replaced{Title: "Guide", File: file(sha2), Chunks: []ChunkRef{{chunkA, shaA}}},
		TypeIngested: &Ingested{ChunkCount: 3},
		TypeFailed:   &Failed{Reason: "x"},
		TypeDeleted:  &Deleted{},
	})
}
