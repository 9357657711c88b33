package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"agentdesk/internal/pii"
	"agentdesk/internal/pii/piitest"
	"agentdesk/internal/secrets"
	"agentdesk/readstore"
)

// TestReadStoreKeys runs the key stores' acceptance suite on the MongoDB
// key store's adapter, over the embedded read store: the adapter uses the
// read store's contract only.
func TestReadStoreKeys(t *testing.T) {
	sealer, err := secrets.New(bytes.Repeat([]byte{3}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	piitest.TestKeys(t, func(t *testing.T) pii.Keys {
		rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "reads.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		k, err := newReadStoreKeys(context.Background(), rs, sealer)
		if err != nil {
			t.Fatal(err)
		}
		return k
	})
}
