// Package knowledge is the knowledge Chunk aggregate: a piece of text an
// agent draws on when it answers, with where it came from, its tags and
// an estimate of its size in model tokens.
package knowledge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"agentdesk/domain"
)

// Source is where a chunk's text came from.
type Source string

// Sources.
const (
	Manual    Source = "manual"
	Upload    Source = "upload"
	Shopify   Source = "shopify"
	WordPress Source = "wordpress"
	URL       Source = "url"
)

// Valid reports whether s is a known source.
func (s Source) Valid() bool {
	return s == Manual || s == Upload || s == Shopify || s == WordPress || s == URL
}

// Limits on field sizes, in characters.
const (
	MaxTitle   = 200
	MaxContent = 100000
	MaxTags    = 20
	MaxTag     = 50
	// MaxRemoteID is the longest remote id, in bytes.
	MaxRemoteID = 500
)

// EstimateTokens estimates how many model tokens text takes: one token per
// four bytes of UTF-8, rounded up, OpenAI's rule of thumb for English.
// It is meant for context budgets, not billing: it overestimates text in
// scripts that take several bytes per character, which errs on the safe
// side. The estimate is recorded in events, so changing the rule later
// does not rewrite history.
func EstimateTokens(text string) int { return (len(text) + 3) / 4 }

// Chunk is the state of one knowledge chunk, rebuilt from its events.
type Chunk struct {
	ID         string
	CompanyID  string
	AgentID    string
	Title      string
	Content    string
	Source     Source
	Tags       []string
	TokenCount int
	// RemoteID names the remote item a synced chunk was made of.
	RemoteID string
	// DocumentID is the document the chunk was split from, if any.
	DocumentID string
	Deleted    bool
	// EmbeddedModel and EmbeddedSHA are the model and content hash of
	// the last embedding recorded for the current content; empty when
	// none is (a new content clears them).
	EmbeddedModel string
	EmbeddedSHA   string
	// Version is the number of events applied; the stream's revision is
	// Version-1.
	Version uint64
	// Edited is the stream revision of the last event that was an edit
	// (creation, update, deletion), not an embedding.
	Edited uint64
}

// Exists reports whether the chunk was created and not deleted.
func (c *Chunk) Exists() bool { return c.Version > 0 && !c.Deleted }

// Ref is what the role policy needs to know about c.
func (c *Chunk) Ref() domain.KnowledgeRef { return domain.KnowledgeRef{CompanyID: c.CompanyID} }

// Current reports whether a client that read the chunk at stream
// revision rev saw it as it is: nothing but embeddings was recorded
// since, which change nothing a client reads or writes. An expected
// revision is checked with it, so that the embeddings reaction, which
// appends right after every edit, does not turn the next edit into a
// conflict.
func (c *Chunk) Current(rev uint64) bool { return rev >= c.Edited && rev+1 <= c.Version }

// Apply evolves c by one event.
func (c *Chunk) Apply(e domain.Event) {
	c.Version++
	if _, embedding := e.(*Embedded); !embedding {
		c.Edited = c.Version - 1
	}
	switch e := e.(type) {
	case *Created:
		c.ID, c.CompanyID, c.AgentID, c.Title = e.ChunkID, e.CompanyID, e.AgentID, e.Title
		c.Content, c.Source, c.Tags, c.TokenCount = e.Content, e.Source, e.Tags, e.TokenCount
		c.RemoteID = e.RemoteID
		c.DocumentID = e.DocumentID
	case *Updated:
		if e.AgentID != nil {
			c.AgentID = *e.AgentID
		}
		if e.Title != nil {
			c.Title = *e.Title
		}
		if e.Content != nil {
			c.Content = *e.Content
			// Even a content that comes back to an embedded one is
			// embedded again: the read model dropped the old vector.
			c.EmbeddedModel, c.EmbeddedSHA = "", ""
		}
		if e.TokenCount != nil {
			c.TokenCount = *e.TokenCount
		}
		if e.Source != nil {
			c.Source = *e.Source
		}
		if e.Tags != nil {
			c.Tags = *e.Tags
		}
	case *Deleted:
		c.Deleted = true
	case *Embedded:
		c.EmbeddedModel, c.EmbeddedSHA = e.Model, e.ContentSHA256
	}
}

