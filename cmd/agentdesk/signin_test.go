package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// startWithEnv runs a server on the embedded stores with extra
// environment variables.
func startWithEnv(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	return startServerOn(t, t.TempDir(), backend{name: "sqlite-sqlite", env: env})
}

// signInAnswer is the answer to one sign-in attempt.
type signInAnswer struct {
	status     int
	retryAfter string
	detail     string
}

// signIn posts a username and password; forwardedFor, when set, is sent
// as X-Forwarded-For.
func signIn(t *testing.T, base, username, password, forwardedFor string) signInAnswer {
	t.Helper()
	form := url.Values{"username": {username}, "password": {password}}
	req, err := http.NewRequest("POST", base+"/auth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := signInAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode != http.StatusOK {
		var p struct{ Detail, Message string }
		if err := json.Unmarshal(raw, &p); err != nil || p.Detail == "" || p.Message != p.Detail {
			t.Fatalf("sign-in %s: got %d %s, want a JSON error with detail and message", username, resp.StatusCode, raw)
		}
		a.detail = p.Detail
	}
	if a.status == http.StatusTooManyRequests && a.retryAfter == "" {
		t.Fatalf("sign-in %s: a 429 without Retry-After", username)
	}
	return a
}

// want fails the test unless the attempt got status.
func (a signInAnswer) want(t *testing.T, what string, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: got %d (%s), want %d", what, a.status, a.detail, status)
	}
}

