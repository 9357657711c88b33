package readapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"agentdesk/domain"
	"agentdesk/internal/sse"
	"agentdesk/readstore"
)

// The realtime feed: GET /api/events streams, as server-sent events, which
// records of the resources changed, once the projections have applied
// them, to whoever may read them. Each message is React Admin's realtime
// shape,
//
//	{"topic": "resource/tickets", "event": {"type": "created", "payload": {"ids": ["…"]}}}
//
// once on the resource's topic with every id of a run of changes, and
// once on each record's topic ("resource/tickets/<id>").
//
// The projections tell the feed of every batch they write (Publish). It
// keeps the latest changes in a ring, numbered in the order they were
// applied; each stream reads the ring from where it is and keeps what its
// principal may read (the resource's read scope, and for a child record
// its parent's). A message's SSE id is the process's epoch and the number
// of the last change it carries, so a client that reconnects with
// Last-Event-ID resumes where it was. When the ring no longer holds where
// it was (it was away too long, or the server restarted), it is told so
// by one "updated" message with no ids on each resource topic it may read:
// everything it shows is to be read again.
//
// An EventSource cannot send headers, so the stream is opened with a
// short-lived ticket (POST /api/events/ticket) in the query rather than
// the bearer token itself, which would then sit in access logs.

// EventTicketTTL is how long a ticket for the event stream opens it:
// long enough for a client's reconnects, short enough that a ticket
// seen in a log is of no use.
const EventTicketTTL = time.Minute

// eventsAudience is the audience of a ticket: it opens the event stream
// and nothing else, and no bearer token opens the stream.
const eventsAudience = "events"

// Default sizes of the feed.
const (
	// defaultFeedSize is how many changes the ring keeps for reconnects:
	// at 3,000 changes a second, a few seconds; at a busy office's pace,
	// hours.
	defaultFeedSize = 16384
	// maxIDsPerMessage bounds the ids of one resource-topic message.
	maxIDsPerMessage = 100
	// maxStreamsPerUser bounds one user's open streams: a tab holds one.
	maxStreamsPerUser = 16
	// eventsKeepAlive is how often an idle stream sends a comment, so
	// that proxies keep it open and a dead client is noticed; the
	// principal is checked again each time.
	eventsKeepAlive = 15 * time.Second
	// eventsRetry is the reconnection delay the stream asks clients for.
	eventsRetry = 3 * time.Second
	// feedIdle is how long after its last stream closed the feed stops
	// keeping changes (reading each document's fields costs a few
	// microseconds a write): a client that comes back later reads
	// everything again.
	feedIdle = 5 * time.Minute
)

// change is one record's change, as the feed keeps it.
type change struct {
	seq    uint64
	res    *resource
	id     string
	kind   string // created, updated, deleted
	fields scopeFields
	known  bool   // fields were read from the document
	parent string // a child record's parent id
	// all stands for every record of the resource (id is empty): its
	// read model was rebuilt, or another process changed records of it.
	// companies, when not nil, are the only tenants whose records did
	// ("" the platform's): only their streams and superadmins' hear.
	all       bool
	companies []string
}

// feed is the ring of recent changes and the streams reading it.
type feed struct {
	epoch     string
	byColl    map[string]*resource
	mu        sync.Mutex
	ring      []change
	next      uint64        // the number the next change gets (from 1)
	wake      chan struct{} // closed and replaced at every publish
	closed    chan struct{}
	close     sync.Once
	perUser   map[string]int
	keepAlive time.Duration
	// open counts the streams open; idleSince is when the last closed.
	// lost is the number of the last change not kept while idle.
	open      int
	idleSince time.Time
	lost      uint64
	// follows are the "read again" messages waiting on a following
	// process, by collection (see followed).
	follows map[string]*follow
}

// follow gathers, on a process that follows another, the tenants whose
// records of a collection changed, until its message is sent.
type follow struct {
	companies map[string]bool
	any       bool
	timer     *time.Timer // set while a message is due
	last      time.Time   // when the last message was sent
}

// followEvery is the least time between two "read again" messages of a
// collection on a following process: each makes every list of it on
// screen read again.
const followEvery = time.Second

func newFeed(size int) *feed {
	f := &feed{
		epoch:     strconv.FormatInt(time.Now().UnixNano(), 36),
		byColl:    map[string]*resource{},
		ring:      make([]change, size),
		next:      1,
		wake:      make(chan struct{}),
		closed:    make(chan struct{}),
		perUser:   map[string]int{},
		keepAlive: eventsKeepAlive,
		follows:   map[string]*follow{},
	}
	for _, res := range resources {
		if res.Derived {
			// The audit trail and usage totals change with every write:
			// lists of them are read when opened.
			continue
		}
		f.byColl[res.CollectionName()] = res
	}
	return f
}

