package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"

	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Difference is a document that differs between the live read model and
// a fresh replay of the log.
type Difference struct {
	ID string `json:"id"`
	// Live and Rebuilt are the two documents; null where one is missing.
	Live    json.RawMessage `json:"live"`
	Rebuilt json.RawMessage `json:"rebuilt"`
	// Fields are the top-level fields whose values differ.
	Fields []string `json:"fields"`
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	Projection string `json:"projection"`
	// Position is where both were compared.
	Position string `json:"position"`
	// Documents counts the documents compared (those of either side).
	Documents int `json:"documents"`
	// Differences are the first differences, by id; More says there were
	// more than MaxDifferences.
	Differences []Difference `json:"differences"`
	More        bool         `json:"more"`
	Took        string       `json:"took"`
}

// verifyGeneration is the generation a verification builds into: out of
// the way of the live generation and of any rebuild.
const verifyGeneration = 1_000_000

// maxCandidates bounds the documents the first pass sets aside to look at
// again.
const maxCandidates = 10_000

// Verify replays the whole log for projection name into a scratch
// generation and compares it with the live read model, document by
// document; it returns up to maxDiffs differences. The live projection
// keeps running: documents that differ in the first pass, which runs
// alongside it, are compared again with the live projection paused
// between two batches and the scratch generation brought to the same
// position, so a write landing meanwhile is no difference. The scratch
// generation is dropped at the end.
func (r *Runner) Verify(ctx context.Context, name string, maxDiffs int) (VerifyResult, error) {
	start := time.Now()
	t, ok := r.tracks[name]
	if !ok {
		return VerifyResult{}, fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	if maxDiffs <= 0 {
		maxDiffs = 10
	}
	live := t.p.Collection().Name
	scratch := readstore.Generation(live, verifyGeneration)
	if err := r.reads.Drop(ctx, scratch); err != nil {
		return VerifyResult{}, err
	}
	defer func() {
		if err := r.reads.Drop(context.WithoutCancel(ctx), scratch); err != nil {
			r.log.Warn("could not drop a verification's scratch generation", "collection", scratch, "err", err)
		}
	}()
	c := t.p.Collection()
	c.Name = scratch
	if err := r.reads.Ensure(ctx, c); err != nil {
		return VerifyResult{}, err
	}
	var finish func(context.Context) error
	if bl, ok := r.reads.(bulkLoader); ok {
		var err error
		if finish, err = bl.BeginBulk(ctx, scratch); err != nil {
			return VerifyResult{}, err
		}
	}
	p := retargeted{Projector: t.p, from: live, to: scratch}
	rs := renamed{Store: r.reads, from: live, to: scratch}
	var pos eventstore.Position
	applyTo := func(ctx context.Context, b eventstore.Batch) error {
		last := batchEnd(b)
		if last.Compare(pos) <= 0 {
			return nil
		}
		if events := t.unskipped(b.Events); len(events) > 0 {
			writes, err := p.Fold(ctx, rs, events)
			if err != nil {
				return err
			}
			if err := r.reads.Apply(ctx, readstore.Batch{Writes: writes}); err != nil {
				return err
			}
		}
		pos = last
		return nil
	}
	// Catch up with the log as it was when the replay caught up.
	err := r.consume(ctx, eventstore.Start, t.p.Filter(), 0, func(ctx context.Context, b eventstore.Batch) error {
		if err := applyTo(ctx, b); err != nil {
			return err
		}
		if b.CaughtUp {
			return errStop
		}
		return nil
	})
	if err != nil {
		return VerifyResult{}, fmt.Errorf("replay %s: %w", name, err)
	}
	if finish != nil {
		if err := finish(ctx); err != nil {
			return VerifyResult{}, err
		}
	}

	// The live read model must have seen at least as much of the log.
	if err := r.Wait(ctx, name, pos); err != nil {
		return VerifyResult{}, err
	}

	// First pass, beside the live projection: every id whose documents
	// differ is a candidate.
	var candidates []string
	docs := 0
	err = mergeByID(ctx, r.reads, live, scratch, func(id string, a, b *readstore.Doc) error {
		docs++
		if a != nil && b != nil && sameJSON(a.Data, b.Data) {
			return nil
		}
		if len(candidates) < maxCandidates {
			candidates = append(candidates, id)
		}
		return nil
	})
	if err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{Projection: name, Documents: docs, Differences: []Difference{}}

	// Second pass: the live projection paused, the replay brought level
	// with it, each candidate compared again.
	t.applyMu.Lock()
	defer t.applyMu.Unlock()
	target := t.pos()
	if pos.Compare(target) < 0 {
		err := r.consume(ctx, pos, t.p.Filter(), 0, func(ctx context.Context, b eventstore.Batch) error {
			if err := applyTo(ctx, b); err != nil {
				return err
			}
			if pos.Compare(target) >= 0 {
				return errStop
			}
			return nil
		})
		if err != nil {
			return VerifyResult{}, fmt.Errorf("replay %s: %w", name, err)
		}
	}
	res.Position = target.String()
	for _, id := range candidates {
		a, errA := r.reads.Get(ctx, live, id)
		b, errB := r.reads.Get(ctx, scratch, id)
		d := Difference{ID: id}
		switch {
		case errA == nil && errB == nil:
			if sameJSON(a.Data, b.Data) {
				continue
			}
			d.Live, d.Rebuilt, d.Fields = a.Data, b.Data, diffFields(a.Data, b.Data)
		case errA == nil:
			d.Live, d.Rebuilt = a.Data, json.RawMessage("null")
		case errB == nil:
			d.Live, d.Rebuilt = json.RawMessage("null"), b.Data
		default:
			continue // gone from both meanwhile
		}
		if len(res.Differences) == maxDiffs {
			res.More = true
			break
		}
		res.Differences = append(res.Differences, d)
	}
	res.Took = time.Since(start).Round(time.Millisecond).String()
	return res, nil
}

// mergeByID walks two collections in id order together and calls fn for
// each id found in either, with the document of each side or nil.
func mergeByID(ctx context.Context, rs readstore.Store, left, right string, fn func(id string, a, b *readstore.Doc) error) error {
	const page = 1000
	next := func(collection, after string) ([]readstore.Doc, error) {
		q := readstore.Query{Limit: page}
		if after != "" {
			q.Where = []readstore.Condition{{Field: "id", Op: readstore.Gt, Value: after}}
		}
		docs, _, err := rs.Query(ctx, collection, q)
		return docs, err
	}
	var as, bs []readstore.Doc
	var lastA, lastB string
	doneA, doneB := false, false
	for {
		if len(as) == 0 && !doneA {
			var err error
			if as, err = next(left, lastA); err != nil {
				return err
			}
			doneA = len(as) < page
		}
		if len(bs) == 0 && !doneB {
			var err error
			if bs, err = next(right, lastB); err != nil {
				return err
			}
			doneB = len(bs) < page
		}
		switch {
		case len(as) == 0 && len(bs) == 0:
			return nil
		case len(bs) == 0 || (len(as) > 0 && as[0].ID < bs[0].ID):
			if err := fn(as[0].ID, &as[0], nil); err != nil {
				return err
			}
			lastA, as = as[0].ID, as[1:]
		case len(as) == 0 || bs[0].ID < as[0].ID:
			if err := fn(bs[0].ID, nil, &bs[0]); err != nil {
				return err
			}
			lastB, bs = bs[0].ID, bs[1:]
		default:
			if err := fn(as[0].ID, &as[0], &bs[0]); err != nil {
				return err
			}
			lastA, lastB, as, bs = as[0].ID, bs[0].ID, as[1:], bs[1:]
		}
	}
}

// sameJSON reports whether two documents hold the same values, whatever
// their key order or spacing.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

// diffFields names the top-level fields whose values differ.
func diffFields(a, b []byte) []string {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return nil
	}
	var out []string
	for k, v := range x {
		if w, ok := y[k]; !ok || !reflect.DeepEqual(v, w) {
			out = append(out, k)
		}
	}
	for k := range y {
		if _, ok := x[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
