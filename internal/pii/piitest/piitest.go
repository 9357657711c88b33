// Package piitest is the acceptance suite of pii.Keys: every key store
// passes it.
package piitest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"agentdesk/internal/pii"
)

// TestKeys runs the suite against the stores open returns, a fresh empty
// one per call; the suite closes them.
func TestKeys(t *testing.T, open func(t *testing.T) pii.Keys) {
	ctx := context.Background()
	const alice, bob = "aaaaaaaa-1111-4111-8111-111111111111", "bbbbbbbb-2222-4222-8222-222222222222"

	t.Run("a subject has no key until one is created", func(t *testing.T) {
		k := open(t)
		defer k.Close()
		if key, found, err := k.Key(ctx, alice); err != nil || found || key != nil {
			t.Fatalf("got %x, %v, %v; want no key", key, found, err)
		}
	})

	t.Run("create makes one key per subject and keeps it", func(t *testing.T) {
		k := open(t)
		defer k.Close()
		a1, err := k.Create(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(a1) != pii.KeySize {
			t.Fatalf("got a %d-byte key, want %d", len(a1), pii.KeySize)
		}
		a2, err := k.Create(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a1, a2) {
			t.Fatal("got a second key for the same subject, want the first one back")
		}
		got, found, err := k.Key(ctx, alice)
		if err != nil || !found || !bytes.Equal(got, a1) {
			t.Fatalf("got %x, %v, %v; want the created key", got, found, err)
		}
		b, err := k.Create(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a1, b) {
			t.Fatal("got the same key for two subjects, want one each")
		}
	})

	t.Run("concurrent creates agree on one key", func(t *testing.T) {
		k := open(t)
		defer k.Close()
		keys := make([][]byte, 8)
		errs := make([]error, len(keys))
		var wg sync.WaitGroup
		for i := range keys {
			wg.Go(func() { keys[i], errs[i] = k.Create(ctx, alice) })
		}
		wg.Wait()
		for i := range keys {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatal("got two different keys from concurrent creates, want one")
			}
		}
	})

	t.Run("a forgotten key is gone for good", func(t *testing.T) {
		k := open(t)
		defer k.Close()
		if _, err := k.Create(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Create(ctx, bob); err != nil {
			t.Fatal(err)
		}
		if err := k.Forget(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if key, found, err := k.Key(ctx, alice); err != nil || found || key != nil {
			t.Fatalf("got %x, %v, %v; want no key after forgetting", key, found, err)
		}
		if _, err := k.Create(ctx, alice); !errors.Is(err, pii.ErrForgotten) {
			t.Fatalf("got %v creating a forgotten subject's key, want pii.ErrForgotten", err)
		}
		if err := k.Forget(ctx, alice); err != nil {
			t.Fatalf("got %v forgetting again, want nil", err)
		}
		if _, found, err := k.Key(ctx, bob); err != nil || !found {
			t.Fatalf("got %v, %v for another subject, want its key kept", found, err)
		}
	})

	t.Run("a subject that never had a key can be forgotten", func(t *testing.T) {
		k := open(t)
		defer k.Close()
		if err := k.Forget(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Create(ctx, alice); !errors.Is(err, pii.ErrForgotten) {
			t.Fatalf("got %v, want pii.ErrForgotten: its later data must not be written either", err)
		}
	})
}
