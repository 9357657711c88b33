// Package document is the knowledge Document aggregate: a file (text,
// Markdown, HTML or PDF) uploaded for an agent, stored as a blob, whose
// text is split into knowledge chunks that name it. The document keeps
// the list of its chunks with their content hashes, so that a new
// version replaces only the chunks that changed, and a deletion knows
// every chunk to delete.
package document

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"agentdesk/domain"
)

// Status is where a document's ingestion stands.
type Status string

// Statuses, in domain order.
const (
	// StatusUploaded: the file is stored and its chunks planned, but not
	// all written yet (a write in progress, or one cut short).
	StatusUploaded Status = "uploaded"
	// StatusIngested: the chunks of the current version are written.
	StatusIngested Status = "ingested"
	// StatusFailed: writing the chunks failed; see Document.Error.
	StatusFailed Status = "failed"
)

// Statuses lists the statuses in domain order.
var Statuses = []Status{StatusUploaded, StatusIngested, StatusFailed}

// Limits.
const (
	// MaxTitle and MaxFilename are in characters.
	MaxTitle    = 200
	MaxFilename = 255
	// MaxReason is the longest failure reason kept, in characters.
	MaxReason = 1000
)

// Document is the state of one knowledge document, rebuilt from its
// events.
type Document struct {
	ID        string
	CompanyID string
	AgentID   string
	Title     string
	File      File
	// Chunks are the chunks of the current version.
	Chunks []ChunkRef
	// Stale are chunks of earlier versions not yet known deleted: a
	// replacement cut short left them, and they are deleted before the
	// next Ingested (or with the document).
	Stale   []ChunkRef
	Status  Status
	Error   string
	Deleted bool
	// Version is the number of events applied.
	Version uint64
}

// Exists reports whether the document was uploaded and not deleted.
func (d *Document) Exists() bool { return d.Version > 0 && !d.Deleted }

// Ref is what the role policy needs to know about d: documents follow
// the knowledge chunks' rules.
func (d *Document) Ref() domain.KnowledgeRef { return domain.KnowledgeRef{CompanyID: d.CompanyID} }

// Apply evolves d by one event.
func (d *Document) Apply(e domain.Event) {
	d.Version++
	switch e := e.(type) {
	case *Uploaded:
		d.ID, d.CompanyID, d.AgentID, d.Title, d.File = e.DocumentID, e.CompanyID, e.AgentID, e.Title, e.File
		d.Chunks, d.Status = e.Chunks, StatusUploaded
	case *Replaced:
		kept := map[string]bool{}
		for _, c := range e.Chunks {
			kept[c.ID] = true
		}
		// A new slice, never the old one's array appended to: copies of
		// a state (the command cache's) share it.
		stale := slices.Clip(d.Stale)
		for _, c := range d.Chunks {
			if !kept[c.ID] {
				stale = append(stale, c)
			}
		}
		d.Stale = stale
		d.Title, d.File, d.Chunks, d.Status, d.Error = e.Title, e.File, e.Chunks, StatusUploaded, ""
	case *Ingested:
		d.Status, d.Stale, d.Error = StatusIngested, nil, ""
	case *Failed:
		d.Status, d.Error = StatusFailed, e.Reason
	case *Deleted:
		d.Deleted = true
	}
}

// AllChunks are the chunks a deletion deletes: the current version's and
// the stale ones.
func (d *Document) AllChunks() []ChunkRef {
	return append(append([]ChunkRef(nil), d.Chunks...), d.Stale...)
}

// UploadCmd uploads a new document; the caller has stored its file and
// checked that the agent is one of the company's.
type UploadCmd struct {
	DocumentID string
	CompanyID  string
	AgentID    string
	Title      string
	File       File
	Chunks     []ChunkRef
}

// Upload decides the upload of a new document.
func (d *Document) Upload(cmd UploadCmd) ([]domain.Event, error) {
	if d.Version > 0 {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	if !domain.ValidID(cmd.DocumentID) {
		p.Add("id", "must be a UUID")
	}
	if !domain.ValidID(cmd.CompanyID) {
		p.Add("company_id", "must be a UUID")
	}
	switch {
	case cmd.AgentID == "":
		p.Add("agent_id", "is required")
	case !domain.ValidID(cmd.AgentID):
		p.Add("agent_id", "must be a UUID")
	}
	title := strings.TrimSpace(cmd.Title)
	checkTitle(p, title)
	checkFile(p, cmd.File)
	checkChunks(p, cmd.Chunks)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Uploaded{DocumentID: cmd.DocumentID, CompanyID: cmd.CompanyID, AgentID: cmd.AgentID,
		Title: title, File: cmd.File, Chunks: cmd.Chunks}}, nil
}

// ReplaceCmd uploads a new version of the document.
type ReplaceCmd struct {
	// Title, when empty, stays as it is.
	Title  string
	File   File
	Chunks []ChunkRef
}

