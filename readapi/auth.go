package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"agentdesk/domain"
	decl "agentdesk/domain/resource"
	"agentdesk/internal/reqbody"
	"agentdesk/readstore"
)

// The read models sign-in and authentication read; their document shapes
// are the contract with the projections.
var (
	usersCollection       = decl.Users.CollectionName()
	credentialsCollection = decl.CredentialsCollection
)

// userDoc is the part of a users document that identifies a principal.
type userDoc struct {
	ID        string  `json:"id"`
	Username  string  `json:"username"`
	CompanyID *string `json:"company_id"`
	Role      string  `json:"role"`
	Active    bool    `json:"active"`
	// PasswordVersion counts password changes; tokens carry the count
	// they were issued at.
	PasswordVersion uint64 `json:"password_version"`
}

// companyDoc is the part of a companies document that decides whether its
// users may act.
type companyDoc struct {
	Status string `json:"status"`
}

// credentialDoc is a credentials document.
type credentialDoc struct {
	ID           string `json:"id"`
	PasswordHash string `json:"password_hash"`
}

type principalKey struct{}

// PrincipalFrom returns the principal Authenticate put in ctx.
func PrincipalFrom(ctx context.Context) (domain.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(domain.Principal)
	return p, ok
}

// Authenticate requires a valid bearer token and puts the principal in
// the request context. The principal comes from the users read model
// (through a cache that a change to the user or to any company empties
// before the change's writer is answered), so a role change or a deletion
// takes effect at once; the token only proves who the caller is.
func (a *API) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
			a.fail(w, r, fmt.Errorf("%w: a bearer token is required", errUnauthorized))
			return
		}
		p, err := a.authenticate(r.Context(), strings.TrimSpace(token), "")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// authenticate returns who holds token, a token of audience ("" for a
// bearer token), or why it is refused.
func (a *API) authenticate(ctx context.Context, token, audience string) (domain.Principal, error) {
	claims, err := a.tokens.Parse(token)
	if err != nil || claims.Audience != audience {
		// A ticket for the event stream is no bearer token, nor the
		// other way round.
		return domain.Principal{}, fmt.Errorf("%w: the token is invalid or expired", errUnauthorized)
	}
	return a.holder(ctx, claims)
}

// holder returns who the holder of a valid token with claims is now, or
// why the token no longer speaks for them.
func (a *API) holder(ctx context.Context, claims TokenClaims) (domain.Principal, error) {
	p, pwv, err := a.cachedPrincipal(ctx, claims.UserID)
	if err != nil {
		return domain.Principal{}, err
	}
	if pwv != claims.PasswordVersion {
		// A password change or reset ends every older token.
		return domain.Principal{}, fmt.Errorf("%w: your password changed since you signed in; sign in again", errUnauthorized)
	}
	if string(p.Role) != claims.Role || p.CompanyID != claims.CompanyID {
		// A token speaks for the role it was issued for: after a role
		// change the user signs in again.
		return domain.Principal{}, fmt.Errorf("%w: your role changed since you signed in; sign in again", errUnauthorized)
	}
	return p, nil
}

// principal reads who userID is now, from the read models, on every
// request: a deactivated or deleted user, or a user of a suspended or
// deleted company, is refused at once, whatever tokens it holds.
func (a *API) principal(ctx context.Context, userID string) (domain.Principal, uint64, error) {
	doc, err := a.getDoc(ctx, usersCollection, userID)
	if errors.Is(err, readstore.ErrNotFound) {
		if !a.progress.CaughtUp(usersCollection) {
			// Not found in a view still being built says nothing: a 401
			// would log a valid user out.
			return domain.Principal{}, 0, fmt.Errorf("%w: the users view is catching up; retry shortly", errNotReady)
		}
		return domain.Principal{}, 0, fmt.Errorf("%w: the user no longer exists", errUnauthorized)
	}
	if err != nil {
		return domain.Principal{}, 0, err
	}
	var u userDoc
	if err := json.Unmarshal(doc.Data, &u); err != nil {
		return domain.Principal{}, 0, err
	}
	if !u.Active {
		return domain.Principal{}, 0, fmt.Errorf("%w: the user is deactivated", errUnauthorized)
	}
	p := domain.Principal{UserID: u.ID, Username: u.Username, Role: domain.Role(u.Role)}
	if u.CompanyID == nil {
		return p, u.PasswordVersion, nil
	}
	p.CompanyID = *u.CompanyID
	cdoc, err := a.getDoc(ctx, decl.Companies.CollectionName(), p.CompanyID)
	if errors.Is(err, readstore.ErrNotFound) && !a.progress.CaughtUp(decl.Companies.CollectionName()) {
		return domain.Principal{}, 0, fmt.Errorf("%w: the companies view is catching up; retry shortly", errNotReady)
	}
	if errors.Is(err, readstore.ErrNotFound) {
		return domain.Principal{}, 0, fmt.Errorf("%w: the company no longer exists", errUnauthorized)
	}
	if err != nil {
		return domain.Principal{}, 0, err
	}
	var c companyDoc
	if err := json.Unmarshal(cdoc.Data, &c); err != nil {
		return domain.Principal{}, 0, err
	}
	if c.Status != "active" {
		return domain.Principal{}, 0, fmt.Errorf("%w: the company is %s", errUnauthorized, c.Status)
	}
	return p, u.PasswordVersion, nil
}

