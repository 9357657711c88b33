package esdb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"agentdesk/eventstore"
)

// defaultBatch is how many events Next returns at most when asked for
// "any number".
const defaultBatch = 256

// Subscribe implements eventstore.Store with a catch-up subscription to
// $all. The server filters by category when the filter names some, else
// by type when it names some, else it only leaves out system streams (a
// filtered subscription is also the only kind the server sends checkpoints
// for); the rest of the filter is applied here.
func (s *Store) Subscribe(ctx context.Context, from eventstore.Position, filter eventstore.Filter) (eventstore.Subscription, error) {
	client, release, err := s.acquire("subscribe")
	if err != nil {
		return nil, err
	}
	defer release()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	if from.Commit < from.Prepare {
		return nil, fmt.Errorf("subscribe: position %s was not made by EventStoreDB (commit before prepare)", from)
	}
	// The head now tells when the subscription has caught up on servers
	// that do not say so themselves.
	var h eventstore.Position
	client, err = s.retry(client, func(c *esdb.Client) (err error) {
		h, err = head(ctx, c)
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, "subscribe", err)
	}
	opts := esdb.SubscribeToAllOptions{
		From:               esdb.Start{},
		Filter:             serverFilter(filter),
		MaxSearchWindow:    s.cfg.FilterWindow,
		CheckpointInterval: s.cfg.CheckpointInterval,
	}
	if !from.IsZero() {
		opts.From = esdb.Position{Commit: from.Commit, Prepare: from.Prepare}
	}
	es, err := client.SubscribeToAll(ctx, opts)
	if err != nil {
		return nil, s.fail(ctx, "subscribe", err)
	}
	sub := &subscription{
		store:    s,
		es:       es,
		filter:   filter,
		items:    make(chan item, defaultBatch),
		closed:   make(chan struct{}),
		pos:      from,
		reported: from,
		head:     h,
		caughtUp: from.Compare(h) >= 0,
	}
	go sub.pump(ctx)
	return sub, nil
}

// serverFilter is the part of f the server can apply: one filter, on
// stream names or on event types, never on metadata. Names are matched
// whole with regular expressions ("ticket" must not match "tickets-1").
func serverFilter(f eventstore.Filter) *esdb.SubscriptionFilter {
	switch {
	case len(f.Categories) > 0:
		return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: "^(?:" + alternatives(f.Categories) + ")(?:-|$)"}
	case len(f.Types) > 0:
		return &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "^(?:" + alternatives(f.Types) + ")$"}
	default:
		return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: `^[^$]`}
	}
}

func alternatives(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return strings.Join(quoted, "|")
}

// item is what the pump hands to Next, in the server's order: an event to
// deliver, a position passed without one (a server checkpoint or an event
// filtered out here), or the caught-up message.
type item struct {
	event    *eventstore.RecordedEvent
	pos      eventstore.Position
	caughtUp bool
}

// subscription adapts the client's subscription: a pump goroutine, owned
// by the subscription and ended by Close, the store's Close or Subscribe's
// context, receives from the server and queues items for Next.
type subscription struct {
	store  *Store
	es     *esdb.Subscription
	filter eventstore.Filter

	items chan item // closed by the pump when it ends
	// dropped is why the pump ended; written before items is closed.
	dropped error

	closeOnce sync.Once
	closed    chan struct{}

	// The rest belongs to Next (one goroutine at a time).
	// pos is how far the subscription has delivered: every event up to it
	// that passes the filter has been returned.
	pos eventstore.Position
	// reported is the last checkpoint Next returned.
	reported eventstore.Position
	// head is the last event stored when the subscription started.
	head                   eventstore.Position
	caughtUp, toldCaughtUp bool
}

// pump receives from the server until the subscription ends. ctx is
// Subscribe's: the client ends the stream when it is done.
func (sub *subscription) pump(ctx context.Context) {
	defer close(sub.items)
	for {
		e := sub.es.Recv()
		var it item
		switch {
		case e.SubscriptionDropped != nil:
			sub.dropped = e.SubscriptionDropped.Error
			if ctx.Err() != nil {
				sub.dropped = ctx.Err()
			}
			return
		case e.EventAppeared != nil:
			it = sub.convert(e.EventAppeared)
		case e.CheckPointReached != nil:
			it = item{pos: eventstore.Position{Commit: e.CheckPointReached.Commit, Prepare: e.CheckPointReached.Prepare}}
		case e.CaughtUp != nil:
			it = item{caughtUp: true}
		default:
			continue // fell behind: the server catches up again by itself
		}
		select {
		case sub.items <- it:
		case <-sub.closed:
			return
		case <-sub.store.done:
			return
		}
	}
}

