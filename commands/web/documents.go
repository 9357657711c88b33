package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/document"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/internal/extract"
)

// Knowledge documents
//
//	POST   /api/knowledge_documents            multipart: file, agent_id, title, company_id
//	PUT    /api/knowledge_documents/{id}       multipart: file, title (a new version)
//	DELETE /api/knowledge_documents/{id}
//	GET    /api/knowledge_documents/{id}/file  the file (a redirect to a presigned URL on S3)
//
// The file is sniffed (its declared type and name only help tell
// Markdown and HTML from plain text), its text extracted and split along
// headings and paragraphs, and the document answered once its chunks
// are written.

// MaxDocument is the largest document file accepted, in bytes (413
// beyond).
const MaxDocument = 10 << 20

// ChunkTokens is the token budget of one chunk of a document.
const ChunkTokens = 400

// presignTTL is how long a presigned download URL stays valid.
const presignTTL = 5 * time.Minute

// uploadTime bounds how long an upload may take to arrive, past the
// server's read timeout, which is sized for JSON bodies.
const uploadTime = 2 * time.Minute

var splitter = extract.Splitter{Budget: ChunkTokens, MaxRunes: knowledge.MaxContent, MaxTitle: knowledge.MaxTitle, Tokens: knowledge.EstimateTokens}

// upload is one multipart upload read: the file and the form fields.
type upload struct {
	data               []byte
	filename, declared string
	fields             map[string]string
}

// readUpload reads a multipart upload of at most MaxDocument bytes of
// file and the form fields named allowed (any other is a 400).
func readUpload(w http.ResponseWriter, r *http.Request, allowed ...string) (upload, error) {
	up := upload{fields: map[string]string{}}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return up, &requestError{status: http.StatusUnsupportedMediaType, msg: "send the file as multipart/form-data with a file field"}
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadTime))
	// The form's other fields are small: a little room beside the file.
	mr, err := (&http.Request{Header: r.Header, Body: http.MaxBytesReader(w, r.Body, MaxDocument+64<<10)}).MultipartReader()
	if err != nil {
		return up, &requestError{status: http.StatusBadRequest, msg: "cannot read the multipart body"}
	}
	seen := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return up, bodyError(err)
		}
		name := part.FormName()
		switch {
		case name == "file":
			if seen {
				return up, &requestError{status: http.StatusBadRequest, msg: "send one file", fields: map[string]string{"file": "send one file"}}
			}
			seen = true
			up.filename, up.declared = filepath.Base(part.FileName()), part.Header.Get("Content-Type")
			b, err := io.ReadAll(io.LimitReader(part, MaxDocument+1))
			if err != nil {
				return up, bodyError(err)
			}
			if len(b) > MaxDocument {
				return up, &requestError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the file must be at most %d bytes", MaxDocument)}
			}
			up.data = b
		case slices.Contains(allowed, name):
			b, err := io.ReadAll(io.LimitReader(part, 4<<10))
			if err != nil {
				return up, bodyError(err)
			}
			up.fields[name] = strings.TrimSpace(string(b))
		default:
			want := strings.Join(append([]string{"file"}, allowed...), ", ")
			return up, &requestError{status: http.StatusBadRequest, msg: "unknown field " + name,
				fields: map[string]string{name: "unknown field (want " + want + ")"}}
		}
	}
	if !seen {
		return up, &requestError{status: http.StatusUnprocessableEntity, msg: "the file field is missing", fields: map[string]string{"file": "is required"}}
	}
	if len(up.data) == 0 {
		return up, &requestError{status: http.StatusUnprocessableEntity, msg: "the file is empty", fields: map[string]string{"file": "must not be empty"}}
	}
	if up.filename == "." || up.filename == "/" || up.filename == "" {
		up.filename = "file"
	}
	return up, nil
}

func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &requestError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the file must be at most %d bytes", MaxDocument)}
	}
	return &requestError{status: http.StatusBadRequest, msg: "cannot read the multipart body"}
}