// tokenResponse is the OAuth2-style answer of POST /auth/token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// maxSignInBody bounds a sign-in's body (a 413 beyond).
const maxSignInBody = 64 << 10

// signInFields are the keys of a JSON sign-in: OAuth2's password grant
// may send its grant_type and scope as well, which are ignored.
var signInFields = map[string]bool{"username": true, "password": true, "grant_type": true, "scope": true}

// token signs a user in with a username and password, form-encoded or
// JSON.
func (a *API) token(w http.ResponseWriter, r *http.Request) {
	raw, err := reqbody.Read(w, r, maxSignInBody)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var username, password string
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json", "application/x-www-form-urlencoded", "":
	default:
		a.fail(w, r, &requestError{status: http.StatusUnsupportedMediaType, msg: "the body must be form-encoded or JSON: send Content-Type: application/x-www-form-urlencoded or application/json"})
		return
	}
	if ct == "application/json" {
		var body struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if _, err := objectKeys(raw, signInFields); err != nil {
			a.fail(w, r, err)
			return
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			a.fail(w, r, badRequestf("the body must be a JSON object with username and password"))
			return
		}
		username, password = body.Username, body.Password
	} else {
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			a.fail(w, r, badRequestf("the body must be form-encoded or JSON username and password"))
			return
		}
		username, password = form.Get("username"), form.Get("password")
	}
	username = strings.ToLower(strings.TrimSpace(username))
	if missing := requiredFields(map[string]string{"username": username, "password": password}); missing != nil {
		a.fail(w, r, missing)
		return
	}
	client := clientAddr(r)
	if rule := a.signIn.admit(w, r, client, username); rule != nil {
		if a.rateLimits != nil {
			a.rateLimits.RateLimited("", "sign_in")
		}
		rule.refuse(w)
		return
	}
	// The attempt was counted as a failure; anything but a wrong
	// password (or an unknown username) gives it back.
	wrong := false
	defer func() {
		if !wrong {
			a.signIn.forgive(w, r, client, username)
		}
	}()
	docs, _, err := a.reads.Query(r.Context(), credentialsCollection, readstore.Query{
		Where: []readstore.Condition{{Field: "username", Op: readstore.Eq, Value: username}}, Limit: 1,
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var cred credentialDoc
	if len(docs) == 1 {
		if err := json.Unmarshal(docs[0].Data, &cred); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if cred.ID == "" && !a.progress.CaughtUp(credentialsCollection) {
		a.fail(w, r, fmt.Errorf("%w: sign-in is catching up; retry shortly", errNotReady))
		return
	}
	if cred.ID == "" {
		a.passwords.VerifyUnknown(password)
	}
	if cred.ID == "" || !a.passwords.Verify(cred.PasswordHash, password) {
		wrong = true
		a.fail(w, r, fmt.Errorf("%w: wrong username or password", errUnauthorized))
		return
	}
	p, pwv, err := a.principal(r.Context(), cred.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	tok, ttl, err := a.tokens.Issue(TokenClaims{UserID: p.UserID, CompanyID: p.CompanyID, Role: string(p.Role), PasswordVersion: pwv})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(ttl.Seconds())})
}

// me answers the current user's record.
func (a *API) me(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	doc, err := a.getDoc(r.Context(), usersCollection, p.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, doc.Data)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}

// requiredFields is a validation error naming each of fields that is
// empty, or nil when none is.
func requiredFields(fields map[string]string) error {
	var missing map[string]string
	for name, v := range fields {
		if v == "" {
			if missing == nil {
				missing = map[string]string{}
			}
			missing[name] = "is required"
		}
	}
	if missing == nil {
		return nil
	}
	return &domain.ValidationError{Fields: missing}
}
