// Package pii protects personal data stored in the event log by
// crypto-shredding: each subject (a user) has its own random AES-256 key,
// kept outside the log in a key store, and its personal data is sealed
// with that key before it is appended. Destroying the key erases the data
// everywhere it was written, the log and its backups included, without
// rewriting a single event.
//
// A sealed value is "pii:v1:" followed by base64url (unpadded) of the
// 12-byte random nonce and the AES-GCM ciphertext with its tag; the
// subject is authenticated with it, so a value copied into another
// subject's event does not open. Values without the prefix (events
// written before sealing, or empty values) are plain and read as they
// are.
package pii

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a subject's key in bytes (AES-256).
const KeySize = 32

// Prefix starts every sealed value.
const Prefix = "pii:v1:"

var (
	// ErrForgotten is returned by Keys.Create and Codec.Seal for a
	// subject whose key was forgotten: its personal data cannot be
	// written again.
	ErrForgotten = errors.New("pii: the subject's personal data was erased")
	// ErrOpen is returned for a sealed value that was altered, is
	// malformed, or was sealed with another key or for another subject.
	ErrOpen = errors.New("pii: cannot open the sealed value (altered, malformed or sealed with another key)")
)

// Keys keeps one key per subject, outside the event log and apart from
// the read models, which are rebuilt from the log: a key lost with them
// would erase data no one asked to erase. Implementations are safe for
// concurrent use, also by several processes sharing the store.
type Keys interface {
	// Key returns subject's key; found is false when it has none, because
	// it never had one or because it was forgotten.
	Key(ctx context.Context, subject string) (key []byte, found bool, err error)
	// Create returns subject's key, making one if it has none, or
	// ErrForgotten if it was forgotten. Concurrent calls agree on one key.
	Create(ctx context.Context, subject string) ([]byte, error)
	// Forget destroys subject's key for good and remembers that it did,
	// so that Create never makes another. Forgetting a subject again, or
	// one that never had a key, is not an error.
	Forget(ctx context.Context, subject string) error
	// Close releases the store.
	Close() error
}

// NewKey returns a fresh random key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("pii: key: %w", err)
	}
	return k, nil
}

// Seal encrypts plaintext for subject with key under a fresh random
// nonce. The empty string stays empty: there is nothing to protect, and
// a field that was never set then reads so after an erasure too.
func Seal(key []byte, subject, plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("pii: nonce: %w", err)
	}
	// A random 96-bit nonce is safe for far more seals than one person's
	// profile will ever see (NIST SP 800-38D: 2^32 per key).
	out := aead.Seal(nonce, nonce, []byte(plaintext), []byte(Prefix+subject))
	return Prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal returned for subject with key; a value that
// is not sealed is returned as it is. It fails with ErrOpen.
func Open(key []byte, subject, value string) (string, error) {
	rest, ok := strings.CutPrefix(value, Prefix)
	if !ok {
		return value, nil
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", ErrOpen
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, raw[:n], raw[n:], []byte(Prefix+subject))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}

// IsSealed reports whether value is a sealed value.
func IsSealed(value string) bool { return strings.HasPrefix(value, Prefix) }

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("pii: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("pii: %w", err)
	}
	return cipher.NewGCM(block)
}

// Codec seals and opens subjects' personal data with the keys in a key
// store. It is what the write side and the projections use; it is safe
// for concurrent use. It keeps no keys in memory between calls: a key
// forgotten by another process sharing the store stops opening at once.
type Codec struct {
	keys   Keys
	erased string
}

// NewCodec returns a Codec over keys. erased is what Open returns for a
// sealed value whose subject's key was forgotten (domain.Erased).
func NewCodec(keys Keys, erased string) *Codec {
	return &Codec{keys: keys, erased: erased}
}

// Seal seals plaintext with subject's key, making the key on the
// subject's first seal. A forgotten subject is ErrForgotten.
func (c *Codec) Seal(ctx context.Context, subject, plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	key, err := c.keys.Create(ctx, subject)
	if err != nil {
		return "", err
	}
	return Seal(key, subject, plaintext)
}

// Open opens a value Seal returned: its plaintext, the erased marker when
// the subject's key is gone, or ErrOpen when it does not open with the
// subject's key (altered, or not the subject's). A value that is not
// sealed is returned as it is.
func (c *Codec) Open(ctx context.Context, subject, value string) (string, error) {
	if !IsSealed(value) {
		return value, nil
	}
	key, found, err := c.keys.Key(ctx, subject)
	if err != nil {
		return "", err
	}
	if !found {
		return c.erased, nil
	}
	return Open(key, subject, value)
}

// Forget destroys subject's key: every value sealed with it reads as
// erased from now on.
func (c *Codec) Forget(ctx context.Context, subject string) error {
	return c.keys.Forget(ctx, subject)
}
