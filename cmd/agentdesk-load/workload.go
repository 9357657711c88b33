package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Scenarios: the mixed workload, or one path alone.
const (
	scenarioMixed   = "mixed"
	scenarioCreates = "creates"
	scenarioList    = "list"
	scenarioGet     = "get"
)

// scenarios lists the scenario names in the order the help shows them.
var scenarios = []string{scenarioMixed, scenarioCreates, scenarioList, scenarioGet}

// op is one kind of request of a workload. Its route is the pattern the
// report groups by; weight is its share of the requests (out of the sum of
// the workload's weights).
type op struct {
	route  string
	weight int
	run    func(ctx context.Context, w *worker, op int)
}

// opsFor returns the requests of a scenario.
//
// The mixed workload is 70 % reads and 30 % commands, the reads being what
// React Admin's list and show pages send. No worker expects any error:
// each writes only the tickets it owns (see worker), so a 409 is a
// conflict nobody caused and counts as a failure like any other non-2xx.
func opsFor(scenario string) []op {
	switch scenario {
	case scenarioCreates:
		return []op{{route: "POST /api/tickets", weight: 1, run: createTicket}}
	case scenarioList:
		return []op{{route: "GET /api/tickets", weight: 1, run: listFirstPage}}
	case scenarioGet:
		return []op{{route: "GET /api/tickets/{id}", weight: 1, run: getTicket}}
	}
	return []op{
		{route: "GET /api/tickets", weight: 20, run: listPage},
		{route: "GET /api/tickets ?filter=status", weight: 15, run: listByStatus},
		{route: "GET /api/tickets ?sort=priority", weight: 10, run: listByPriority},
		{route: "GET /api/tickets/{id}", weight: 15, run: getTicket},
		{route: "GET /api/tickets/{id}/comments", weight: 10, run: listComments},
		{route: "POST /api/tickets", weight: 8, run: createTicket},
		{route: "PUT /api/tickets/{id}", weight: 8, run: updateTicket},
		{route: "POST /api/tickets/{id}/comments", weight: 8, run: commentTicket},
		{route: "POST /api/tickets/{id}/status", weight: 6, run: changeStatus},
	}
}

// company is one tenant of the run: its admin's session and its tickets.
type company struct {
	id    string
	admin *api
	// seeded are the ids of the tickets created while seeding, in order.
	seeded []string
	// pool holds every ticket of the company the run knows, seeded or
	// created since: reads pick from it.
	pool ticketPool
}

// ticketPool is a company's ticket ids, safe for concurrent use.
type ticketPool struct {
	mu  sync.RWMutex
	ids []string
}

func (p *ticketPool) add(id string) {
	p.mu.Lock()
	p.ids = append(p.ids, id)
	p.mu.Unlock()
}

// pick returns a random id, or "" when there is none.
func (p *ticketPool) pick(r *rand.Rand) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.ids) == 0 {
		return ""
	}
	return p.ids[r.IntN(len(p.ids))]
}

// ownedTicket is what a worker knows of a ticket only it writes.
type ownedTicket struct {
	id     string
	status string
	// revision is the ticket's revision after the worker's last write, if
	// known: a comment answers the comment, not the ticket, so after one
	// the next edit is sent without a revision.
	revision      uint64
	knowsRevision bool
}

// nextStatus is the status a status action moves a ticket to: round the
// lifecycle open → in_progress → resolved → closed → open (reopen).
var nextStatus = map[string]string{
	"open": "in_progress", "in_progress": "resolved", "resolved": "closed", "closed": "open",
}

// worker sends one request at a time as its company's admin. It owns a
// share of its company's tickets (and the ones it creates): only it
// edits, comments on or moves them, so it knows their status and
// revision and every write is one the server must accept.
type worker struct {
	n     int
	api   *api
	co    *company
	rng   *rand.Rand
	own   []*ownedTicket
	made  int // tickets created, for unique titles
	buf   bytes.Buffer
	stats []routeStats // by op index
	live  *counters
}

// send makes one measured request of op i and records it. It reports
// whether the server answered 2xx; the answer is then in w.buf. A request
// cut short by the run's interruption is not recorded.
func (w *worker) send(ctx context.Context, i int, method, path string, body []byte) bool {
	start := time.Now()
	status, err := w.api.do(ctx, method, path, body, &w.buf)
	took := time.Since(start)
	if ctx.Err() != nil {
		return false
	}
	var kind, detail string
	switch {
	case err != nil:
		kind, detail = "transport", fmt.Sprintf("%s %s: %v", method, path, err)
	case status < 200 || status > 299:
		kind, detail = strconv.Itoa(status), fmt.Sprintf("%s %s: %s", method, path, snippet(w.buf.Bytes()))
	}
	w.live.requests.Add(1)
	if kind != "" {
		w.live.errors.Add(1)
	}
	w.stats[i].record(took, kind, detail)
	return kind == ""
}