// TestSignInLimitPerUsername: failures for one username are counted over
// every address, so spreading guesses over many addresses does not get
// around the limit; other usernames from the same addresses are not
// affected.
func TestSignInLimitPerUsername(t *testing.T) {
	ts := startWithEnv(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1", "SIGN_IN_CLIENT_USER_RATE_LIMIT": "3", "SIGN_IN_USER_RATE_LIMIT": "6"})
	root := login(t, ts.URL, "admin", testAdminPassword)
	newTenant(t, ts, root, "Victim")

	for i := 1; i <= 6; i++ {
		signIn(t, ts.URL, "victim-admin", "wrong", fmt.Sprintf("198.51.100.%d", i)).want(t, fmt.Sprintf("wrong password from address %d", i), http.StatusUnauthorized)
	}
	a := signIn(t, ts.URL, "victim-admin", "wrong", "198.51.100.7")
	a.want(t, "the 7th address", http.StatusTooManyRequests)
	if !strings.Contains(a.detail, "this username") || a.retryAfter != "60" {
		t.Fatalf("got %q, Retry-After %q, want the username's limit named and 60 s", a.detail, a.retryAfter)
	}
	// While the limit holds, the account is closed from everywhere: that
	// is what stops guessing spread over addresses.
	signIn(t, ts.URL, "victim-admin", "password-Victim", "198.51.100.8").want(t, "the right password from a fresh address", http.StatusTooManyRequests)
	// Other accounts are untouched, from the same addresses too.
	signIn(t, ts.URL, "admin", testAdminPassword, "198.51.100.1").want(t, "another username", http.StatusOK)
	signIn(t, ts.URL, "admin", "wrong", "198.51.100.1").want(t, "another username, wrong", http.StatusUnauthorized)
}

// TestSignInLimitPerClientAndUsername: one address guessing at one
// username is stopped after the strict limit, and an attempt refused is
// not counted again, so the limit is the same under a burst of parallel
// guesses.
func TestSignInLimitPerClientAndUsername(t *testing.T) {
	ts := startWithEnv(t, map[string]string{"SIGN_IN_CLIENT_USER_RATE_LIMIT": "3", "SIGN_IN_USER_RATE_LIMIT": "0", "SIGN_IN_RATE_LIMIT": "0"})
	// Successes do not count.
	for range 6 {
		signIn(t, ts.URL, "admin", testAdminPassword, "").want(t, "the right password", http.StatusOK)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for range 20 {
		wg.Go(func() {
			a := signIn(t, ts.URL, "admin", "wrong", "")
			mu.Lock()
			got[a.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if got[http.StatusUnauthorized] != 3 || got[http.StatusTooManyRequests] != 17 {
		t.Fatalf("20 parallel wrong passwords: got %v, want 3 answered 401 and 17 answered 429", got)
	}
	a := signIn(t, ts.URL, "admin", testAdminPassword, "")
	a.want(t, "the right password after the limit", http.StatusTooManyRequests)
	if !strings.Contains(a.detail, "from your address") {
		t.Fatalf("got %q, want the username-and-address limit named", a.detail)
	}
	// Usernames are counted as sign-in reads them.
	signIn(t, ts.URL, " ADMIN ", "wrong", "").want(t, "the same username in capitals", http.StatusTooManyRequests)
}

// TestSignInForwardedFor: X-Forwarded-For is believed only from a trusted
// proxy, and then only its right-most address that is not a trusted
// proxy: a client cannot get a fresh address for each guess by sending
// the header itself.
func TestSignInForwardedFor(t *testing.T) {
	limits := map[string]string{"SIGN_IN_CLIENT_USER_RATE_LIMIT": "3", "SIGN_IN_USER_RATE_LIMIT": "0", "SIGN_IN_RATE_LIMIT": "0"}
	for _, c := range []struct{ name, trusted string }{
		{"no trusted proxy", ""},
		{"the peer is not a trusted proxy", "10.0.0.0/8,192.0.2.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"TRUSTED_PROXIES": c.trusted}
			for k, v := range limits {
				env[k] = v
			}
			ts := startWithEnv(t, env)
			for i := 1; i <= 3; i++ {
				signIn(t, ts.URL, "admin", "wrong", fmt.Sprintf("203.0.113.%d", i)).want(t, "a spoofed address", http.StatusUnauthorized)
			}
			signIn(t, ts.URL, "admin", "wrong", "203.0.113.99").want(t, "one more spoofed address", http.StatusTooManyRequests)
			signIn(t, ts.URL, "admin", testAdminPassword, "203.0.113.100").want(t, "the right password, spoofed address", http.StatusTooManyRequests)
		})
	}

	t.Run("a chain of trusted proxies", func(t *testing.T) {
		env := map[string]string{"TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}
		for k, v := range limits {
			env[k] = v
		}
		ts := startWithEnv(t, env)
		// The client prepends whatever it likes; the proxies append the
		// address they saw. 203.0.113.9 is the client.
		for i := 1; i <= 3; i++ {
			signIn(t, ts.URL, "admin", "wrong", fmt.Sprintf("192.0.2.%d, 203.0.113.9, 10.0.0.5", i)).want(t, "through the proxies", http.StatusUnauthorized)
		}
		signIn(t, ts.URL, "admin", "wrong", "192.0.2.50, 203.0.113.9, 10.0.0.5").want(t, "the same client, another spoof", http.StatusTooManyRequests)
		signIn(t, ts.URL, "admin", "wrong", "203.0.113.9").want(t, "the same client through one proxy", http.StatusTooManyRequests)
		// Another client behind the same proxies is another address.
		signIn(t, ts.URL, "admin", testAdminPassword, "203.0.113.10, 10.0.0.5").want(t, "another client", http.StatusOK)
		// Without the header the trusted peer itself is the client.
		signIn(t, ts.URL, "admin", testAdminPassword, "").want(t, "the proxy itself", http.StatusOK)
	})
}

// TestSignInSharedAddress: many users behind one address (a NAT, a
// proxy): an attacker among them hammering one username does not lock
// the others out, nor the attacked account for its owner elsewhere. With
// the default limits.
func TestSignInSharedAddress(t *testing.T) {
	ts := startWithEnv(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1"})
	root := login(t, ts.URL, "admin", testAdminPassword)
	newTenant(t, ts, root, "Neighbour")
	const nat = "203.0.113.50"

	refused := 0
	for i := range 60 {
		a := signIn(t, ts.URL, "admin", fmt.Sprintf("guess-%d", i), nat)
		if a.status == http.StatusTooManyRequests {
			refused++
		} else {
			a.want(t, "a guess", http.StatusUnauthorized)
		}
	}
	if refused != 55 {
		t.Fatalf("60 guesses from one address at one username: got %d refused, want 55 (5 failures allowed a minute)", refused)
	}
	signIn(t, ts.URL, "neighbour-admin", "password-Neighbour", nat).want(t, "another user behind the same address", http.StatusOK)
	signIn(t, ts.URL, "neighbour-admin", "a-typo", nat).want(t, "another user's typo behind the same address", http.StatusUnauthorized)
	signIn(t, ts.URL, "admin", testAdminPassword, "198.51.100.20").want(t, "the attacked account's owner elsewhere", http.StatusOK)
}

// TestSignInLimitPerClient: one address trying many usernames is stopped
// by the address's ceiling, whatever the usernames; other addresses are
// not.
func TestSignInLimitPerClient(t *testing.T) {
	ts := startWithEnv(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1", "SIGN_IN_RATE_LIMIT": "4"})
	for i := range 4 {
		signIn(t, ts.URL, fmt.Sprintf("user-%d", i), "Spring2026!", "198.51.100.60").want(t, "spraying", http.StatusUnauthorized)
	}
	a := signIn(t, ts.URL, "user-9", "Spring2026!", "198.51.100.60")
	a.want(t, "one username more", http.StatusTooManyRequests)
	if !strings.Contains(a.detail, "from your address") {
		t.Fatalf("got %q, want the address's limit named", a.detail)
	}
	signIn(t, ts.URL, "admin", testAdminPassword, "198.51.100.61").want(t, "another address", http.StatusOK)
}

// TestSignInNamesWhatIsMissing: a sign-in without a password or without a
// username is a 422 that names the field left empty, and only that one.
func TestSignInNamesWhatIsMissing(t *testing.T) {
	s := startWithEnv(t, nil)
	for _, c := range []struct {
		username, password string
		want, notWant      string
	}{
		{"admin", "", "password: is required", "username"},
		{" ", "secret", "username: is required", "password"},
		{"", "", "password: is required; username: is required", "-"},
	} {
		a := signIn(t, s.URL, c.username, c.password, "")
		a.want(t, fmt.Sprintf("sign in as %q with password %q", c.username, c.password), http.StatusUnprocessableEntity)
		if !strings.Contains(a.detail, c.want) || strings.Contains(a.detail, c.notWant) {
			t.Errorf("sign in as %q with password %q: detail %q, want it to say %q and not mention %q", c.username, c.password, a.detail, c.want, c.notWant)
		}
	}
}
