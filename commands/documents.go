package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"agentdesk/domain"
	"agentdesk/domain/document"
	"agentdesk/domain/knowledge"
)

// Blobs stores the files of knowledge documents. Put replaces a blob
// whole; Delete of a missing blob is no error. Implementations are safe
// for concurrent use.
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Delete(ctx context.Context, key string) error
}

// ErrNoBlobs is returned by the document commands of an App configured
// without a blob store.
var ErrNoBlobs = errors.New("no blob store is configured")

// DocumentPiece is one piece of a document's text, which becomes one
// knowledge chunk.
type DocumentPiece struct {
	Title   string
	Content string
}

// UploadKnowledgeDocument is the input of UploadKnowledgeDocument and
// ReplaceKnowledgeDocument: the file, and the pieces its text was split
// into.
type UploadKnowledgeDocument struct {
	// CompanyID is only read for a superadmin, as for chunks.
	CompanyID string
	// AgentID must name an agent of the company; a replacement keeps
	// the document's agent (empty, or the same).
	AgentID     string
	Title       string
	Filename    string
	ContentType string
	Data        []byte
	Pieces      []DocumentPiece
}

// UploadKnowledgeDocument stores a new document's file as a blob,
// records the document with the chunks its pieces become, writes those
// chunks and records the document ingested. Chunk ids are derived from
// the document's id and their content, so a resumed ingestion writes
// each chunk once. It follows the chunks' rules: whoever may create a
// chunk may upload a document.
func (a *App) UploadKnowledgeDocument(ctx context.Context, m Meta, in UploadKnowledgeDocument) (Result, error) {
	if a.blobs == nil {
		return Result{}, ErrNoBlobs
	}
	companyID, err := a.companyForCreate(ctx, m.Principal, in.CompanyID, func(companyID string) bool {
		return domain.CanKnowledge(m.Principal, domain.Create, domain.KnowledgeRef{CompanyID: companyID})
	})
	if err != nil {
		return Result{}, err
	}
	id := newID(m, "knowledge_document")
	var probe document.Document
	file, chunks := fileOf(companyID, id, in), plan(&probe, id, in.Pieces)
	cmd := document.UploadCmd{DocumentID: id, CompanyID: companyID, AgentID: in.AgentID, Title: in.Title, File: file, Chunks: chunks}
	if _, err := probe.Upload(cmd); err != nil {
		return Result{}, err
	}
	if err := a.checkAgent(ctx, companyID, in.AgentID, "agent_id"); err != nil {
		return Result{}, err
	}
	if err := a.blobs.Put(ctx, file.BlobKey, bytes.NewReader(in.Data), file.Size, file.ContentType); err != nil {
		return Result{}, fmt.Errorf("store document file: %w", err)
	}
	res, err := create(ctx, a, m, document.Events, document.Stream(id), id, func(d *document.Document) (string, []domain.Event, error) {
		evs, err := d.Upload(cmd)
		return companyID, evs, err
	})
	if err != nil {
		return Result{}, err
	}
	return a.ingestDocument(ctx, m, id, in.Pieces, res)
}

