package main

import (
	"context"

	"agentdesk/commands"
	"agentdesk/internal/llm"
	"agentdesk/readapi"
)

// chatRetriever adapts the query side's retriever to agent chat. With an
// embeddings model configured it embeds each message, so that chunk
// vectors of that model are fused with the word ranking.
type chatRetriever struct {
	r   *readapi.Retriever
	llm *llm.Client
}

func (a chatRetriever) Retrieve(ctx context.Context, companyID, agentID, query string, k int) ([]commands.Passage, error) {
	req := readapi.RetrieveRequest{CompanyID: companyID, AgentID: agentID, Query: query, K: k}
	if model := a.llm.EmbeddingModel(); model != "" {
		req.Embed = func(ctx context.Context, text string) ([]float32, string, error) {
			out, err := a.llm.Embed(ctx, llm.EmbedRequest{Model: model, Input: []string{text}})
			if err != nil {
				return nil, "", err
			}
			// Chunk vectors are recorded under the configured name, which
			// is what they are compared by.
			return out.Vectors[0], model, nil
		}
	}
	found, err := a.r.Retrieve(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make([]commands.Passage, len(found))
	for i, p := range found {
		out[i] = commands.Passage{ChunkID: p.ChunkID, Title: p.Title, Content: p.Content}
	}
	return out, nil
}