// Replace decides a new version. The same file and title again records
// nothing: a retry, or a resumption of a replacement cut short, which
// the caller finishes with the chunks already planned.
func (d *Document) Replace(cmd ReplaceCmd) ([]domain.Event, error) {
	if !d.Exists() {
		return nil, domain.ErrNotFound
	}
	p := domain.Problems{}
	title := strings.TrimSpace(cmd.Title)
	if title == "" {
		title = d.Title
	}
	checkTitle(p, title)
	checkFile(p, cmd.File)
	checkChunks(p, cmd.Chunks)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if title == d.Title && cmd.File.SHA256 == d.File.SHA256 && cmd.File.Filename == d.File.Filename && cmd.File.ContentType == d.File.ContentType {
		return nil, nil
	}
	return []domain.Event{&Replaced{Title: title, File: cmd.File, Chunks: cmd.Chunks}}, nil
}

// MarkIngested decides recording that the chunks of the current version
// are written; nothing when that is already recorded.
func (d *Document) MarkIngested() ([]domain.Event, error) {
	if !d.Exists() {
		return nil, domain.ErrNotFound
	}
	if d.Status == StatusIngested {
		return nil, nil
	}
	return []domain.Event{&Ingested{ChunkCount: len(d.Chunks)}}, nil
}

// MarkFailed decides recording why writing the chunks failed.
func (d *Document) MarkFailed(reason string) ([]domain.Event, error) {
	if !d.Exists() {
		return nil, domain.ErrNotFound
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "ingestion failed"
	}
	if utf8.RuneCountInString(reason) > MaxReason {
		reason = string([]rune(reason)[:MaxReason])
	}
	if d.Status == StatusFailed && d.Error == reason {
		return nil, nil
	}
	return []domain.Event{&Failed{Reason: reason}}, nil
}

// Delete decides deleting the document; its history stays in the log.
func (d *Document) Delete() ([]domain.Event, error) {
	if !d.Exists() {
		return nil, domain.ErrNotFound
	}
	return []domain.Event{&Deleted{}}, nil
}

// Plan returns the chunk list of a new version whose pieces hash to
// shas (see PieceSHA256), in order: each piece whose content a chunk of
// the current version already holds keeps that chunk's id, each other
// gets newID(i). A content that occurs twice takes two old chunks, or a
// new one for the second. Stale chunks are never taken back: they may
// be deleted already.
func (d *Document) Plan(shas []string, newID func(i int) string) []ChunkRef {
	free := map[string][]string{}
	for _, c := range d.Chunks {
		free[c.SHA256] = append(free[c.SHA256], c.ID)
	}
	out := make([]ChunkRef, len(shas))
	for i, sha := range shas {
		if ids := free[sha]; len(ids) > 0 {
			out[i], free[sha] = ChunkRef{ID: ids[0], SHA256: sha}, ids[1:]
			continue
		}
		out[i] = ChunkRef{ID: newID(i), SHA256: sha}
	}
	return out
}

// BlobKey is the blob key of a document's file: by company, document
// and content, so that a new version never overwrites the file an older
// one still names.
func BlobKey(companyID, documentID, sha256 string) string {
	return companyID + "/documents/" + documentID + "/" + sha256
}

// PieceSHA256 is the hex SHA-256 of a chunk's title and content, which
// a ChunkRef names its content by.
func PieceSHA256(title, content string) string {
	sum := sha256.Sum256([]byte(title + "\x00" + content))
	return hex.EncodeToString(sum[:])
}

func checkTitle(p domain.Problems, title string) {
	switch {
	case title == "":
		p.Add("title", "must not be empty")
	case utf8.RuneCountInString(title) > MaxTitle:
		p.Add("title", fmt.Sprintf("must be at most %d characters", MaxTitle))
	}
}

func checkFile(p domain.Problems, f File) {
	switch {
	case strings.TrimSpace(f.Filename) == "":
		p.Add("filename", "must not be empty")
	case utf8.RuneCountInString(f.Filename) > MaxFilename:
		p.Add("filename", fmt.Sprintf("must be at most %d characters", MaxFilename))
	}
	if f.ContentType == "" {
		p.Add("content_type", "must not be empty")
	}
	if f.Size <= 0 {
		p.Add("file", "must not be empty")
	}
	if len(f.SHA256) != sha256.Size*2 {
		p.Add("sha256", "must be a SHA-256 in hex")
	}
	if f.BlobKey == "" {
		p.Add("blob_key", "must not be empty")
	}
}

func checkChunks(p domain.Problems, chunks []ChunkRef) {
	if len(chunks) == 0 {
		p.Add("file", "has no text to split into chunks")
	}
	seen := map[string]bool{}
	for _, c := range chunks {
		if !domain.ValidID(c.ID) || seen[c.ID] {
			p.Add("chunks", "must have distinct UUIDs")
			return
		}
		seen[c.ID] = true
	}
}
