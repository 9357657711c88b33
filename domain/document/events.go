package document

import "agentdesk/domain"

// ChunkRef names one knowledge chunk a document's text was split into,
// with the SHA-256 of what it holds (see PieceSHA256), by which a
// re-upload tells the chunks that stay from the ones that change.
type ChunkRef struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
}

// File is what an upload stored: the blob and what it is.
type File struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	BlobKey     string `json:"blob_key"`
}

// Uploaded records a new document, its file stored as a blob, and the
// chunks its text is split into, which are written next (Ingested
// records that they are).
type Uploaded struct {
	DocumentID string `json:"document_id"`
	CompanyID  string `json:"company_id"`
	AgentID    string `json:"agent_id"`
	Title      string `json:"title"`
	File
	Chunks []ChunkRef `json:"chunks"`
}

// Replaced records a new version of the document's file and the chunks
// its text is now split into: those of the old version with the same
// content keep their ids, the rest are new, and the old ones absent
// from the list are deleted before Ingested is recorded.
type Replaced struct {
	Title string `json:"title"`
	File
	Chunks []ChunkRef `json:"chunks"`
}

// Ingested records that the chunks of the current version are written
// and those of earlier versions deleted.
type Ingested struct {
	ChunkCount int `json:"chunk_count"`
}

// Failed records why writing the chunks of the current version failed;
// uploading the same file again resumes.
type Failed struct {
	Reason string `json:"reason"`
}

// Deleted records the document's deletion; its chunks are deleted after
// it (and again by every later delete, until none is left), and its
// blob.
type Deleted struct{}

// Event type names, stable forever.
const (
	TypeUploaded = "knowledge_document.uploaded"
	TypeReplaced = "knowledge_document.replaced"
	TypeIngested = "knowledge_document.ingested"
	TypeFailed   = "knowledge_document.failed"
	TypeDeleted  = "knowledge_document.deleted"
)

// EventType implements domain.Event.
func (*Uploaded) EventType() string { return TypeUploaded }

// EventType implements domain.Event.
func (*Replaced) EventType() string { return TypeReplaced }

// EventType implements domain.Event.
func (*Ingested) EventType() string { return TypeIngested }

// EventType implements domain.Event.
func (*Failed) EventType() string { return TypeFailed }

// EventType implements domain.Event.
func (*Deleted) EventType() string { return TypeDeleted }

// Events decodes stored knowledge document events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Uploaded{} },
	func() domain.Event { return &Replaced{} },
	func() domain.Event { return &Ingested{} },
	func() domain.Event { return &Failed{} },
	func() domain.Event { return &Deleted{} },
)

// Category is the stream category of knowledge documents.
const Category = "knowledge_document"

// Stream returns the event stream id of a knowledge document.
func Stream(id string) string { return Category + "-" + id }