// ReplaceKnowledgeDocument uploads a new version of document id: the
// chunks whose title and content are unchanged stay as they are (same
// ids), new ones are created and vanished ones deleted. The same file
// again changes nothing, or finishes an ingestion cut short.
func (a *App) ReplaceKnowledgeDocument(ctx context.Context, m Meta, id string, in UploadKnowledgeDocument) (Result, error) {
	if a.blobs == nil {
		return Result{}, ErrNoBlobs
	}
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	l, err := load[document.Document](ctx, a, document.Events, document.Stream(id))
	if err != nil {
		return Result{}, err
	}
	d := l.state
	if err := canDocument(m.Principal, &d, domain.Update); err != nil {
		return Result{}, err
	}
	if err := checkRevision(m.IfRevision, l.revision); err != nil {
		return Result{}, err
	}
	p := domain.Problems{}
	if in.AgentID != "" && in.AgentID != d.AgentID {
		p.Add("agent_id", "cannot be changed; upload a new document for another agent")
	}
	if in.CompanyID != "" && in.CompanyID != d.CompanyID {
		p.Add("company_id", "cannot be changed")
	}
	if err := p.Err(); err != nil {
		return Result{}, err
	}
	file := fileOf(d.CompanyID, id, in)
	cmd := document.ReplaceCmd{Title: in.Title, File: file, Chunks: plan(&d, id, in.Pieces)}
	probe := d
	if _, err := probe.Replace(cmd); err != nil {
		return Result{}, err
	}
	if err := a.blobs.Put(ctx, file.BlobKey, bytes.NewReader(in.Data), file.Size, file.ContentType); err != nil {
		return Result{}, fmt.Errorf("store document file: %w", err)
	}
	version := d.Version
	m.IfRevision = nil
	res, err := execute(ctx, a, m, document.Events, document.Stream(id), id, func(d *document.Document) (string, []domain.Event, error) {
		if d.Version != version {
			return "", nil, fmt.Errorf("%w: the document changed while its new version was stored; retry", domain.ErrConflict)
		}
		evs, err := d.Replace(cmd)
		return d.CompanyID, evs, err
	})
	if err != nil {
		return Result{}, err
	}
	res, err = a.ingestDocument(ctx, m, id, in.Pieces, res)
	if err == nil && d.File.BlobKey != file.BlobKey {
		// The old version's file is no longer named by the document. A
		// crash before this leaves it in the store, unreferenced.
		_ = a.blobs.Delete(ctx, d.File.BlobKey)
	}
	return res, err
}

// DeleteKnowledgeDocument deletes a document, then its chunks and its
// file. The deletion is recorded first: the chunks and the file of a
// deleted document are deleted again by every later delete of it, which
// then answers domain.ErrNotFound, so a delete cut short is finished by
// the next.
func (a *App) DeleteKnowledgeDocument(ctx context.Context, m Meta, id string) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	l, err := load[document.Document](ctx, a, document.Events, document.Stream(id))
	if err != nil {
		return Result{}, err
	}
	d := l.state
	if d.Deleted && domain.CanKnowledge(m.Principal, domain.Delete, d.Ref()) {
		if err := a.removeDocumentParts(ctx, m, &d); err != nil {
			return Result{}, err
		}
		return Result{}, domain.ErrNotFound
	}
	res, err := execute(ctx, a, m, document.Events, document.Stream(id), id, func(d *document.Document) (string, []domain.Event, error) {
		if err := canDocument(m.Principal, d, domain.Delete); err != nil {
			return "", nil, err
		}
		if m.IfRevision != nil && d.Version-1 != *m.IfRevision {
			return "", nil, checkRevision(m.IfRevision, d.Version-1)
		}
		evs, err := d.Delete()
		return d.CompanyID, evs, err
	})
	if err != nil {
		return Result{}, err
	}
	if err := a.removeDocumentParts(ctx, m, &d); err != nil {
		return Result{}, err
	}
	return res, nil
}

// removeDocumentParts deletes the chunks and the file of a deleted
// document; what is gone already is no error.
func (a *App) removeDocumentParts(ctx context.Context, m Meta, d *document.Document) error {
	for _, c := range d.AllChunks() {
		if err := a.deleteDocumentChunk(ctx, m, c.ID); err != nil {
			return err
		}
	}
	if a.blobs != nil && d.File.BlobKey != "" {
		if err := a.blobs.Delete(ctx, d.File.BlobKey); err != nil {
			return fmt.Errorf("delete document file: %w", err)
		}
	}
	return nil
}

