package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte(strings.Repeat("k", 32))

func TestTokenRoundTrip(t *testing.T) {
	tk, err := NewTokens(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, ttl, err := tk.Issue(Claims{UserID: "u1", CompanyID: "c1", Role: "client"})
	if err != nil || ttl != time.Hour {
		t.Fatalf("issue: %v, ttl %v", err, ttl)
	}
	c, err := tk.Parse(s)
	if err != nil || c != (Claims{UserID: "u1", CompanyID: "c1", Role: "client"}) {
		t.Fatalf("parse: got %+v, %v", c, err)
	}
}

func TestParseRejects(t *testing.T) {
	tk, _ := NewTokens(secret, time.Hour)
	now := time.Now()
	sign := func(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "u1", "iss": Issuer, "exp": now.Add(time.Hour).Unix()}
	}
	noExp := valid()
	delete(noExp, "exp")
	expired := valid()
	expired["exp"] = now.Add(-time.Minute).Unix()
	otherIss := valid()
	otherIss["iss"] = "someone-else"
	noSub := valid()
	delete(noSub, "sub")
	cases := map[string]string{
		"alg none":     sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()),
		"HS512":        sign(jwt.SigningMethodHS512, secret, valid()),
		"other key":    sign(jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), valid()),
		"no exp":       sign(jwt.SigningMethodHS256, secret, noExp),
		"expired":      sign(jwt.SigningMethodHS256, secret, expired),
		"other issuer": sign(jwt.SigningMethodHS256, secret, otherIss),
		"no subject":   sign(jwt.SigningMethodHS256, secret, noSub),
		"garbage":      "not.a.token",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := tk.Parse(s); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("got %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestNewTokensValidates(t *testing.T) {
	if _, err := NewTokens([]byte("short"), 0); err == nil {
		t.Fatal("got nil, want errors for a short secret and a zero lifetime")
	}
}

func TestBcrypt(t *testing.T) {
	b := Bcrypt{Cost: 4}
	h, err := b.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Verify(h, "correct horse") || b.Verify(h, "wrong horse") || b.VerifyUnknown("correct horse") {
		t.Fatal("bcrypt verification is wrong")
	}
}

// TestUnknownUserTakesAsLong: an unknown username costs a comparison at
// the configured cost, not at bcrypt's default, so timing does not tell
// whether a user exists.
func TestUnknownUserTakesAsLong(t *testing.T) {
	b := Bcrypt{Cost: 12}
	hash, err := b.Hash("right-password")
	if err != nil {
		t.Fatal(err)
	}
	b.VerifyUnknown("warm-up") // the dummy hash of this cost is made once
	measure := func(f func()) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			f()
			best = min(best, time.Since(start))
		}
		return best
	}
	known := measure(func() { b.Verify(hash, "wrong-password") })
	unknown := measure(func() { b.VerifyUnknown("wrong-password") })
	if unknown < known/2 {
		t.Fatalf("unknown user %s, wrong password %s: the difference tells who exists", unknown, known)
	}
}

// TestVerifiedTokensExpire: a token verified once is answered from
// memory, but never past its expiry, and a token altered by one byte is
// verified afresh (and refused).
func TestVerifiedTokensExpire(t *testing.T) {
	tk, err := NewTokens(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tk.now = func() time.Time { return now }
	s, _, err := tk.Issue(Claims{UserID: "u1", Role: "client"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if c, err := tk.Parse(s); err != nil || c.UserID != "u1" {
			t.Fatalf("Parse = %+v, %v", c, err)
		}
	}
	if _, err := tk.Parse(s[:len(s)-2] + "xx"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("altered token: err = %v; want ErrInvalidToken", err)
	}
	now = now.Add(time.Hour + time.Second)
	if _, err := tk.Parse(s); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a remembered token past its expiry: err = %v; want ErrInvalidToken", err)
	}
}

// TestAudienceAndLifetime: a token issued for an audience says so when
// parsed, and a shorter lifetime asked for is the one it gets (a longer
// one is capped at the Tokens' own).
func TestAudienceAndLifetime(t *testing.T) {
	tk, err := NewTokens(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ticket, ttl, err := tk.Issue(Claims{UserID: "u1", Role: "client", Audience: "events", TTL: time.Minute})
	if err != nil || ttl != time.Minute {
		t.Fatalf("ticket ttl %v, err %v; want 1m", ttl, err)
	}
	c, err := tk.Parse(ticket)
	if err != nil || c.Audience != "events" || c.UserID != "u1" {
		t.Fatalf("parsed %+v, %v; want audience events", c, err)
	}
	bearer, ttl, _ := tk.Issue(Claims{UserID: "u1", Role: "client", TTL: 2 * time.Hour})
	if ttl != time.Hour {
		t.Errorf("a lifetime above the Tokens' own: got %v, want 1h", ttl)
	}
	if c, _ := tk.Parse(bearer); c.Audience != "" {
		t.Errorf("a bearer token parsed with audience %q", c.Audience)
	}
}
