package projections

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"agentdesk/domain/knowledge"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// KnowledgeVectors is the name of the knowledge_vectors read model and
// of its projection: the vector of each knowledge chunk whose current
// content has been embedded, for retrieval. No endpoint serves it.
var KnowledgeVectors = resource.KnowledgeVectorsCollection

// KnowledgeVector is a document of the knowledge_vectors read model: the
// last vector recorded for a chunk's current content.
type KnowledgeVector struct {
	// ID is the chunk's id.
	ID        string `json:"id"`
	CompanyID string `json:"company_id"`
	// AgentID is the chunk's agent now: a chunk moved to another agent
	// takes its vector along.
	AgentID   string `json:"agent_id"`
	Model     string `json:"model"`
	Dimension int    `json:"dimension"`
	// Vector is EncodeVector of the vector: little-endian float32s in
	// standard base64, a third of the size of JSON numbers.
	Vector string `json:"vector"`
	// ContentSHA256 is the hex SHA-256 of the content embedded.
	ContentSHA256 string    `json:"content_sha256"`
	UpdatedAt     time.Time `json:"updated_at"`
	// Position is the log position of the document's last change, by
	// which retrieval follows an agent's vectors.
	Position string `json:"position"`
}

// KnowledgeVectorsProjector builds the knowledge_vectors read model from
// the knowledge.embedded events: a chunk gets its document when its
// content is embedded, loses it when its content changes (the vector is
// stale until the new content is embedded) or it is deleted, and a
// chunk moved to another agent moves its vector along. A rebuild reads
// the vectors from the log and never asks a model.
func KnowledgeVectorsProjector() Projector {
	return &Def[KnowledgeVector]{
		ProjectionName: KnowledgeVectors,
		Spec: readstore.Collection{
			Name: KnowledgeVectors,
			Fields: []readstore.Field{
				{Name: "company_id", Type: readstore.String}, {Name: "agent_id", Type: readstore.String},
				{Name: "model", Type: readstore.String}, {Name: "updated_at", Type: readstore.Time},
				{Name: "position", Type: readstore.String},
			},
			// Retrieval reads an agent's vectors changed since its last
			// look, and counts them to notice a removal.
			Indexes: [][]string{{"company_id", "agent_id", "position"}, {"company_id", "agent_id"}},
			Counts:  [][]string{{"company_id", "agent_id"}},
		},
		Categories: []string{knowledge.Category},
		DocID:      streamID(knowledge.Category),
		// An embedding makes the whole document, whatever was there
		// before, so no earlier document need be read for it.
		Creates: []string{knowledge.TypeEmbedded},
		Project: projectKnowledgeVector,
	}
}

func projectKnowledgeVector(ev eventstore.RecordedEvent, cur *KnowledgeVector) (*KnowledgeVector, error) {
	e, err := decode(knowledge.Events, ev)
	if err != nil {
		return nil, err
	}
	switch e := e.(type) {
	case *knowledge.Embedded:
		if e.Dimension != len(e.Vector) || e.Dimension == 0 {
			return nil, fmt.Errorf("embedding of dimension %d has %d values", e.Dimension, len(e.Vector))
		}
		return &KnowledgeVector{
			ID: strings.TrimPrefix(ev.StreamID, knowledge.Stream("")), CompanyID: ev.Metadata.CompanyID, AgentID: e.AgentID,
			Model: e.Model, Dimension: e.Dimension, Vector: EncodeVector(e.Vector), ContentSHA256: e.ContentSHA256,
			UpdatedAt: ev.Metadata.RecordedAt, Position: ev.Position.Key(),
		}, nil
	case *knowledge.Created, *knowledge.Deleted:
		return nil, nil
	case *knowledge.Updated:
		if cur == nil || e.Content != nil {
			return nil, nil
		}
		if e.AgentID == nil {
			return cur, nil
		}
		next := *cur
		next.AgentID, next.UpdatedAt, next.Position = *e.AgentID, ev.Metadata.RecordedAt, ev.Position.Key()
		return &next, nil
	}
	return nil, fmt.Errorf("unexpected knowledge event %s", ev.Type)
}

// EncodeVector encodes v as knowledge_vectors keeps it: each value a
// little-endian IEEE 754 float32, the bytes in standard base64 (the
// encoding of OpenAI's encoding_format "base64").
func EncodeVector(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeVector decodes what EncodeVector encoded.
func DecodeVector(s string) ([]float32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode vector: %w", err)
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("decode vector: %d bytes is no whole number of float32s", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}