// documentInput sniffs, extracts and splits an upload; its pieces are
// titled by the upload's title, else keep (a new version keeps its
// document's title), else the file's name.
func documentInput(up upload, keep string) (commands.UploadKnowledgeDocument, error) {
	kind, err := extract.Sniff(up.data, up.declared, up.filename)
	if err != nil {
		return commands.UploadKnowledgeDocument{}, &requestError{status: http.StatusUnsupportedMediaType, msg: err.Error() + "; send text, Markdown, HTML or PDF"}
	}
	text, err := extract.Extract(kind, up.data)
	if err != nil {
		return commands.UploadKnowledgeDocument{}, &requestError{status: http.StatusUnprocessableEntity, msg: "cannot read the file's text: " + err.Error(),
			fields: map[string]string{"file": err.Error()}}
	}
	title := up.fields["title"]
	if title == "" {
		title = keep
	}
	if title == "" {
		title = strings.TrimSuffix(up.filename, filepath.Ext(up.filename))
	}
	if utf8.RuneCountInString(title) > document.MaxTitle {
		return commands.UploadKnowledgeDocument{}, &domain.ValidationError{Fields: map[string]string{"title": fmt.Sprintf("must be at most %d characters", document.MaxTitle)}}
	}
	in := commands.UploadKnowledgeDocument{CompanyID: up.fields["company_id"], AgentID: up.fields["agent_id"], Title: title, Filename: up.filename,
		ContentType: string(kind), Data: up.data}
	for _, p := range splitter.Split(title, text) {
		in.Pieces = append(in.Pieces, commands.DocumentPiece{Title: p.Title, Content: p.Content})
	}
	return in, nil
}

// runUpload serves a multipart document write: it reads the upload
// instead of a JSON body, then answers as run does. Uploads carry no
// Idempotency-Key: a retried upload of a new document makes another
// one, and a retried replacement changes nothing.
func (h *Handler) runUpload(fn func(c *call, in commands.UploadKnowledgeDocument) (outcome, error)) http.HandlerFunc {
	kind := resource.KnowledgeDocuments.Name
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.principal(r.Context())
		if !ok {
			h.writeErr(w, r, &requestError{status: http.StatusUnauthorized, msg: "not authenticated"})
			return
		}
		if !domain.CanKnowledge(p, domain.Read, domain.KnowledgeRef{CompanyID: p.CompanyID}) {
			// Refused before the upload is read and parsed.
			h.writeErr(w, r, domain.ErrForbidden)
			return
		}
		keep := ""
		if id := chi.URLParam(r, "id"); id != "" {
			// A new version: the document must be one p may see, and its
			// title titles the pieces unless the upload names another.
			rec, err := h.records.Record(r.Context(), p, kind, id, eventstore.Start)
			if err != nil {
				h.writeErr(w, r, err)
				return
			}
			var doc struct {
				Title string `json:"title"`
			}
			if err := json.Unmarshal(rec, &doc); err != nil {
				h.writeErr(w, r, err)
				return
			}
			keep = doc.Title
		}
		up, err := readUpload(w, r, "agent_id", "title", "company_id")
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		in, err := documentInput(up, keep)
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		c := &call{r: r, id: chi.URLParam(r, "id"), meta: commands.Meta{
			Principal:     p,
			CorrelationID: headerID(r, "X-Correlation-ID"),
			CausationID:   headerID(r, "X-Causation-ID"),
			RequestID:     middleware.GetReqID(r.Context()),
		}}
		if c.meta.IfRevision, err = ifRevision(r, nil); err != nil {
			h.writeErr(w, r, err)
			return
		}
		status, out, err := h.execute(c, kind, func(c *call) (outcome, error) { return fn(c, in) })
		h.answer(w, r, status, out, err)
	}
}

func (h *Handler) uploadDocument(c *call, in commands.UploadKnowledgeDocument) (outcome, error) {
	res, err := h.app.UploadKnowledgeDocument(c.r.Context(), c.meta, in)
	if err != nil {
		return outcome{}, err
	}
	return created(res)
}

func (h *Handler) replaceDocument(c *call, in commands.UploadKnowledgeDocument) (outcome, error) {
	return done(h.app.ReplaceKnowledgeDocument(c.r.Context(), c.meta, c.id, in))
}

func (h *Handler) deleteDocument(c *call) (outcome, error) {
	return h.deleteWith(c, resource.KnowledgeDocuments.Name, h.app.DeleteKnowledgeDocument)
}

// downloadDocument answers a document's file: a redirect to a presigned
// URL when the store is S3, the file itself otherwise.
func (h *Handler) downloadDocument(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(r.Context())
	if !ok {
		h.writeErr(w, r, &requestError{status: http.StatusUnauthorized, msg: "not authenticated"})
		return
	}
	id := chi.URLParam(r, "id")
	rec, err := h.records.Record(r.Context(), p, resource.KnowledgeDocuments.Name, id, eventstore.Start)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	var doc struct {
		CompanyID string `json:"company_id"`
		Filename  string `json:"filename"`
		SHA256    string `json:"sha256"`
	}
	if err := json.Unmarshal(rec, &doc); err != nil {
		h.writeErr(w, r, err)
		return
	}
	h.serveBlob(w, r, document.BlobKey(doc.CompanyID, id, doc.SHA256), doc.Filename)
}
