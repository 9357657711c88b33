// Package secrets seals (encrypts) small secrets such as the credentials
// of agent integrations for storage in the event log, with AES-256-GCM.
//
// A sealed value is "v1:" followed by base64url (unpadded) of the 12-byte
// random nonce and the ciphertext with its 16-byte tag. The version prefix
// leaves room for another algorithm or key later without guessing. Sealed
// values are opened only by the process that runs the integrations;
// nothing serves them, and neither keys nor plaintexts are ever logged.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

const prefix = "v1:"

// ErrOpen is returned by Open for a value that is not a sealed value, was
// altered, or was sealed with another key. It does not say which: the
// difference would help no one but an attacker.
var ErrOpen = errors.New("secrets: cannot open the sealed value (altered, malformed or sealed with another key)")

// Sealer seals and opens secrets with one key. It is safe for concurrent
// use. It satisfies commands.Sealer.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for key, which must be KeySize bytes.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext under a fresh random nonce, so sealing the same
// plaintext twice gives two different values.
func (s *Sealer) Seal(plaintext string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: nonce: %w", err)
	}
	// A random 96-bit nonce is safe for far more seals than credentials
	// will ever be written under one key (NIST SP 800-38D: 2^32).
	out := s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(prefix))
	return prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal returned, or fails with ErrOpen.
func (s *Sealer) Open(sealed string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", ErrOpen
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return "", ErrOpen
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(prefix))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}

// String keeps the key out of anything that prints a Sealer.
func (s *Sealer) String() string { return "secrets.Sealer(aes-256-gcm)" }

// LogValue keeps the key out of structured logs.
func (s *Sealer) LogValue() slog.Value { return slog.StringValue(s.String()) }
