package knowledge

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	chunkID      = "aaaaaaaa-1111-4111-8111-111111111111"
	companyID    = "22222222-2222-4222-8222-222222222222"
	agentID      = "33333333-3333-4333-8333-333333333333"
	otherAgentID = "44444444-4444-4444-8444-444444444444"
)

// content is 42 bytes: 11 tokens by the estimate.
const content = "Returns are free within 30 days of buying."

func created() *Created {
	return &Created{
		ChunkID: chunkID, CompanyID: companyID, AgentID: agentID, Title: "Returns policy",
		Content: content, Source: Manual, Tags: []string{"returns"}, TokenCount: 11,
	}
}

func createdWith(change func(*Created)) []domain.Event {
	e := created()
	change(e)
	return []domain.Event{e}
}

func create(change func(*CreateCmd)) func(*Chunk) ([]domain.Event, error) {
	return func(c *Chunk) ([]domain.Event, error) {
		cmd := CreateCmd{ChunkID: chunkID, CompanyID: companyID, AgentID: agentID, Title: "Returns policy", Content: content, Tags: []string{"returns"}}
		change(&cmd)
		return c.Create(cmd)
	}
}

func numberedTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%02d", i)
	}
	return tags
}

func TestEstimateTokens(t *testing.T) {
	for _, c := range []struct {
		text string
		want int
	}{
		{"", 0},
		{"a", 1},
		{"abcd", 1},
		{"abcde", 2},
		{content, 11},
		{"é", 1},                    // 2 bytes
		{strings.Repeat("日", 4), 3}, // 12 bytes: scripts of 3-byte characters are overestimated
		{strings.Repeat("x", 100000), 25000},
	} {
		if got := EstimateTokens(c.text); got != c.want {
			t.Errorf("EstimateTokens(%d bytes): got %d, want %d", len(c.text), got, c.want)
		}
	}
}

var deletedChunk = []domain.Event{created(), &Deleted{}}

func TestCreate(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Chunk]{
		{Name: "creates a manual chunk by default, counting its tokens", When: create(func(*CreateCmd) {}), Want: []domain.Event{created()}},
		{
			Name: "keeps a given source",
			When: create(func(c *CreateCmd) { c.Source = Shopify }),
			Want: createdWith(func(e *Created) { e.Source = Shopify }),
		},
		{
			Name: "keeps a synced chunk's remote id",
			When: create(func(c *CreateCmd) { c.Source, c.RemoteID = Shopify, "shopify:gid://shopify/Product/1" }),
			Want: createdWith(func(e *Created) { e.Source, e.RemoteID = Shopify, "shopify:gid://shopify/Product/1" }),
		},
		{
			Name:       "refuses a remote id that is too long",
			When:       create(func(c *CreateCmd) { c.RemoteID = strings.Repeat("x", MaxRemoteID+1) }),
			WantFields: []string{"remote_id"},
		},
		{
			Name: "trims the title and content; tokens count the trimmed content",
			When: create(func(c *CreateCmd) { c.Title, c.Content = " Returns policy\n", "\n\n  "+content+"\n" }),
			Want: []domain.Event{created()},
		},
		{
			Name: "normalizes tags like tickets",
			When: create(func(c *CreateCmd) { c.Tags = []string{" Returns", "FAQ", "returns "} }),
			Want: createdWith(func(e *Created) { e.Tags = []string{"returns", "faq"} }),
		},
		{
			Name: "records no tags as an empty list",
			When: create(func(c *CreateCmd) { c.Tags = nil }),
			Want: createdWith(func(e *Created) { e.Tags = []string{} }),
		},
		{
			Name: "accepts the longest title and content, counted in runes",
			When: create(func(c *CreateCmd) {
				c.Title, c.Content = strings.Repeat("é", MaxTitle), strings.Repeat("é", MaxContent)
			}),
			Want: createdWith(func(e *Created) {
				e.Title, e.Content, e.TokenCount = strings.Repeat("é", MaxTitle), strings.Repeat("é", MaxContent), MaxContent/2
			}),
		},
		{
			Name: "accepts 20 tags",
			When: create(func(c *CreateCmd) { c.Tags = numberedTags(MaxTags) }),
			Want: createdWith(func(e *Created) { e.Tags = numberedTags(MaxTags) }),
		},
		{Name: "rejects a missing agent", When: create(func(c *CreateCmd) { c.AgentID = "" }), WantFields: []string{"agent_id"}},
		{Name: "rejects an agent id that is not a UUID", When: create(func(c *CreateCmd) { c.AgentID = "bot" }), WantFields: []string{"agent_id"}},
		{Name: "rejects an empty title", When: create(func(c *CreateCmd) { c.Title = " " }), WantFields: []string{"title"}},
		{Name: "rejects a too long title", When: create(func(c *CreateCmd) { c.Title = strings.Repeat("x", MaxTitle+1) }), WantFields: []string{"title"}},
		{Name: "rejects blank content", When: create(func(c *CreateCmd) { c.Content = "\n\t " }), WantFields: []string{"content"}},
		{Name: "rejects too long content", When: create(func(c *CreateCmd) { c.Content = strings.Repeat("x", MaxContent+1) }), WantFields: []string{"content"}},
		{Name: "rejects an unknown source", When: create(func(c *CreateCmd) { c.Source = "email" }), WantFields: []string{"source"}},
		{Name: "rejects an empty tag", When: create(func(c *CreateCmd) { c.Tags = []string{"a", ""} }), WantFields: []string{"tags"}},
		{Name: "rejects a too long tag", When: create(func(c *CreateCmd) { c.Tags = []string{strings.Repeat("x", MaxTag+1)} }), WantFields: []string{"tags"}},
		{Name: "rejects more than 20 tags", When: create(func(c *CreateCmd) { c.Tags = numberedTags(MaxTags + 1) }), WantFields: []string{"tags"}},
		{
			Name:       "reports every invalid field at once",
			When:       create(func(c *CreateCmd) { *c = CreateCmd{ChunkID: "x", Source: "s", Tags: []string{" "}} }),
			WantFields: []string{"agent_id", "company_id", "content", "id", "source", "tags", "title"},
		},
		{Name: "cannot create twice", Given: []domain.Event{created()}, When: create(func(*CreateCmd) {}), WantErr: domain.ErrAlreadyExists},
		{Name: "cannot reuse a deleted chunk's id", Given: deletedChunk, When: create(func(*CreateCmd) {}), WantErr: domain.ErrAlreadyExists},
	})
}

