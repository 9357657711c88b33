package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"agentdesk/readstore"
)

// Lease lets one process at a time run the projections and reactions when
// several share the production stores. It is a document in the read
// store, written under the store's version guard, which is all the
// compare-and-swap it needs: the version is the pair (term, renewal). The
// holder renews with (term, n+1); a process that finds the lease expired
// takes it over with (term+1, 0), and of two that try at once only the
// first write lands (the second's version is not above it). Each reads the
// document back to learn whether it won.
//
// The holder stops counting itself the holder a margin before its own
// expiry, and a challenger waits until that expiry has passed, so two
// processes never run at once as long as their clocks differ by less than
// the margin (a third of the TTL).
type Lease struct {
	reads  readstore.Store
	name   string
	holder string
	ttl    time.Duration
	log    *slog.Logger
	now    func() time.Time
}

// leaseCollection holds the leases.
const leaseCollection = "projection_leases"

// leaseDoc is a lease as stored.
type leaseDoc struct {
	ID        string    `json:"id"`
	Holder    string    `json:"holder"`
	Term      int64     `json:"term"`
	Renewal   int64     `json:"renewal"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (d leaseDoc) version() string { return fmt.Sprintf("%020d.%020d", d.Term, d.Renewal) }

// NewLease returns the lease name in reads, taken as holder (a name for
// this process, unique among them) for ttl at a time.
func NewLease(ctx context.Context, reads readstore.Store, name, holder string, ttl time.Duration, log *slog.Logger) (*Lease, error) {
	if ttl < time.Second {
		return nil, fmt.Errorf("lease %s: TTL %s is below 1s", name, ttl)
	}
	if log == nil {
		log = slog.Default()
	}
	if err := reads.Ensure(ctx, readstore.Collection{Name: leaseCollection}); err != nil {
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	return &Lease{reads: reads, name: name, holder: holder, ttl: ttl, log: log, now: time.Now}, nil
}

// Holder is this process's name in the lease.
func (l *Lease) Holder() string { return l.holder }

// read returns the stored lease; a missing one is the zero lease.
func (l *Lease) read(ctx context.Context) (leaseDoc, error) {
	doc, err := l.reads.Get(ctx, leaseCollection, l.name)
	if errors.Is(err, readstore.ErrNotFound) {
		return leaseDoc{ID: l.name}, nil
	}
	if err != nil {
		return leaseDoc{}, err
	}
	var d leaseDoc
	if err := json.Unmarshal(doc.Data, &d); err != nil {
		return leaseDoc{}, fmt.Errorf("decode lease %s: %w", l.name, err)
	}
	return d, nil
}

// write stores d under its version and reads back who holds the lease.
func (l *Lease) write(ctx context.Context, d leaseDoc) (leaseDoc, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return leaseDoc{}, err
	}
	w := readstore.Write{Collection: leaseCollection, Doc: readstore.Doc{ID: l.name, Version: d.version(), Data: raw}}
	if err := l.reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{w}}); err != nil {
		return leaseDoc{}, err
	}
	return l.read(ctx)
}

// Current returns who holds the lease and until when ("" if nobody
// does).
func (l *Lease) Current(ctx context.Context) (holder string, until time.Time, err error) {
	d, err := l.read(ctx)
	if err != nil || l.now().After(d.ExpiresAt) {
		return "", time.Time{}, err
	}
	return d.Holder, d.ExpiresAt, nil
}

// Hold blocks until this process holds the lease, then returns a context
// that ends when it stops holding it (it could not renew in time, or ctx
// ended); it keeps renewing meanwhile. It returns ctx's error when ctx
// ends first.
func (l *Lease) Hold(ctx context.Context) (context.Context, error) {
	retry := l.ttl / 3
	for {
		d, err := l.read(ctx)
		if err == nil {
			now := l.now()
			switch {
			case d.Holder == l.holder:
				// Still ours, or ours until a renewal failed (a slow
				// store): nobody else can have run meanwhile, so take it
				// back at once rather than wait for it to expire.
				d.Renewal++
			case d.Holder == "" || now.After(d.ExpiresAt):
				d = leaseDoc{ID: l.name, Holder: l.holder, Term: d.Term + 1}
			default:
				d.Holder = "" // someone else's, and live
			}
			if d.Holder == l.holder {
				d.ExpiresAt = now.Add(l.ttl)
				won, err := l.write(ctx, d)
				if err == nil && won.Holder == l.holder && won.Term == d.Term {
					return l.keep(ctx, won), nil
				}
			}
		}
		if err != nil && ctx.Err() == nil {
			l.log.Warn("lease: could not read or take it; trying again", "lease", l.name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(retry):
		}
	}
}

// keep renews the lease in the background and returns a context that
// ends when it is lost.
func (l *Lease) keep(ctx context.Context, d leaseDoc) context.Context {
	held, cancel := context.WithCancel(ctx)
	l.log.Info("lease taken: this process runs the projections and reactions", "lease", l.name, "holder", l.holder, "term", d.Term)
	go func() {
		defer cancel()
		wait := l.ttl / 3
		for {
			// Renew at a third of the TTL; give up a third before expiry.
			// A renewal that fails (a slow store) is tried again soon,
			// until then.
			select {
			case <-held.Done():
				return
			case <-time.After(wait):
			}
			wait = l.ttl / 3
			deadline := d.ExpiresAt.Add(-l.ttl / 3)
			rctx, rcancel := context.WithDeadline(held, deadline)
			next := d
			next.Renewal++
			next.ExpiresAt = l.now().Add(l.ttl)
			won, err := l.write(rctx, next)
			rcancel()
			switch {
			case held.Err() != nil:
				return
			case err != nil && l.now().Before(deadline):
				l.log.Warn("lease: renewal failed; trying again", "lease", l.name, "err", err)
				wait = min(l.ttl/10, time.Second)
				continue
			case err != nil:
				l.log.Error("lease lost: it could not be renewed in time; projections and reactions stop here", "lease", l.name, "err", err)
				return
			case won.Holder != l.holder || won.Term != d.Term:
				l.log.Error("lease lost to another process; projections and reactions stop here", "lease", l.name, "holder", won.Holder)
				return
			}
			d = won
		}
	}()
	return held
}

// Release gives the lease up at once, so another process need not wait
// for it to expire (a graceful stop).
func (l *Lease) Release(ctx context.Context) error {
	d, err := l.read(ctx)
	if err != nil || d.Holder != l.holder {
		return err
	}
	d.Renewal++
	d.ExpiresAt = l.now().Add(-time.Second)
	_, err = l.write(ctx, d)
	return err
}
