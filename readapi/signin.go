package readapi

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
)

// SignInLimits bound failed sign-ins over a sliding window of a minute.
// Three counters are kept, each of failures only, and each limit, when
// reached, refuses further attempts with 429 before the password is
// checked, until the window slides past enough failures:
//
//   - PerClientUser: failures for one username from one client address.
//     Strict: it stops guessing at one account from one place, and it is
//     the only counter a mistyping user meets.
//   - PerUser: failures for one username from all addresses together.
//     Looser: it stops guessing spread over many addresses, at the price
//     of refusing that account's owner too while the attack lasts.
//   - PerClient: failures from one client address for all usernames
//     together. High: a NAT or a proxy puts many users behind one
//     address; it stops one address from trying a password on every
//     username.
//
// Only failures count, so many users signing in behind one address do
// not use up its limit; and since an attempt refused by a limit is not a
// failure, an attacker hammering one username adds at most PerClientUser
// failures a minute to the address's count: the correct password of
// another user behind the same address still gets in, unless the address
// as a whole passes PerClient. Zero turns a limit off.
type SignInLimits struct {
	PerClientUser int
	PerUser       int
	PerClient     int
}

// signInWindow is the window the limits count over.
const signInWindow = time.Minute

// signInLimiter applies SignInLimits. It is safe for concurrent use; its
// counts live in the process (each process of a scaled-out deployment
// counts its own).
type signInLimiter struct {
	rules []signInRule
}

// signInRule is one counter of failures.
type signInRule struct {
	limit  int
	key    func(client, username string) string
	detail string
	rl     *httprate.RateLimiter
}

func newSignInLimiter(l SignInLimits) *signInLimiter {
	s := &signInLimiter{}
	// The most specific rule first: an attempt it refuses is not counted
	// by the others at all.
	for _, r := range []signInRule{
		{limit: l.PerClientUser, key: func(c, u string) string { return "cu\x00" + c + "\x00" + u },
			detail: "too many failed sign-ins for this username from your address; retry later"},
		{limit: l.PerUser, key: func(_, u string) string { return "u\x00" + u },
			detail: "too many failed sign-ins for this username; retry later"},
		{limit: l.PerClient, key: func(c, _ string) string { return "c\x00" + c },
			detail: "too many failed sign-ins from your address; retry later"},
	} {
		if r.limit <= 0 {
			continue
		}
		// httprate's sliding window counter, driven by hand: no response
		// headers of its own (the 429 is ours), and OnLimit both checks
		// and counts under one lock.
		r.rl = httprate.NewRateLimiter(r.limit, signInWindow, httprate.WithResponseHeaders(httprate.ResponseHeaders{}))
		s.rules = append(s.rules, r)
	}
	return s
}

// admit counts an attempt as a failure against every rule before the
// password is checked, or refuses it, counting nothing, with the rule
// that is exhausted. Counting first and forgiving a success after (see
// forgive) makes the check and the count one step: a burst of parallel
// guesses cannot all pass the check while the slow password hashes run.
func (s *signInLimiter) admit(w http.ResponseWriter, r *http.Request, client, username string) *signInRule {
	for i := range s.rules {
		rule := &s.rules[i]
		if rule.rl.OnLimit(w, r, rule.key(client, username)) {
			s.uncount(w, r, client, username, s.rules[:i])
			return rule
		}
	}
	return nil
}

// forgive takes back the attempt admit counted when it was not a wrong
// password.
func (s *signInLimiter) forgive(w http.ResponseWriter, r *http.Request, client, username string) {
	s.uncount(w, r, client, username, s.rules)
}

func (s *signInLimiter) uncount(w http.ResponseWriter, r *http.Request, client, username string, rules []signInRule) {
	// A negative increment is httprate's way to give an attempt back. If
	// the window turned in between, the new window starts one lower:
	// one failure more is allowed there, which is harmless.
	back := r.WithContext(httprate.WithIncrement(r.Context(), -1))
	for _, rule := range rules {
		rule.rl.OnLimit(w, back, rule.key(client, username))
	}
}

// refuse answers a sign-in refused by rule.
func (rule *signInRule) refuse(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(signInWindow.Seconds())))
	WriteJSON(w, http.StatusTooManyRequests, Problem{Detail: rule.detail})
}

// clientAddr is the address of the client that sent r: the one a
// middleware.ClientIPFrom* middleware of chi found (from X-Forwarded-For
// when the TCP peer is a trusted proxy), else the TCP peer itself. IPv6
// addresses are cut to their /64, which one client typically controls
// whole.
func clientAddr(r *http.Request) string {
	ip := middleware.GetClientIPAddr(r.Context())
	if !ip.IsValid() {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if ip, err = netip.ParseAddr(host); err != nil {
			return host
		}
	}
	return httprate.CanonicalizeIP(ip.Unmap().String())
}