// loop sends requests of ops, picked at random by weight, until end or
// until ctx ends.
func (w *worker) loop(ctx context.Context, ops []op, end time.Time) {
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	for ctx.Err() == nil && time.Now().Before(end) {
		n := w.rng.IntN(total)
		for i, o := range ops {
			if n < o.weight {
				o.run(ctx, w, i)
				break
			}
			n -= o.weight
		}
	}
}

// pickOwned returns a random ticket of the worker's that takes edits and
// comments (not closed), or nil.
func (w *worker) pickOwned() *ownedTicket {
	if len(w.own) == 0 {
		return nil
	}
	start := w.rng.IntN(len(w.own))
	for k := range w.own {
		if t := w.own[(start+k)%len(w.own)]; t.status != "closed" {
			return t
		}
	}
	return nil
}

// resync reads t back after a failed write, which may or may not have
// been recorded, so that the worker's next write on it is right. A ticket
// that cannot be read is given up.
func (w *worker) resync(ctx context.Context, t *ownedTicket) {
	var rec ticketRecord
	if err := w.api.call(ctx, http.MethodGet, "/api/tickets/"+t.id, nil, http.StatusOK, &rec); err != nil {
		for i, o := range w.own {
			if o == t {
				w.own = append(w.own[:i], w.own[i+1:]...)
				break
			}
		}
		return
	}
	t.status, t.revision, t.knowsRevision = rec.Status, rec.Revision, true
}

// ticketRecord is the part of a ticket's record the workload reads.
type ticketRecord struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Revision uint64 `json:"revision"`
}

// decodeTicket reads the ticket record in w.buf.
func (w *worker) decodeTicket() (ticketRecord, bool) {
	var rec ticketRecord
	err := json.Unmarshal(w.buf.Bytes(), &rec)
	return rec, err == nil && rec.ID != ""
}

// Query strings, built once.
var (
	pageQueries = func() []string {
		q := make([]string, 4)
		for i := range q {
			q[i] = "?range=" + url.QueryEscape(fmt.Sprintf("[%d,%d]", i*25, i*25+24))
		}
		return q
	}()
	statusQueries = func() []string {
		var q []string
		for _, s := range []string{"open", "in_progress", "resolved", "closed"} {
			q = append(q, "?filter="+url.QueryEscape(`{"status":"`+s+`"}`)+"&range="+url.QueryEscape("[0,24]"))
		}
		return q
	}()
	priorityQuery = "?sort=" + url.QueryEscape(`["priority","DESC"]`) + "&range=" + url.QueryEscape("[0,24]")
	priorities    = []string{"low", "normal", "normal", "high", "urgent"}
)

// listFirstPage asks for the first page of 25 tickets with the total, as
// React Admin's list opens.
func listFirstPage(ctx context.Context, w *worker, i int) {
	w.send(ctx, i, http.MethodGet, "/api/tickets"+pageQueries[0], nil)
}

// listPage asks for one of the first four pages, newest first.
func listPage(ctx context.Context, w *worker, i int) {
	w.send(ctx, i, http.MethodGet, "/api/tickets"+pageQueries[w.rng.IntN(len(pageQueries))], nil)
}

// listByStatus asks for the first page of the tickets in one status.
func listByStatus(ctx context.Context, w *worker, i int) {
	w.send(ctx, i, http.MethodGet, "/api/tickets"+statusQueries[w.rng.IntN(len(statusQueries))], nil)
}

// listByPriority asks for the first page sorted by priority, most urgent
// first.
func listByPriority(ctx context.Context, w *worker, i int) {
	w.send(ctx, i, http.MethodGet, "/api/tickets"+priorityQuery, nil)
}

// getTicket reads one ticket of the company.
func getTicket(ctx context.Context, w *worker, i int) {
	if id := w.co.pool.pick(w.rng); id != "" {
		w.send(ctx, i, http.MethodGet, "/api/tickets/"+id, nil)
	}
}

// listComments reads the first page of one ticket's comments.
func listComments(ctx context.Context, w *worker, i int) {
	if id := w.co.pool.pick(w.rng); id != "" {
		w.send(ctx, i, http.MethodGet, "/api/tickets/"+id+"/comments", nil)
	}
}

// newTicketBody is the body of a ticket creation.
type newTicketBody struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Priority    string   `json:"priority"`
	Tags        []string `json:"tags"`
}

