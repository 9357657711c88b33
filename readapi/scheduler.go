package readapi

import (
	"context"
	"sync"
	"time"
)

// scheduler runs at most `slots` list queries at once across every
// company, and hands a freed slot to the waiting companies in turn, each
// up to `perCompany` running queries, or an even share of them while
// other companies are querying too (seen in the last second): then one
// company's heavy queries hold at most their share of the cores. Queries are CPU-bound: with as
// many slots as cores, a company that sends sixteen heavy queries at once
// runs about one at a time while another company is waiting too, so the
// other's queries wait for one query, not sixteen, and do not share the
// cores with sixteen.
type scheduler struct {
	perCompany int

	mu      sync.Mutex
	free    int
	running map[string]int
	waiting map[string][]chan struct{}
	turn    []string // companies with waiters, in the order they are served
	seen    map[string]time.Time
	now     func() time.Time
}

// activeWindow is how recently a company must have queried to count as
// querying.
const activeWindow = time.Second

// limit is how many queries company may run now; it runs with mu held.
func (s *scheduler) limit(company string) int {
	now := s.now()
	active := 0
	for c, at := range s.seen {
		switch {
		case now.Sub(at) < activeWindow:
			active++
		case s.running[c] == 0 && len(s.waiting[c]) == 0:
			delete(s.seen, c)
		}
	}
	if _, ok := s.seen[company]; !ok {
		active++
	}
	if active <= 1 {
		return s.perCompany
	}
	return max(1, s.perCompany/active)
}

func newScheduler(slots, perCompany int) *scheduler {
	return &scheduler{perCompany: perCompany, free: slots,
		running: map[string]int{}, waiting: map[string][]chan struct{}{}, seen: map[string]time.Time{}, now: time.Now}
}

// acquire waits for a slot for company until ctx ends, and returns the
// function that frees it.
func (s *scheduler) acquire(ctx context.Context, company string) (release func(), err error) {
	release = func() { s.release(company) }
	s.mu.Lock()
	s.seen[company] = s.now()
	if s.free > 0 && s.running[company] < s.limit(company) && len(s.waiting[company]) == 0 {
		s.free--
		s.running[company]++
		s.mu.Unlock()
		return release, nil
	}
	granted := make(chan struct{})
	if len(s.waiting[company]) == 0 {
		s.turn = append(s.turn, company)
	}
	s.waiting[company] = append(s.waiting[company], granted)
	s.mu.Unlock()

	select {
	case <-granted:
		return release, nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-granted:
		// Granted while giving up: hand the slot on.
		s.running[company]--
		s.free++
		s.dispatch()
	default:
		s.remove(company, granted)
	}
	return nil, ctx.Err()
}

func (s *scheduler) release(company string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[company]--; s.running[company] == 0 {
		delete(s.running, company)
	}
	s.free++
	s.dispatch()
}

// dispatch grants free slots to waiting companies in turn; it runs with
// mu held.
func (s *scheduler) dispatch() {
	for s.free > 0 {
		served := false
		for i := 0; i < len(s.turn) && s.free > 0; i++ {
			c := s.turn[i]
			if s.running[c] >= s.limit(c) {
				continue
			}
			q := s.waiting[c]
			close(q[0])
			s.free--
			s.running[c]++
			served = true
			if len(q) == 1 {
				delete(s.waiting, c)
				s.turn = append(s.turn[:i], s.turn[i+1:]...)
			} else {
				s.waiting[c] = q[1:]
				// To the back of the line: the next slot goes to another
				// company first.
				s.turn = append(append(s.turn[:i], s.turn[i+1:]...), c)
			}
			break
		}
		if !served {
			return
		}
	}
}

// remove drops a waiter that gave up; it runs with mu held.
func (s *scheduler) remove(company string, granted chan struct{}) {
	q := s.waiting[company]
	for i, ch := range q {
		if ch == granted {
			q = append(q[:i], q[i+1:]...)
			break
		}
	}
	if len(q) > 0 {
		s.waiting[company] = q
		return
	}
	delete(s.waiting, company)
	for i, c := range s.turn {
		if c == company {
			s.turn = append(s.turn[:i], s.turn[i+1:]...)
			break
		}
	}
}