// convert decides whether an event is delivered or only passed.
func (sub *subscription) convert(re *esdb.ResolvedEvent) item {
	raw := re.OriginalEvent()
	pos := eventstore.Position{Commit: raw.Position.Commit, Prepare: raw.Position.Prepare}
	if strings.HasPrefix(raw.StreamID, "$") || strings.HasPrefix(raw.EventType, "$") {
		return item{pos: pos}
	}
	ev, err := decode(raw)
	if err != nil {
		// Written by someone else: not an event of this store.
		if l := sub.store.cfg.Logger; l != nil {
			l.Warn("esdb: subscription skips an event it cannot decode", "position", pos.String(), "error", err)
		}
		return item{pos: pos}
	}
	ev.Position = pos
	if !sub.filter.Match(ev) {
		return item{pos: pos}
	}
	return item{event: &ev, pos: pos}
}

// Next implements eventstore.Subscription: it waits for an event, a
// checkpoint past the last one returned, or the news that the
// subscription caught up, then adds what else has already arrived, up to
// max events.
func (sub *subscription) Next(ctx context.Context, max int) (eventstore.Batch, error) {
	if max <= 0 {
		max = defaultBatch
	}
	var events []eventstore.RecordedEvent
	for len(events) == 0 && sub.pos.Compare(sub.reported) <= 0 && sub.caughtUp == sub.toldCaughtUp {
		if err := sub.endErr(); err != nil {
			return eventstore.Batch{}, err
		}
		select {
		case it, ok := <-sub.items:
			if !ok {
				return eventstore.Batch{}, sub.dropErr()
			}
			events = sub.apply(it, events)
		case <-ctx.Done():
			return eventstore.Batch{}, ctx.Err()
		case <-sub.closed:
		case <-sub.store.done:
		}
	}
drain:
	for len(events) < max {
		select {
		case it, ok := <-sub.items:
			if !ok {
				break drain // the next call reports why
			}
			events = sub.apply(it, events)
		default:
			break drain
		}
	}
	b := eventstore.Batch{Events: events, CaughtUp: sub.caughtUp}
	if len(events) > 0 || sub.pos.Compare(sub.reported) > 0 {
		b.Checkpoint = sub.pos
	}
	sub.reported, sub.toldCaughtUp = sub.pos, sub.caughtUp
	return b, nil
}

func (sub *subscription) apply(it item, events []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	if it.caughtUp {
		sub.caughtUp = true
		return events
	}
	if it.event != nil {
		events = append(events, *it.event)
	}
	if it.pos.Compare(sub.pos) > 0 {
		sub.pos = it.pos
	}
	if !sub.caughtUp && sub.pos.Compare(sub.head) >= 0 {
		sub.caughtUp = true
	}
	return events
}

// endErr returns ErrClosed once the subscription or the store is closed.
func (sub *subscription) endErr() error {
	select {
	case <-sub.closed:
		return fmt.Errorf("subscription: %w", eventstore.ErrClosed)
	case <-sub.store.done:
		return fmt.Errorf("subscription: %w", eventstore.ErrClosed)
	default:
		return nil
	}
}

// dropErr says why the pump ended.
func (sub *subscription) dropErr() error {
	if err := sub.endErr(); err != nil {
		return err
	}
	if errors.Is(sub.dropped, context.Canceled) || errors.Is(sub.dropped, context.DeadlineExceeded) {
		return fmt.Errorf("subscription: %w", sub.dropped)
	}
	return fmt.Errorf("subscription dropped by %s: %w", sub.store.host, sub.dropped)
}

// Close implements eventstore.Subscription.
func (sub *subscription) Close() error {
	sub.closeOnce.Do(func() {
		close(sub.closed)
		_ = sub.es.Close()
	})
	return nil
}
