package reactions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/knowledge"
	"agentdesk/eventstore"
)

// EmbeddingsName names the embeddings reaction.
const EmbeddingsName = "embeddings"

// MaxEmbedTokens bounds the text sent to the embeddings model, in
// estimated tokens (knowledge.EstimateTokens: four bytes a token): the
// title and content are cut past it. It leaves room under the 8,192
// tokens OpenAI's embeddings models take, for text that has more tokens
// than the estimate says (code, numbers, unusual words); the largest
// chunk (100,000 characters) is cut to its first 24,000 bytes or so.
const MaxEmbedTokens = 6000

// Embedder turns text into a vector with an embeddings model.
// Implementations are safe for concurrent use.
type Embedder interface {
	// Embed returns the vector model makes of text and the prompt tokens
	// the provider reported. An error is retried with the reaction's
	// backoff, then parked.
	Embed(ctx context.Context, model, text string) (vector []float32, promptTokens int, err error)
}

// EmbeddingCommands is what the embeddings reaction needs of the command
// side.
type EmbeddingCommands interface {
	KnowledgeChunk(ctx context.Context, id string) (knowledge.Chunk, error)
	RecordKnowledgeEmbedding(ctx context.Context, m commands.Meta, chunkID string, in commands.RecordKnowledgeEmbedding) (commands.Result, error)
}

// Embeddings returns the reaction that embeds knowledge chunks with
// model: on a chunk's creation and on each of its updates, it reads the
// chunk's stream and, unless its current content is already embedded
// with model, embeds its title and content (EmbedText) and records the
// vector as a knowledge.embedded event. The vector is in the log from
// then on, so a rebuild of the read models never calls the model again.
//
// A chunk whose content changes before its vector is recorded gets no
// stale vector: the vector names the content it was made of by its hash,
// and the chunk refuses one that no longer matches; the update that
// changed the content is handled next and embeds the new one. A deleted
// chunk is skipped. An update that is not an edit of the content (a new
// title, tags) embeds a chunk that has no vector of model yet, as for a
// chunk written before model was configured, and else costs one read of
// the stream.
func Embeddings(model string, embedder Embedder, cmds EmbeddingCommands) Reaction {
	return Reaction{
		Name:   EmbeddingsName,
		Filter: eventstore.Filter{Types: []string{knowledge.TypeCreated, knowledge.TypeUpdated}},
		Handle: func(ctx context.Context, ev eventstore.RecordedEvent) error {
			id := strings.TrimPrefix(ev.StreamID, knowledge.Stream(""))
			c, err := cmds.KnowledgeChunk(ctx, id)
			if errors.Is(err, domain.ErrNotFound) {
				return nil // deleted since: nothing to embed
			}
			if err != nil {
				return err
			}
			sha := knowledge.ContentSHA256(c.Content)
			if c.EmbeddedModel == model && c.EmbeddedSHA == sha {
				return nil
			}
			vector, tokens, err := embedder.Embed(ctx, model, EmbedText(c.Title, c.Content))
			if err != nil {
				return fmt.Errorf("embed %s: %w", id, err)
			}
			_, err = cmds.RecordKnowledgeEmbedding(ctx, Meta(EmbeddingsName, ev, "embed"), id, commands.RecordKnowledgeEmbedding{
				Model: model, Vector: vector, ContentSHA256: sha, PromptTokens: tokens,
			})
			if errors.Is(err, domain.ErrNotFound) {
				return nil // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("record the embedding of %s: %w", id, err)
			}
			return nil
		},
	}
}

// EmbedText is the text of a chunk that is embedded: its title, a blank
// line and its content, cut to MaxEmbedTokens estimated tokens at a
// character boundary.
func EmbedText(title, content string) string {
	text := title + "\n\n" + content
	limit := MaxEmbedTokens * 4
	if knowledge.EstimateTokens(text) <= MaxEmbedTokens {
		return text
	}
	for limit > 0 && !utf8.RuneStart(text[limit]) {
		limit--
	}
	return text[:limit]
}
