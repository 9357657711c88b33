package pii_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"agentdesk/internal/pii"
	"agentdesk/internal/pii/piitest"
	"agentdesk/internal/secrets"
)

const subject = "aaaaaaaa-1111-4111-8111-111111111111"

func newKey(t testing.TB) []byte {
	t.Helper()
	k, err := pii.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSealer(t testing.TB, b byte) *secrets.Sealer {
	t.Helper()
	s, err := secrets.New(bytes.Repeat([]byte{b}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	key := newKey(t)
	sealed, err := pii.Seal(key, subject, "Ada Lovelace")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, pii.Prefix) || strings.Contains(sealed, "Ada") {
		t.Fatalf("got %q, want a %q value without the plaintext", sealed, pii.Prefix)
	}
	again, _ := pii.Seal(key, subject, "Ada Lovelace")
	if again == sealed {
		t.Fatal("got the same sealed value twice, want a fresh nonce each time")
	}
	if got, err := pii.Open(key, subject, sealed); err != nil || got != "Ada Lovelace" {
		t.Fatalf("got %q, %v; want the plaintext", got, err)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, pii.Prefix))
	raw[len(raw)-1] ^= 1
	tampered := pii.Prefix + base64.RawURLEncoding.EncodeToString(raw)
	for name, open := range map[string]func() (string, error){
		"another key":     func() (string, error) { return pii.Open(newKey(t), subject, sealed) },
		"another subject": func() (string, error) { return pii.Open(key, "bbbbbbbb-2222-4222-8222-222222222222", sealed) },
		"altered":         func() (string, error) { return pii.Open(key, subject, tampered) },
		"malformed":       func() (string, error) { return pii.Open(key, subject, pii.Prefix+"!!") },
		"truncated":       func() (string, error) { return pii.Open(key, subject, pii.Prefix+"AAAA") },
	} {
		if got, err := open(); !errors.Is(err, pii.ErrOpen) {
			t.Errorf("%s: got %q, %v; want pii.ErrOpen", name, got, err)
		}
	}

	// Events written before sealing, and empty fields, read as they are.
	for _, plain := range []string{"", "ada@example.com", "pii:v2:something"} {
		if got, err := pii.Open(key, subject, plain); err != nil || got != plain {
			t.Errorf("Open(%q): got %q, %v; want it as it is", plain, got, err)
		}
	}
	if got, err := pii.Seal(key, subject, ""); err != nil || got != "" {
		t.Fatalf("Seal(\"\"): got %q, %v; want \"\"", got, err)
	}
	if _, err := pii.Seal(key[:16], subject, "x"); err == nil {
		t.Fatal("got a seal with a 16-byte key, want an error")
	}
}

func openSQLite(t *testing.T, dir string, s pii.Sealer) *pii.SQLiteKeys {
	t.Helper()
	k, err := pii.OpenSQLite(filepath.Join(dir, "keys.db"), s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSQLiteKeys(t *testing.T) {
	piitest.TestKeys(t, func(t *testing.T) pii.Keys { return openSQLite(t, t.TempDir(), newSealer(t, 7)) })
}

func TestSQLiteKeysFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k := openSQLite(t, dir, newSealer(t, 7))
	key, err := k.Create(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "keys.db")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("got mode %v, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{string(key), base64.RawStdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(key)} {
		if bytes.Contains(data, []byte(enc)) {
			t.Fatal("got the key in the clear in keys.db, want it sealed with SECRETS_KEY")
		}
	}

	// The same file with another SECRETS_KEY opens nothing, and says so
	// rather than reading the data as erased.
	other := openSQLite(t, dir, newSealer(t, 8))
	defer other.Close()
	if _, _, err := other.Key(ctx, subject); err == nil {
		t.Fatal("got a key opened with another SECRETS_KEY, want an error")
	}
	if _, err := other.Create(ctx, subject); err == nil {
		t.Fatal("got a key opened with another SECRETS_KEY, want an error")
	}
	same := openSQLite(t, dir, newSealer(t, 7))
	defer same.Close()
	if got, found, err := same.Key(ctx, subject); err != nil || !found || !bytes.Equal(got, key) {
		t.Fatalf("got %v, %v after reopening, want the key kept", found, err)
	}
}

func TestSQLiteKeysForgetLeavesNoKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k := openSQLite(t, dir, newSealer(t, 7))
	if _, err := k.Create(ctx, subject); err != nil {
		t.Fatal(err)
	}
	var sealed string
	// What the file holds for the subject before it is forgotten.
	db, _ := os.ReadFile(filepath.Join(dir, "keys.db"))
	if i := bytes.Index(db, []byte("v1:")); i >= 0 {
		sealed = string(db[i : i+20])
	}
	if sealed == "" {
		t.Fatal("got no sealed key in keys.db, want one to look for after forgetting")
	}
	if err := k.Forget(ctx, subject); err != nil {
		t.Fatal(err)
	}
	k.Close()
	db, _ = os.ReadFile(filepath.Join(dir, "keys.db"))
	if bytes.Contains(db, []byte(sealed)) {
		t.Fatal("got the forgotten key's bytes still in keys.db, want them overwritten (secure_delete)")
	}
	if _, err := os.Stat(filepath.Join(dir, "keys.db-journal")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got a journal left beside keys.db (%v), want none", err)
	}
}

func TestCodec(t *testing.T) {
	ctx := context.Background()
	k := openSQLite(t, t.TempDir(), newSealer(t, 7))
	defer k.Close()
	c := pii.NewCodec(k, "[erased]")
	sealed, err := c.Seal(ctx, subject, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Open(ctx, subject, sealed); err != nil || got != "ada@example.com" {
		t.Fatalf("got %q, %v; want the plaintext", got, err)
	}
	other := "bbbbbbbb-2222-4222-8222-222222222222"
	if _, err := c.Seal(ctx, other, "x"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Open(ctx, other, sealed); !errors.Is(err, pii.ErrOpen) {
		t.Fatalf("got %q, %v opening a value as another subject's, want pii.ErrOpen", got, err)
	}
	if err := c.Forget(ctx, subject); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Open(ctx, subject, sealed); err != nil || got != "[erased]" {
		t.Fatalf("got %q, %v after forgetting; want the erased marker", got, err)
	}
	if got, err := c.Open(ctx, subject, "legacy@example.com"); err != nil || got != "legacy@example.com" {
		t.Fatalf("got %q, %v for a value never sealed; want it as it is", got, err)
	}
	if _, err := c.Seal(ctx, subject, "new@example.com"); !errors.Is(err, pii.ErrForgotten) {
		t.Fatalf("got %v sealing for a forgotten subject, want pii.ErrForgotten", err)
	}
	if got, err := c.Seal(ctx, subject, ""); err != nil || got != "" {
		t.Fatalf("got %q, %v sealing nothing, want \"\"", got, err)
	}
}