func update(c UpdateCmd) func(*Chunk) ([]domain.Event, error) {
	return func(ch *Chunk) ([]domain.Event, error) { return ch.Update(c) }
}

func TestUpdate(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Chunk]{
		{
			Name:  "new content comes with its token count",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Content: domaintest.Ptr(" Returns are free. ")}),
			Want:  []domain.Event{&Updated{Content: domaintest.Ptr("Returns are free."), TokenCount: domaintest.Ptr(5)}},
		},
		{
			Name:  "records a new agent, title, source and tags",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{AgentID: domaintest.Ptr(otherAgentID), Title: domaintest.Ptr(" Returns "),
				Source: domaintest.Ptr(URL), Tags: &[]string{"FAQ"}}),
			Want: []domain.Event{&Updated{AgentID: domaintest.Ptr(otherAgentID), Title: domaintest.Ptr("Returns"),
				Source: domaintest.Ptr(URL), Tags: &[]string{"faq"}}},
		},
		{
			Name:  "records cleared tags",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Tags: &[]string{}}),
			Want:  []domain.Event{&Updated{Tags: &[]string{}}},
		},
		{
			Name:  "records only the fields that change",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{AgentID: domaintest.Ptr(agentID), Title: domaintest.Ptr("Returns policy"), Content: domaintest.Ptr(content + "\n"), Source: domaintest.Ptr(Upload)}),
			Want:  []domain.Event{&Updated{Source: domaintest.Ptr(Upload)}},
		},
		{Name: "an empty update records nothing", Given: []domain.Event{created()}, When: update(UpdateCmd{})},
		{
			Name:  "an update to the current values records nothing",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{AgentID: domaintest.Ptr(agentID), Title: domaintest.Ptr("Returns policy"), Content: domaintest.Ptr(content), Source: domaintest.Ptr(Manual), Tags: &[]string{"Returns"}}),
		},
		{
			Name:  "sees the state left by earlier updates",
			Given: []domain.Event{created(), &Updated{Content: domaintest.Ptr("v2"), TokenCount: domaintest.Ptr(1)}},
			When:  update(UpdateCmd{Content: domaintest.Ptr("v2")}),
		},
		{Name: "the agent cannot be removed", Given: []domain.Event{created()}, When: update(UpdateCmd{AgentID: domaintest.Ptr("")}), WantFields: []string{"agent_id"}},
		{
			Name:       "rejects invalid fields",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{AgentID: domaintest.Ptr("bot"), Title: domaintest.Ptr(""), Content: domaintest.Ptr(" "), Source: domaintest.Ptr(Source("")), Tags: &[]string{""}}),
			WantFields: []string{"agent_id", "content", "source", "tags", "title"},
		},
		{Name: "a deleted chunk is not found", Given: deletedChunk, When: update(UpdateCmd{Title: domaintest.Ptr("x")}), WantErr: domain.ErrNotFound},
	})
}

