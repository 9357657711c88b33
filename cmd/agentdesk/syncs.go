package main

import (
	"context"
	"net/http"

	"agentdesk/domain/agent"
	"agentdesk/internal/syncsource"
	"agentdesk/reactions"
)

// syncWiring is what the knowledge sync reaction runs on: the opener of
// the integrations' credentials and the HTTP client of its sources.
type syncWiring struct {
	opener reactions.Opener
	// http is nil for the sources' default client.
	http *http.Client
}

// sources returns the sync source of each integration type.
func (w syncWiring) sources() map[agent.IntegrationType]reactions.SyncSource {
	return map[agent.IntegrationType]reactions.SyncSource{
		agent.Shopify:   shopifySource{w.http},
		agent.WordPress: wordpressSource{w.http},
	}
}

// shopifySource reads a Shopify integration with syncsource.Shopify.
type shopifySource struct{ http *http.Client }

func (s shopifySource) Read(ctx context.Context, it agent.Integration, credential, since string) (reactions.SyncListing, error) {
	c := &syncsource.Shopify{ShopDomain: it.ShopDomain, APIVersion: it.APIVersion, AccessToken: credential, HTTP: s.http}
	if err := c.Check(); err != nil {
		return reactions.SyncListing{}, err
	}
	l, err := c.Read(ctx, since)
	return listing(l), err
}

// wordpressSource reads a WordPress integration with
// syncsource.WordPress.
type wordpressSource struct{ http *http.Client }

func (s wordpressSource) Read(ctx context.Context, it agent.Integration, credential, since string) (reactions.SyncListing, error) {
	c := &syncsource.WordPress{SiteURL: it.SiteURL, Credential: credential, HTTP: s.http}
	l, err := c.Read(ctx, since)
	return listing(l), err
}

func listing(l syncsource.Listing) reactions.SyncListing {
	out := reactions.SyncListing{IDs: l.IDs, Mark: l.Mark, Changed: make([]reactions.SyncItem, len(l.Changed))}
	for i, it := range l.Changed {
		out.Changed[i] = reactions.SyncItem{RemoteID: it.RemoteID, Title: it.Title, Content: it.Content}
	}
	return out
}
