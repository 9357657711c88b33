package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"agentdesk/internal/pii"
	"agentdesk/readstore"
)

// piiKeysCollection is where the MongoDB deployment keeps the users'
// keys: a collection of the read store's database that no projection
// declares, so no rebuild drops it.
const piiKeysCollection = "pii_keys"

// Versions of a key's document: a forgotten key's tombstone is written
// above its key, so that the read store's version guard lets no late or
// concurrent create bring a key back.
const (
	keyCreated   = "1"
	keyForgotten = "2"
)

// readStoreKeys keeps the keys in a read store's collection, through the
// store's version-guarded writes (MongoDB has no transaction to offer
// FerretDB): a create is a write at version 1, which loses to any stored
// key, and a forget a tombstone at version 2. It is safe for concurrent
// use by several processes.
type readStoreKeys struct {
	reads  readstore.Store
	sealer pii.Sealer
}

// keyDoc is a key's document: the key sealed with SECRETS_KEY, or
// nothing once forgotten.
type keyDoc struct {
	Key       string `json:"key,omitempty"`
	Forgotten bool   `json:"forgotten,omitempty"`
}

func newReadStoreKeys(ctx context.Context, reads readstore.Store, sealer pii.Sealer) (*readStoreKeys, error) {
	if err := reads.Ensure(ctx, readstore.Collection{Name: piiKeysCollection}); err != nil {
		return nil, err
	}
	return &readStoreKeys{reads: reads, sealer: sealer}, nil
}

// get reads subject's document; ok is false when there is none.
func (k *readStoreKeys) get(ctx context.Context, subject string) (doc keyDoc, ok bool, err error) {
	d, err := k.reads.Get(ctx, piiKeysCollection, subject)
	if errors.Is(err, readstore.ErrNotFound) {
		return keyDoc{}, false, nil
	}
	if err != nil {
		return keyDoc{}, false, fmt.Errorf("pii: read key: %w", err)
	}
	if err := json.Unmarshal(d.Data, &doc); err != nil {
		return keyDoc{}, false, fmt.Errorf("pii: read key: %w", err)
	}
	return doc, true, nil
}

// Key implements pii.Keys.
func (k *readStoreKeys) Key(ctx context.Context, subject string) ([]byte, bool, error) {
	doc, ok, err := k.get(ctx, subject)
	if err != nil || !ok || doc.Forgotten {
		return nil, false, err
	}
	key, err := pii.OpenKey(k.sealer, doc.Key)
	return key, err == nil, err
}

// Create implements pii.Keys.
func (k *readStoreKeys) Create(ctx context.Context, subject string) ([]byte, error) {
	doc, ok, err := k.get(ctx, subject)
	if err != nil {
		return nil, err
	}
	if !ok {
		key, err := pii.NewKey()
		if err != nil {
			return nil, err
		}
		sealed, err := pii.SealKey(k.sealer, key)
		if err != nil {
			return nil, err
		}
		if err := k.write(ctx, subject, keyCreated, keyDoc{Key: sealed}); err != nil {
			return nil, err
		}
		// Another process may have written first: its key is the one.
		if doc, ok, err = k.get(ctx, subject); err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("pii: the key of %s was written but cannot be read back", subject)
		}
	}
	if doc.Forgotten {
		return nil, pii.ErrForgotten
	}
	return pii.OpenKey(k.sealer, doc.Key)
}

// Forget implements pii.Keys.
func (k *readStoreKeys) Forget(ctx context.Context, subject string) error {
	return k.write(ctx, subject, keyForgotten, keyDoc{Forgotten: true})
}

func (k *readStoreKeys) write(ctx context.Context, subject, version string, doc keyDoc) error {
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	err = k.reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: piiKeysCollection,
		Doc: readstore.Doc{ID: subject, Version: version, Data: data}}}})
	if err != nil {
		return fmt.Errorf("pii: write key: %w", err)
	}
	return nil
}

// Close implements pii.Keys: the read store is closed with the others.
func (k *readStoreKeys) Close() error { return nil }