// Publish tells the realtime feed of writes a projection has applied.
// The server calls it for every batch, after the batch is stored and
// before the writers that caused it are answered. It is quick: what each
// stream may read is decided by the stream.
func (a *API) Publish(writes []readstore.Write) {
	f := a.feed
	f.mu.Lock()
	if f.open == 0 && time.Since(f.idleSince) > feedIdle {
		// Nobody listens, nor is likely to come back for these: count
		// them as lost rather than read them.
		f.next += uint64(len(writes))
		f.lost = f.next - 1
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	var batch []change
	for _, w := range writes {
		res, ok := f.byColl[w.Collection]
		if !ok || (w.Delete && w.Created) {
			continue // not a resource, or a record nobody could read
		}
		c := change{res: res, id: w.Doc.ID, kind: "updated"}
		switch {
		case w.Delete:
			c.kind = "deleted"
		case w.Created:
			c.kind = "created"
		}
		if len(w.Doc.Data) > 0 && json.Unmarshal(w.Doc.Data, &c.fields) == nil {
			c.known = true
			if res.Parent != nil {
				var p map[string]json.RawMessage
				if json.Unmarshal(w.Doc.Data, &p) == nil {
					_ = json.Unmarshal(p[res.ParentField], &c.parent)
				}
			}
		}
		batch = append(batch, c)
	}
	if len(batch) == 0 {
		return
	}
	f.mu.Lock()
	wake := f.pushLocked(batch...)
	f.mu.Unlock()
	close(wake)
}

// pushLocked numbers changes and keeps them in the ring. It returns the
// channel that wakes the streams, for the caller to close once it has
// released f.mu, which it holds.
func (f *feed) pushLocked(changes ...change) (wake chan struct{}) {
	for _, c := range changes {
		c.seq = f.next
		f.ring[int(c.seq%uint64(len(f.ring)))] = c
		f.next++
	}
	wake = f.wake
	f.wake = make(chan struct{})
	return wake
}

// FollowedChanges tells the realtime feed, on a process that follows
// another (which runs the projections and so alone knows each record a
// batch wrote), that records of collection changed in companies (nil:
// in any). The streams of those companies, and superadmins', get one
// "updated" message with no ids on the resource's topic, "read again",
// at most one a second per collection. Other tenants hear nothing, not
// even that something changed.
func (a *API) FollowedChanges(collection string, companies []string) {
	f := a.feed
	if _, ok := f.byColl[collection]; !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fw := f.follows[collection]
	if fw == nil {
		fw = &follow{companies: map[string]bool{}}
		f.follows[collection] = fw
	}
	if companies == nil {
		fw.any = true
	}
	for _, c := range companies {
		fw.companies[c] = true
	}
	if fw.timer == nil {
		fw.timer = time.AfterFunc(max(0, time.Until(fw.last.Add(followEvery))), func() { f.sendFollow(collection) })
	}
}

// sendFollow sends the "read again" message gathered for collection.
func (f *feed) sendFollow(collection string) {
	f.mu.Lock()
	fw := f.follows[collection]
	c := change{res: f.byColl[collection], kind: "updated", all: true}
	if !fw.any {
		c.companies = slices.Sorted(maps.Keys(fw.companies))
	}
	fw.companies, fw.any, fw.timer, fw.last = map[string]bool{}, false, nil, time.Now()
	wake := f.pushLocked(c)
	f.mu.Unlock()
	close(wake)
}

// EventsWanted reports whether the realtime feed would send changes of
// collection: it streams the collection (not the audit log or usage),
// and a stream is open or was within the last few minutes. A following
// process asks before it works out whose records changed.
func (a *API) EventsWanted(collection string) bool {
	f := a.feed
	if _, ok := f.byColl[collection]; !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open > 0 || time.Since(f.idleSince) <= feedIdle
}

// rebuilt tells the streams that every record of collection may have
// changed: a rebuilt generation went live.
func (f *feed) rebuilt(collection string) {
	res, ok := f.byColl[collection]
	if !ok {
		return
	}
	f.mu.Lock()
	wake := f.pushLocked(change{res: res, kind: "updated", all: true})
	f.mu.Unlock()
	close(wake)
}

// CloseEvents ends every event stream, for a graceful stop: clients
// reconnect to the next server with their Last-Event-ID.
func (a *API) CloseEvents() { a.feed.close.Do(func() { close(a.feed.closed) }) }

// since returns the changes after seq, whether some were lost (seq is
// older than the ring holds), the number of the last change, and a
// channel closed at the next publish.
func (f *feed) since(seq uint64) (out []change, lost bool, last uint64, wake <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	last, wake = f.next-1, f.wake
	oldest := uint64(1)
	if f.next > uint64(len(f.ring)) {
		oldest = f.next - uint64(len(f.ring))
	}
	if seq+1 < oldest || seq < f.lost {
		return nil, true, last, wake
	}
	for s := seq + 1; s < f.next; s++ {
		out = append(out, f.ring[int(s%uint64(len(f.ring)))])
	}
	return out, false, last, wake
}

// eventTicket answers POST /api/events/ticket: a ticket that opens the
// caller's event stream for EventTicketTTL.
func (a *API) eventTicket(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<10))
	if b := strings.TrimSpace(string(body)); err != nil || b != "" && b != "{}" {
		a.fail(w, r, badRequestf("POST /api/events/ticket takes no body (or {})"))
		return
	}
	p, _ := PrincipalFrom(r.Context())
	_, pwv, err := a.cachedPrincipal(r.Context(), p.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	tok, ttl, err := a.tokens.Issue(TokenClaims{UserID: p.UserID, CompanyID: p.CompanyID, Role: string(p.Role),
		PasswordVersion: pwv, Audience: eventsAudience, TTL: EventTicketTTL})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, map[string]any{"ticket": tok, "expires_in": int64(ttl / time.Second)})
}