// ingestDocument writes the chunks of the document's current version
// that do not exist yet, deletes its stale ones, and records it
// ingested. A failure is recorded on the document (status failed) before
// it is returned; uploading the same file again resumes.
func (a *App) ingestDocument(ctx context.Context, m Meta, id string, pieces []DocumentPiece, last Result) (Result, error) {
	m = m.other()
	l, err := load[document.Document](ctx, a, document.Events, document.Stream(id))
	if err != nil {
		return Result{}, err
	}
	d := l.state
	if m.CommandID != "" {
		// Event ids are derived from the command id and the stream, so
		// the document's second append of one command needs a command id
		// of its own.
		m.CommandID = DeriveID(m.CommandID, fmt.Sprintf("ingest/%d", d.Version))
	}
	if !d.Exists() {
		return Result{}, domain.ErrNotFound
	}
	bySHA := map[string]DocumentPiece{}
	for _, p := range pieces {
		bySHA[document.PieceSHA256(p.Title, p.Content)] = p
	}
	err = func() error {
		for _, c := range d.Chunks {
			p, ok := bySHA[c.SHA256]
			if !ok {
				return fmt.Errorf("chunk %s: its content is not among the pieces uploaded", c.ID)
			}
			if err := a.createDocumentChunk(ctx, m, &d, c.ID, p); err != nil {
				return err
			}
		}
		for _, c := range d.Stale {
			if err := a.deleteDocumentChunk(ctx, m, c.ID); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		// Recorded with a context of its own: the request's may be what
		// ended.
		_, _ = execute(context.WithoutCancel(ctx), a, m, document.Events, document.Stream(id), id, func(d *document.Document) (string, []domain.Event, error) {
			evs, ferr := d.MarkFailed(err.Error())
			return d.CompanyID, evs, ferr
		})
		return Result{}, fmt.Errorf("ingest document %s: %w", id, err)
	}
	res, err := execute(ctx, a, m, document.Events, document.Stream(id), id, func(d *document.Document) (string, []domain.Event, error) {
		evs, err := d.MarkIngested()
		return d.CompanyID, evs, err
	})
	if err != nil {
		return Result{}, err
	}
	if !res.Changed {
		res.Position, res.Changed = last.Position, last.Changed
	}
	return res, nil
}

// createDocumentChunk creates chunk id of document d, unless its stream
// exists already (an ingestion resumed, or a chunk deleted by hand,
// which stays deleted until its content changes). The document's
// permission covers its chunks.
func (a *App) createDocumentChunk(ctx context.Context, m Meta, d *document.Document, id string, p DocumentPiece) error {
	cmd := knowledge.CreateCmd{ChunkID: id, CompanyID: d.CompanyID, AgentID: d.AgentID, Title: p.Title, Content: p.Content,
		Source: knowledge.Upload, DocumentID: d.ID}
	_, err := execute(ctx, a, m, knowledge.Events, knowledge.Stream(id), id, func(c *knowledge.Chunk) (string, []domain.Event, error) {
		if c.Version > 0 {
			return c.CompanyID, nil, nil
		}
		evs, err := c.Create(cmd)
		return d.CompanyID, evs, err
	})
	if err != nil {
		return fmt.Errorf("create chunk %s: %w", id, err)
	}
	return nil
}

// deleteDocumentChunk deletes chunk id, if it still exists.
func (a *App) deleteDocumentChunk(ctx context.Context, m Meta, id string) error {
	_, err := execute(ctx, a, m.other(), knowledge.Events, knowledge.Stream(id), id, func(c *knowledge.Chunk) (string, []domain.Event, error) {
		if !c.Exists() {
			return c.CompanyID, nil, nil
		}
		evs, err := c.Delete()
		return c.CompanyID, evs, err
	})
	if err != nil {
		return fmt.Errorf("delete chunk %s: %w", id, err)
	}
	return nil
}

// canDocument checks that p may do act to d: a document p cannot see (or
// that does not exist) is not found.
func canDocument(p domain.Principal, d *document.Document, act domain.Action) error {
	if !d.Exists() || !domain.CanKnowledge(p, domain.Read, d.Ref()) {
		return domain.ErrNotFound
	}
	if !domain.CanKnowledge(p, act, d.Ref()) {
		return domain.ErrForbidden
	}
	return nil
}

// fileOf describes in's file as stored for document id of companyID.
func fileOf(companyID, id string, in UploadKnowledgeDocument) document.File {
	sum := sha256.Sum256(in.Data)
	sha := hex.EncodeToString(sum[:])
	return document.File{Filename: in.Filename, ContentType: in.ContentType, Size: int64(len(in.Data)), SHA256: sha,
		BlobKey: document.BlobKey(companyID, id, sha)}
}

// plan is d's chunk list for pieces (see document.Document.Plan); new
// chunks' ids are derived from the document, its version and the
// piece, so that a version's chunks never take the id of an earlier
// version's deleted chunk.
func plan(d *document.Document, id string, pieces []DocumentPiece) []document.ChunkRef {
	shas := make([]string, len(pieces))
	for i, p := range pieces {
		shas[i] = document.PieceSHA256(p.Title, p.Content)
	}
	return d.Plan(shas, func(i int) string {
		return DeriveID(id, fmt.Sprintf("chunk/%d/%d/%s", d.Version, i, shas[i]))
	})
}