// newTicket returns the body of the worker's next new ticket.
func (w *worker) newTicket() []byte {
	w.made++
	body, _ := json.Marshal(newTicketBody{
		Title:       fmt.Sprintf("Load ticket %d-%d", w.n, w.made),
		Description: "Opened by the load generator to measure the server.",
		Priority:    priorities[w.rng.IntN(len(priorities))],
		Tags:        []string{"load"},
	})
	return body
}

// createTicket opens a ticket, which the worker then owns.
func createTicket(ctx context.Context, w *worker, i int) {
	if !w.send(ctx, i, http.MethodPost, "/api/tickets", w.newTicket()) {
		return
	}
	if rec, ok := w.decodeTicket(); ok {
		w.co.pool.add(rec.ID)
		w.own = append(w.own, &ownedTicket{id: rec.ID, status: rec.Status, revision: rec.Revision, knowsRevision: true})
	}
}

// ticketEdit is the body of a ticket update.
type ticketEdit struct {
	Title    string  `json:"title"`
	Priority string  `json:"priority"`
	Revision *uint64 `json:"revision,omitempty"`
}

// updateTicket edits one of the worker's tickets, at the revision it last
// saw when it knows it (a stale one would be a 409).
func updateTicket(ctx context.Context, w *worker, i int) {
	t := w.pickOwned()
	if t == nil {
		return
	}
	w.made++
	edit := ticketEdit{Title: fmt.Sprintf("Load ticket %d-%d (edited)", w.n, w.made), Priority: priorities[w.rng.IntN(len(priorities))]}
	if t.knowsRevision {
		edit.Revision = &t.revision
	}
	body, _ := json.Marshal(edit)
	if !w.send(ctx, i, http.MethodPut, "/api/tickets/"+t.id, body) {
		w.resync(ctx, t)
		return
	}
	if rec, ok := w.decodeTicket(); ok {
		t.status, t.revision, t.knowsRevision = rec.Status, rec.Revision, true
	}
}

// commentTicket comments on one of the worker's tickets.
func commentTicket(ctx context.Context, w *worker, i int) {
	t := w.pickOwned()
	if t == nil {
		return
	}
	body, _ := json.Marshal(map[string]string{"body": "Looking into it (load generator)."})
	if !w.send(ctx, i, http.MethodPost, "/api/tickets/"+t.id+"/comments", body) {
		w.resync(ctx, t)
		return
	}
	t.knowsRevision = false
}

// changeStatus moves one of the worker's tickets one step round its
// lifecycle.
func changeStatus(ctx context.Context, w *worker, i int) {
	if len(w.own) == 0 {
		return
	}
	t := w.own[w.rng.IntN(len(w.own))]
	body, _ := json.Marshal(map[string]string{"status": nextStatus[t.status]})
	if !w.send(ctx, i, http.MethodPost, "/api/tickets/"+t.id+"/status", body) {
		w.resync(ctx, t)
		return
	}
	if rec, ok := w.decodeTicket(); ok {
		t.status, t.revision, t.knowsRevision = rec.Status, rec.Revision, true
	}
}

// newWorkers returns concurrency workers spread over the companies in
// turn, each owning an equal share of its company's seeded tickets.
func newWorkers(companies []*company, concurrency int, live *counters) []*worker {
	workers := make([]*worker, concurrency)
	perCompany := make([][]*worker, len(companies))
	for n := range workers {
		co := companies[n%len(companies)]
		w := &worker{n: n, api: co.admin, co: co, rng: rand.New(rand.NewPCG(uint64(n), 0x10ad)), live: live}
		workers[n] = w
		perCompany[n%len(companies)] = append(perCompany[n%len(companies)], w)
	}
	for c, co := range companies {
		ws := perCompany[c]
		if len(ws) == 0 {
			continue
		}
		for k, id := range co.seeded {
			w := ws[k%len(ws)]
			w.own = append(w.own, &ownedTicket{id: id, status: "open", knowsRevision: true})
		}
	}
	return workers
}

// drive runs ops on every worker until d has passed (requests in flight
// then finish) or ctx ends, and gathers what they saw.
func drive(ctx context.Context, name string, ops []op, workers []*worker, d time.Duration) *result {
	for _, w := range workers {
		w.stats = make([]routeStats, len(ops))
	}
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.loop(ctx, ops, end) })
	}
	wg.Wait()
	res := &result{name: name, elapsed: time.Since(start), stats: map[string]*routeStats{}}
	for i, o := range ops {
		s := &routeStats{}
		for _, w := range workers {
			s.merge(&w.stats[i])
			w.stats[i] = routeStats{}
		}
		res.routes = append(res.routes, o.route)
		res.stats[o.route] = s
	}
	return res
}
