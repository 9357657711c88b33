package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustNew(t *testing.T, k []byte) *Sealer {
	t.Helper()
	s, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	s := mustNew(t, key(1))
	for _, plain := range []string{"shpat_0123456789abcdef", "", "ünïcödé 🔑", strings.Repeat("x", 5000)} {
		sealed, err := s.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1:") {
			t.Fatalf("sealed %q: want the v1: prefix", sealed)
		}
		if plain != "" && strings.Contains(sealed, plain) {
			t.Fatalf("sealed value %q holds the plaintext", sealed)
		}
		got, err := s.Open(sealed)
		if err != nil || got != plain {
			t.Fatalf("Open: got %q, %v; want %q", got, err, plain)
		}
	}
}

func TestSealsOfOnePlaintextDiffer(t *testing.T) {
	s := mustNew(t, key(1))
	a, _ := s.Seal("same")
	b, _ := s.Seal("same")
	if a == b {
		t.Fatalf("two seals of one plaintext are both %q; want a fresh nonce each", a)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	s := mustNew(t, key(1))
	sealed, _ := s.Seal("credential")
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return "v1:" + base64.RawURLEncoding.EncodeToString(b)
	}
	cases := map[string]string{
		"nonce bit":        flip(0),
		"ciphertext bit":   flip(12),
		"tag bit":          flip(len(raw) - 1),
		"truncated":        "v1:" + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
		"too short":        "v1:" + base64.RawURLEncoding.EncodeToString(raw[:20]),
		"no prefix":        strings.TrimPrefix(sealed, "v1:"),
		"other version":    "v2:" + strings.TrimPrefix(sealed, "v1:"),
		"not base64url":    "v1:" + strings.Repeat("*", 40),
		"empty":            "",
		"padded base64":    "v1:" + base64.URLEncoding.EncodeToString(raw) + "==",
		"extra byte after": "v1:" + base64.RawURLEncoding.EncodeToString(append(bytes.Clone(raw), 0)),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := s.Open(v)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open(%q): got %q, %v; want ErrOpen", v, got, err)
			}
		})
	}
}

func TestWrongKeyCannotOpen(t *testing.T) {
	sealed, _ := mustNew(t, key(1)).Seal("credential")
	if got, err := mustNew(t, key(2)).Open(sealed); !errors.Is(err, ErrOpen) {
		t.Fatalf("Open with another key: got %q, %v; want ErrOpen", got, err)
	}
}

func TestBadKeysAreRefused(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "32 bytes") {
			t.Errorf("New with a %d-byte key: got %v, want an error naming 32 bytes", n, err)
		}
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	k := []byte("0123456789abcdef0123456789abcdef")
	s := mustNew(t, k)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("sealer", "s", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", *s), logged.String()} {
		if strings.Contains(out, string(k)) || strings.Contains(out, fmt.Sprintf("%x", k)) {
			t.Fatalf("printed sealer %q holds the key", out)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s := mustNew(t, key(3))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				plain := fmt.Sprintf("secret-%d-%d", i, j)
				sealed, err := s.Seal(plain)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Open(sealed); err != nil || got != plain {
					t.Errorf("Open: got %q, %v; want %q", got, err, plain)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSeal(b *testing.B) {
	s, _ := New(key(1))
	for b.Loop() {
		if _, err := s.Seal("shpat_0123456789abcdef0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
	}
}