// realtimeMessage is one message of the event stream.
type realtimeMessage struct {
	Topic string        `json:"topic"`
	Event realtimeEvent `json:"event"`
}

type realtimeEvent struct {
	Type    string          `json:"type"`
	Payload realtimePayload `json:"payload"`
}

type realtimePayload struct {
	IDs []string `json:"ids"`
}

// streamEvents answers GET /api/events?ticket=…: the caller's event
// stream, from Last-Event-ID (or ?last_event_id=) when it is given and
// still held, else from now.
func (a *API) streamEvents(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	if ticket == "" {
		a.fail(w, r, fmt.Errorf("%w: a ticket is required: POST /api/events/ticket, then GET /api/events?ticket=…", errUnauthorized))
		return
	}
	claims, err := a.tokens.Parse(ticket)
	if err != nil || claims.Audience != eventsAudience {
		a.fail(w, r, fmt.Errorf("%w: the ticket is invalid or expired; ask for a new one", errUnauthorized))
		return
	}
	p, err := a.holder(r.Context(), claims)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f := a.feed
	f.mu.Lock()
	if f.perUser[p.UserID] >= maxStreamsPerUser {
		f.mu.Unlock()
		a.fail(w, r, &tooManyStreams{})
		return
	}
	f.perUser[p.UserID]++
	f.open++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		if f.perUser[p.UserID]--; f.perUser[p.UserID] == 0 {
			delete(f.perUser, p.UserID)
		}
		if f.open--; f.open == 0 {
			f.idleSince = time.Now()
		}
		f.mu.Unlock()
	}()

	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id")
	}
	head := f.head()
	cursor, resume := head, false
	if epoch, n, ok := strings.Cut(lastID, "."); ok && epoch == f.epoch {
		if seq, err := strconv.ParseUint(n, 10, 64); err == nil && seq <= head {
			cursor, resume = seq, true
		}
	}
	s := sse.New(w, 10*time.Second)
	if err := s.Retry(eventsRetry); err != nil {
		return
	}
	st := &stream{a: a, s: s, p: p}
	if lastID != "" && !resume {
		// Where the client was is not held: it reads everything again.
		if st.reset(head) != nil {
			return
		}
	}
	keepAlive := time.NewTicker(f.keepAlive)
	defer keepAlive.Stop()
	for {
		changes, lost, last, wake := f.since(cursor)
		if lost {
			if st.reset(last) != nil {
				return
			}
		} else if st.send(r.Context(), changes) != nil {
			return
		}
		cursor = last
		select {
		case <-wake:
		case <-keepAlive.C:
			// Who the caller is may have changed: a deactivated user, a
			// suspended company, a new password or role ends the stream
			// (the ticket itself had only to be valid when it opened it).
			if st.p, err = a.holder(r.Context(), claims); err != nil {
				return
			}
			if s.Comment("keep-alive") != nil {
				return
			}
		case <-f.closed:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// stream is one client's event stream.
type stream struct {
	a *API
	s *sse.Stream
	p domain.Principal
}

// send writes the changes p may read: a run of changes of one resource
// and kind is one message on the resource's topic (at most
// maxIDsPerMessage ids), after one on the topic of each record. The SSE
// id goes on the last message of each run.
func (st *stream) send(ctx context.Context, changes []change) error {
	parents := map[string]bool{} // "resource/id" → p may read it
	for i := 0; i < len(changes); {
		if c := changes[i]; c.all {
			i++
			if c.res.Scope(st.p).Denied {
				continue
			}
			if c.companies != nil && !slices.ContainsFunc(c.companies, st.p.InCompany) {
				continue
			}
			if err := st.s.Message(st.a.feed.eventID(c.seq), realtimeMessage{Topic: "resource/" + c.res.name,
				Event: realtimeEvent{Type: c.kind, Payload: realtimePayload{IDs: []string{}}}}); err != nil {
				return err
			}
			continue
		}
		j, ids := i, []string{}
		for ; j < len(changes) && !changes[j].all && changes[j].res == changes[i].res && changes[j].kind == changes[i].kind && len(ids) < maxIDsPerMessage; j++ {
			if st.visible(ctx, changes[j], parents) {
				ids = append(ids, changes[j].id)
			}
		}
		if len(ids) > 0 {
			res, kind := changes[i].res, changes[i].kind
			for _, id := range ids {
				if err := st.s.Message("", realtimeMessage{Topic: "resource/" + res.name + "/" + id,
					Event: realtimeEvent{Type: kind, Payload: realtimePayload{IDs: []string{id}}}}); err != nil {
					return err
				}
			}
			if err := st.s.Message(st.a.feed.eventID(changes[j-1].seq), realtimeMessage{Topic: "resource/" + res.name,
				Event: realtimeEvent{Type: kind, Payload: realtimePayload{IDs: ids}}}); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

// reset tells the client that changes were lost: one "updated" message
// with no ids on each resource topic it may read.
func (st *stream) reset(last uint64) error {
	names := make([]string, 0, len(st.a.feed.byColl))
	for _, res := range resources {
		if _, ok := st.a.feed.byColl[res.CollectionName()]; ok && !res.Scope(st.p).Denied {
			names = append(names, res.name)
		}
	}
	for i, name := range names {
		id := ""
		if i == len(names)-1 {
			id = st.a.feed.eventID(last)
		}
		if err := st.s.Message(id, realtimeMessage{Topic: "resource/" + name,
			Event: realtimeEvent{Type: "updated", Payload: realtimePayload{IDs: []string{}}}}); err != nil {
			return err
		}
	}
	return nil
}

// visible reports whether the stream's principal may read the record c
// changed: the resource's read scope over the record's fields, and for a
// child record its parent too (a client reads the comments of its own
// tickets). A deletion whose record the projection did not pass along is
// told to those who may read every record of the resource only.
func (st *stream) visible(ctx context.Context, c change, parents map[string]bool) bool {
	scope := c.res.Scope(st.p)
	if scope.Denied {
		return false
	}
	if !c.known {
		return len(scope.Where) == 0
	}
	if !scopeFieldsKnown(scope) || !scope.Allows(c.fields.get) {
		return false
	}
	if c.res.Parent == nil {
		return true
	}
	pres, _ := resourceNamed(c.res.Parent.Name)
	ps := pres.Scope(st.p)
	if ps.Denied {
		return false
	}
	// A parent scope of the company alone is the child's company: no
	// need to read the parent.
	onlyCompany := true
	for _, m := range ps.Where {
		if m.Field != "company_id" || m.Value != c.fields.get("company_id") {
			onlyCompany = false
		}
	}
	if onlyCompany {
		return true
	}
	key := pres.name + "/" + c.parent
	ok, seen := parents[key]
	if !seen {
		ctx, cancel := context.WithTimeout(ctx, st.a.queryTimeout)
		_, err := st.a.lookup(ctx, st.p, pres, c.parent)
		cancel()
		ok = err == nil
		parents[key] = ok
	}
	return ok
}

// head returns the number of the last change published.
func (f *feed) head() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.next - 1
}

// eventID is the SSE id of the change numbered seq.
func (f *feed) eventID(seq uint64) string { return f.epoch + "." + strconv.FormatUint(seq, 10) }

// tooManyStreams is the 429 of a user with maxStreamsPerUser streams open.
type tooManyStreams struct{}

func (*tooManyStreams) Error() string {
	return fmt.Sprintf("at most %d event streams may be open for one user; close one", maxStreamsPerUser)
}
func (*tooManyStreams) HTTPStatus() int { return http.StatusTooManyRequests }