// CreateCmd creates a chunk.
type CreateCmd struct {
	ChunkID   string
	CompanyID string
	// AgentID is the agent the chunk belongs to; the caller has checked
	// that it is an agent of the company.
	AgentID string
	Title   string
	Content string
	Source  Source // empty means manual
	Tags    []string
	// RemoteID, optional, names the remote item a synced chunk is made
	// of (see Created.RemoteID).
	RemoteID string
	// DocumentID, when set, is the document the chunk is split from.
	DocumentID string
}

// Create decides the creation of a chunk; the token count is estimated
// from the content (see EstimateTokens).
func (c *Chunk) Create(cmd CreateCmd) ([]domain.Event, error) {
	if c.Version > 0 {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	if !domain.ValidID(cmd.ChunkID) {
		p.Add("id", "must be a UUID")
	}
	if !domain.ValidID(cmd.CompanyID) {
		p.Add("company_id", "must be a UUID")
	}
	checkAgentID(p, cmd.AgentID)
	title := strings.TrimSpace(cmd.Title)
	checkTitle(p, title)
	content := strings.TrimSpace(cmd.Content)
	checkContent(p, content)
	if cmd.Source == "" {
		cmd.Source = Manual
	}
	checkSource(p, cmd.Source)
	tags := domain.Tags(p, cmd.Tags, MaxTags, MaxTag)
	if len(cmd.RemoteID) > MaxRemoteID {
		p.Add("remote_id", fmt.Sprintf("must be at most %d bytes", MaxRemoteID))
	}
	if cmd.DocumentID != "" && !domain.ValidID(cmd.DocumentID) {
		p.Add("document_id", "must be a UUID")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Created{
		ChunkID: cmd.ChunkID, CompanyID: cmd.CompanyID, AgentID: cmd.AgentID, Title: title,
		Content: content, Source: cmd.Source, Tags: tags, TokenCount: EstimateTokens(content), RemoteID: cmd.RemoteID,
		DocumentID: cmd.DocumentID,
	}}, nil
}

// UpdateCmd changes the fields that are set; nil fields stay as they are.
type UpdateCmd struct {
	// AgentID, when set, moves the chunk to another agent of the company
	// (checked by the caller).
	AgentID *string
	Title   *string
	Content *string
	Source  *Source
	Tags    *[]string
}

// Update decides an update; only fields that change are recorded (a new
// content with its new token count), and an update that changes nothing
// records nothing.
func (c *Chunk) Update(cmd UpdateCmd) ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	p := domain.Problems{}
	var e Updated
	changed := false
	if cmd.AgentID != nil {
		checkAgentID(p, *cmd.AgentID)
		if *cmd.AgentID != c.AgentID {
			e.AgentID, changed = cmd.AgentID, true
		}
	}
	if cmd.Title != nil {
		title := strings.TrimSpace(*cmd.Title)
		checkTitle(p, title)
		if title != c.Title {
			e.Title, changed = &title, true
		}
	}
	if cmd.Content != nil {
		content := strings.TrimSpace(*cmd.Content)
		checkContent(p, content)
		if content != c.Content {
			tokens := EstimateTokens(content)
			e.Content, e.TokenCount, changed = &content, &tokens, true
		}
	}
	if cmd.Source != nil {
		checkSource(p, *cmd.Source)
		if *cmd.Source != c.Source {
			e.Source, changed = cmd.Source, true
		}
	}
	if cmd.Tags != nil {
		tags := domain.Tags(p, *cmd.Tags, MaxTags, MaxTag)
		if !slices.Equal(tags, c.Tags) {
			e.Tags, changed = &tags, true
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if !changed {
		return nil, nil
	}
	return []domain.Event{&e}, nil
}

// Delete decides deleting the chunk; its history stays in the log.
func (c *Chunk) Delete() ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	return []domain.Event{&Deleted{}}, nil
}

// Limits of an embedding.
const (
	// MaxDimension is the longest vector recorded (OpenAI's largest
	// model has 3,072 dimensions).
	MaxDimension = 8192
	// MaxModel is the longest model name, in characters.
	MaxModel = 200
)

// ContentSHA256 is the hex SHA-256 of content, which an embedding names
// the content it was made of by.
func ContentSHA256(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// EmbedCmd records the vector a model made of the chunk's text.
type EmbedCmd struct {
	Model     string
	Dimension int
	Vector    []float32
	// ContentSHA256 is ContentSHA256 of the content that was embedded.
	ContentSHA256 string
	PromptTokens  int
}

// RecordEmbedding decides recording an embedding of the chunk. It
// records nothing when the embedding is stale (the content changed
// since it was read: its hash differs from the current content's), or
// when the same model already embedded the current content, so that a
// retry or a late duplicate appends nothing. The vector is kept with the
// chunk's agent at this time.
func (c *Chunk) RecordEmbedding(cmd EmbedCmd) ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	p := domain.Problems{}
	switch {
	case strings.TrimSpace(cmd.Model) == "":
		p.Add("model", "must not be empty")
	case utf8.RuneCountInString(cmd.Model) > MaxModel:
		p.Add("model", fmt.Sprintf("must be at most %d characters", MaxModel))
	}
	switch {
	case cmd.Dimension < 1 || cmd.Dimension > MaxDimension:
		p.Add("dimension", fmt.Sprintf("must be from 1 to %d", MaxDimension))
	case len(cmd.Vector) != cmd.Dimension:
		p.Add("vector", fmt.Sprintf("has %d values for dimension %d", len(cmd.Vector), cmd.Dimension))
	}
	for i, x := range cmd.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			p.Add("vector", fmt.Sprintf("value %d is not a finite number", i))
			break
		}
	}
	if len(cmd.ContentSHA256) != sha256.Size*2 || strings.ToLower(cmd.ContentSHA256) != cmd.ContentSHA256 || !isHex(cmd.ContentSHA256) {
		p.Add("content_sha256", "must be a SHA-256 in lower-case hex")
	}
	if cmd.PromptTokens < 0 {
		p.Add("prompt_tokens", "must not be negative")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if cmd.ContentSHA256 != ContentSHA256(c.Content) || (cmd.Model == c.EmbeddedModel && cmd.ContentSHA256 == c.EmbeddedSHA) {
		return nil, nil
	}
	return []domain.Event{&Embedded{
		Model: cmd.Model, Dimension: cmd.Dimension, Vector: cmd.Vector, ContentSHA256: cmd.ContentSHA256,
		AgentID: c.AgentID, PromptTokens: cmd.PromptTokens,
	}}, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func checkAgentID(p domain.Problems, id string) {
	switch {
	case id == "":
		p.Add("agent_id", "is required")
	case !domain.ValidID(id):
		p.Add("agent_id", "must be a UUID")
	}
}

func checkTitle(p domain.Problems, title string) {
	switch {
	case title == "":
		p.Add("title", "must not be empty")
	case utf8.RuneCountInString(title) > MaxTitle:
		p.Add("title", fmt.Sprintf("must be at most %d characters", MaxTitle))
	}
}

func checkContent(p domain.Problems, content string) {
	switch {
	case content == "":
		p.Add("content", "must not be empty")
	case utf8.RuneCountInString(content) > MaxContent:
		p.Add("content", fmt.Sprintf("must be at most %d characters", MaxContent))
	}
}

func checkSource(p domain.Problems, s Source) {
	if !s.Valid() {
		p.Add("source", "must be one of manual, upload, shopify, wordpress, url")
	}
}
