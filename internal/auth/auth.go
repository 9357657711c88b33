// Package auth issues and verifies the API's bearer tokens (JWT, HS256
// only, expiry required) and hashes passwords with bcrypt.
package auth

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/crypto/bcrypt"
)

// ErrInvalidToken means a token is malformed, expired, signed with another
// key or algorithm, or lacks a required claim.
var ErrInvalidToken = errors.New("invalid token")

// Issuer is the "iss" claim of every token.
const Issuer = "agentdesk"

// Tokens issues and verifies tokens with one HMAC key.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	// verified remembers tokens already verified, until they expire:
	// decoding and checking a token costs about as much as the rest of
	// a GET by id. A token never changes, so what it said stays true;
	// whether its holder may still act is decided elsewhere, per request.
	verified *lru.Cache[string, verifiedToken]
}

type verifiedToken struct {
	claims  Claims
	expires time.Time
}

// NewTokens returns Tokens signing with secret (at least 32 bytes) and
// valid for ttl.
func NewTokens(secret []byte, ttl time.Duration) (*Tokens, error) {
	var errs []error
	if len(secret) < 32 {
		errs = append(errs, errors.New("auth: JWT secret must be at least 32 bytes"))
	}
	if ttl <= 0 {
		errs = append(errs, errors.New("auth: token lifetime must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	verified, _ := lru.New[string, verifiedToken](10000) // the size is positive
	return &Tokens{secret: secret, ttl: ttl, now: time.Now, verified: verified}, nil
}

// Claims are what a token says about its holder.
type Claims struct {
	UserID    string
	CompanyID string
	Role      string
	// PasswordVersion counts the holder's password changes when the token
	// was issued: a later change makes the token stale.
	PasswordVersion uint64
	// Audience, when set, confines the token to one use (its "aud"
	// claim), such as "events" for a ticket that opens the realtime
	// stream; a bearer token has none, and whoever accepts a token checks
	// that its audience is the one expected.
	Audience string
	// TTL, when positive and shorter than the Tokens' lifetime, is the
	// token's lifetime instead (Issue only).
	TTL time.Duration
}

type jwtClaims struct {
	CompanyID       string `json:"cid,omitempty"`
	Role            string `json:"role"`
	PasswordVersion uint64 `json:"pwv,omitempty"`
	jwt.RegisteredClaims
}

// Issue returns a signed token for c and its lifetime.
func (t *Tokens) Issue(c Claims) (string, time.Duration, error) {
	now := t.now()
	ttl := t.ttl
	if c.TTL > 0 && c.TTL < ttl {
		ttl = c.TTL
	}
	claims := jwtClaims{
		CompanyID:       c.CompanyID,
		Role:            c.Role,
		PasswordVersion: c.PasswordVersion,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.UserID,
			Issuer:    Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	if c.Audience != "" {
		claims.Audience = jwt.ClaimStrings{c.Audience}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", 0, fmt.Errorf("sign token: %w", err)
	}
	return s, ttl, nil
}

// Parse verifies a token: HS256 only, "exp" required and in the future,
// our issuer, a subject, at most one audience (returned in Audience, for
// the caller to check). Any failure is ErrInvalidToken.
func (t *Tokens) Parse(token string) (Claims, error) {
	if v, ok := t.verified.Get(token); ok {
		if t.now().Before(v.expires) {
			return v.claims, nil
		}
		t.verified.Remove(token)
	}
	var claims jwtClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(Issuer),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if claims.Subject == "" {
		return Claims{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	if len(claims.Audience) > 1 {
		return Claims{}, fmt.Errorf("%w: more than one audience", ErrInvalidToken)
	}
	c := Claims{UserID: claims.Subject, CompanyID: claims.CompanyID, Role: claims.Role, PasswordVersion: claims.PasswordVersion}
	if len(claims.Audience) == 1 {
		c.Audience = claims.Audience[0]
	}
	t.verified.Add(token, verifiedToken{claims: c, expires: claims.ExpiresAt.Time})
	return c, nil
}

// Bcrypt hashes passwords with bcrypt at a fixed cost.
type Bcrypt struct {
	// Cost is the bcrypt work factor; 0 means bcrypt.DefaultCost.
	Cost int
}

// Hash returns the bcrypt hash of password.
func (b Bcrypt) Hash(password string) (string, error) {
	cost := b.Cost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
}

// Verify reports whether password matches hash.
func (Bcrypt) Verify(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// dummyHashes are compared against when a username is unknown, one per
// cost, so that sign-in takes as long for an unknown user as for a wrong
// password whatever BCRYPT_COST is (a fixed cost-10 dummy answered an
// unknown user in 63 ms where a real one took 245 ms at cost 12).
var dummyHashes sync.Map // cost → []byte

// VerifyUnknown spends the time of one Verify at b's cost and reports
// false.
func (b Bcrypt) VerifyUnknown(password string) bool {
	cost := b.Cost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, ok := dummyHashes.Load(cost)
	if !ok {
		generated, err := bcrypt.GenerateFromPassword([]byte("agentdesk-timing-equalizer"), cost)
		if err != nil {
			return false
		}
		h, _ = dummyHashes.LoadOrStore(cost, generated)
	}
	_ = bcrypt.CompareHashAndPassword(h.([]byte), []byte(password))
	return false
}