func TestDelete(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Chunk]{
		{Name: "deletes a chunk", Given: []domain.Event{created()}, When: (*Chunk).Delete, Want: []domain.Event{&Deleted{}}},
		{Name: "cannot delete twice", Given: deletedChunk, When: (*Chunk).Delete, WantErr: domain.ErrNotFound},
		{Name: "cannot delete a chunk never created", When: (*Chunk).Delete, WantErr: domain.ErrNotFound},
	})
}

func TestReplay(t *testing.T) {
	c := domaintest.Replay[Chunk]([]domain.Event{created(), &Updated{Content: domaintest.Ptr("v2"), TokenCount: domaintest.Ptr(1), AgentID: domaintest.Ptr(otherAgentID)}})
	if c.Content != "v2" || c.TokenCount != 1 || c.AgentID != otherAgentID || c.Title != "Returns policy" || c.Version != 2 || !c.Exists() {
		t.Fatalf("got %+v", c)
	}
	if c.Ref() != (domain.KnowledgeRef{CompanyID: companyID}) {
		t.Fatalf("got ref %+v", c.Ref())
	}
}

func TestContentSHA256(t *testing.T) {
	// sha256("abc"), FIPS 180-2's example.
	if got, want := ContentSHA256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func embed(change func(*EmbedCmd)) func(*Chunk) ([]domain.Event, error) {
	return func(c *Chunk) ([]domain.Event, error) {
		cmd := EmbedCmd{Model: "text-embedding-3-small", Dimension: 3, Vector: []float32{0.6, 0, -0.8}, ContentSHA256: ContentSHA256(content), PromptTokens: 12}
		change(&cmd)
		return c.RecordEmbedding(cmd)
	}
}

func embedded(change func(*Embedded)) *Embedded {
	e := &Embedded{Model: "text-embedding-3-small", Dimension: 3, Vector: []float32{0.6, 0, -0.8}, ContentSHA256: ContentSHA256(content), AgentID: agentID, PromptTokens: 12}
	change(e)
	return e
}

func TestRecordEmbedding(t *testing.T) {
	same := func(*EmbedCmd) {}
	newContent := &Updated{Content: domaintest.Ptr("Returns are free."), TokenCount: domaintest.Ptr(5)}
	domaintest.Run(t, []domaintest.Spec[Chunk]{
		{
			Name:  "records the vector with the chunk's agent",
			Given: []domain.Event{created()},
			When:  embed(same),
			Want:  []domain.Event{embedded(func(*Embedded) {})},
		},
		{
			Name:  "keeps the agent the chunk has now",
			Given: []domain.Event{created(), &Updated{AgentID: domaintest.Ptr(otherAgentID)}},
			When:  embed(same),
			Want:  []domain.Event{embedded(func(e *Embedded) { e.AgentID = otherAgentID })},
		},
		{
			Name:  "a redelivery records nothing",
			Given: []domain.Event{created(), embedded(func(*Embedded) {})},
			When:  embed(same),
		},
		{
			Name:  "the same content is embedded once per model, whatever the vector",
			Given: []domain.Event{created(), embedded(func(*Embedded) {})},
			When:  embed(func(c *EmbedCmd) { c.Vector = []float32{1, 0, 0} }),
		},
		{
			Name:  "another model embeds it again",
			Given: []domain.Event{created(), embedded(func(*Embedded) {})},
			When:  embed(func(c *EmbedCmd) { c.Model = "nomic-embed-text" }),
			Want:  []domain.Event{embedded(func(e *Embedded) { e.Model = "nomic-embed-text" })},
		},
		{
			Name:  "a stale embedding (the content changed since) records nothing",
			Given: []domain.Event{created(), newContent},
			When:  embed(same),
		},
		{
			Name:  "the new content is embedded",
			Given: []domain.Event{created(), embedded(func(*Embedded) {}), newContent},
			When:  embed(func(c *EmbedCmd) { c.ContentSHA256 = ContentSHA256("Returns are free.") }),
			Want:  []domain.Event{embedded(func(e *Embedded) { e.ContentSHA256 = ContentSHA256("Returns are free.") })},
		},
		{
			Name: "a content that comes back is embedded again: its vector was dropped",
			Given: []domain.Event{created(), embedded(func(*Embedded) {}), newContent,
				&Updated{Content: domaintest.Ptr(content), TokenCount: domaintest.Ptr(11)}},
			When: embed(same),
			Want: []domain.Event{embedded(func(*Embedded) {})},
		},
		{
			Name:  "accepts the largest dimension",
			Given: []domain.Event{created()},
			When:  embed(func(c *EmbedCmd) { c.Dimension, c.Vector = MaxDimension, make([]float32, MaxDimension) }),
			Want:  []domain.Event{embedded(func(e *Embedded) { e.Dimension, e.Vector = MaxDimension, make([]float32, MaxDimension) })},
		},
		{Name: "a chunk never created is not found", When: embed(same), WantErr: domain.ErrNotFound},
		{Name: "a deleted chunk is not found", Given: deletedChunk, When: embed(same), WantErr: domain.ErrNotFound},
		{Name: "rejects no model", Given: []domain.Event{created()}, When: embed(func(c *EmbedCmd) { c.Model = " " }), WantFields: []string{"model"}},
		{
			Name: "rejects a dimension that is not the vector's length", Given: []domain.Event{created()},
			When: embed(func(c *EmbedCmd) { c.Dimension = 4 }), WantFields: []string{"vector"},
		},
		{
			Name: "rejects an empty vector", Given: []domain.Event{created()},
			When: embed(func(c *EmbedCmd) { c.Dimension, c.Vector = 0, nil }), WantFields: []string{"dimension"},
		},
		{
			Name: "rejects more than 8192 dimensions", Given: []domain.Event{created()},
			When: embed(func(c *EmbedCmd) { c.Dimension, c.Vector = MaxDimension+1, make([]float32, MaxDimension+1) }), WantFields: []string{"dimension"},
		},
		{
			Name: "rejects NaN", Given: []domain.Event{created()},
			When: embed(func(c *EmbedCmd) { c.Vector = []float32{0, float32(math.NaN()), 0} }), WantFields: []string{"vector"},
		},
		{
			Name: "rejects infinity", Given: []domain.Event{created()},
			When: embed(func(c *EmbedCmd) { c.Vector = []float32{float32(math.Inf(-1)), 0, 0} }), WantFields: []string{"vector"},
		},
		{
			Name: "reports every invalid field at once", Given: []domain.Event{created()},
			When: embed(func(c *EmbedCmd) {
				c.Model, c.ContentSHA256, c.PromptTokens = strings.Repeat("m", MaxModel+1), strings.ToUpper(ContentSHA256(content)), -1
			}),
			WantFields: []string{"content_sha256", "model", "prompt_tokens"},
		},
		{Name: "rejects a hash that is not hex", Given: []domain.Event{created()}, When: embed(func(c *EmbedCmd) { c.ContentSHA256 = strings.Repeat("g", 64) }), WantFields: []string{"content_sha256"}},
	})
}

func TestEmbeddingIsNoEdit(t *testing.T) {
	c := domaintest.Replay[Chunk]([]domain.Event{created(), &Updated{Title: domaintest.Ptr("t2")}, embedded(func(*Embedded) {})})
	if c.Title != "t2" || c.Content != content || c.AgentID != agentID || c.Version != 3 || c.Edited != 1 ||
		c.EmbeddedModel != "text-embedding-3-small" || c.EmbeddedSHA != ContentSHA256(content) {
		t.Fatalf("got %+v", c)
	}
	// Read at revision 1 (before the embedding) or 2 (after it): current.
	for rev, want := range map[uint64]bool{0: false, 1: true, 2: true, 3: false} {
		if got := c.Current(rev); got != want {
			t.Errorf("Current(%d) = %v, want %v", rev, got, want)
		}
	}
	c.Apply(&Updated{Content: domaintest.Ptr("new")})
	if c.Edited != 3 || c.Current(2) || !c.Current(3) || c.EmbeddedModel != "" || c.EmbeddedSHA != "" {
		t.Fatalf("after a new content: got %+v", c)
	}
}
