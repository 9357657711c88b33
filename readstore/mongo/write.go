package mongo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"agentdesk/readstore"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// maxStatements is the most statements one write command carries.
// FerretDB v1 hangs a database for good on an update command that matches
// 100 or more existing documents (measured), and an upsert chunk may match
// every one of its documents.
const maxStatements = 99

// storedField is the MongoDB field of a declared field.
func storedField(name string) string {
	if name == "id" {
		return fieldID
	}
	return name
}

// docCodec turns writes into stored documents under one declaration.
type docCodec struct {
	fields []readstore.Field
}

func newDocCodec(c readstore.Collection) docCodec {
	return docCodec{fields: c.Fields}
}

// encode returns the stored document for w, without its _id (an upsert
// takes it from the filter). A document whose data is not a JSON object,
// or whose declared field holds the wrong JSON type, is refused: that is
// a projector bug, and storing it would make the field silently
// unqueryable.
func (dc docCodec) encode(w readstore.Write) (bson.D, error) {
	if w.Doc.ID == "" {
		return nil, errors.New("empty id")
	}
	if w.Delete {
		return bson.D{{Key: fieldVersion, Value: w.Doc.Version}, {Key: fieldDeleted, Value: true}}, nil
	}
	data := bytes.TrimSpace(w.Doc.Data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errors.New("data is not a JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("data is not a JSON object: %w", err)
	}
	doc := make(bson.D, 0, 3+len(dc.fields))
	doc = append(doc,
		bson.E{Key: fieldVersion, Value: w.Doc.Version},
		bson.E{Key: fieldDeleted, Value: false},
		// A copy: the caller may reuse its buffer once Apply returns,
		// and the driver encodes later.
		bson.E{Key: fieldData, Value: bson.Binary{Data: bytes.Clone(w.Doc.Data)}})
	for _, f := range dc.fields {
		raw, ok := top[f.Name]
		if !ok {
			continue
		}
		v, err := fieldValue(f, raw)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.Name, err)
		}
		if v != nil {
			doc = append(doc, bson.E{Key: f.Name, Value: v})
		}
	}
	return doc, nil
}

// fieldValue converts a declared field's raw JSON to its stored value, or
// nil for JSON null (stored as absent, so "not set" is one thing).
func fieldValue(f readstore.Field, raw json.RawMessage) (any, error) {
	t := f.Type
	if string(raw) == "null" {
		return nil, nil
	}
	bad := fmt.Errorf("want %s, got %.40s", t, raw)
	switch t {
	case readstore.String:
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return nil, bad
		}
		return s, nil
	case readstore.Number:
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return nil, bad
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, bad
		}
		return f, nil
	case readstore.Bool:
		switch string(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, bad
	case readstore.Time:
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return nil, bad
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("want an RFC 3339 time: %w", err)
		}
		return readstore.TimeKey(tm), nil
	case readstore.Enum:
		// Stored as its rank, so that comparisons and sorts follow the
		// domain order of the values.
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return nil, bad
		}
		rank, ok := f.Rank(s)
		if !ok {
			return nil, fmt.Errorf("%q is not one of %s", s, strings.Join(f.Values, ", "))
		}
		return float64(rank), nil
	case readstore.StringList:
		var list []*string
		if raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
			return nil, bad
		}
		out := make(bson.A, len(list))
		for i, s := range list {
			if s == nil {
				return nil, fmt.Errorf("want %s, got null at index %d", t, i)
			}
			out[i] = *s
		}
		return out, nil
	}
	return nil, bad
}

// statement is one encoded write.
type statement struct {
	id      string
	version string
	doc     bson.D
}

// run is a batch's statements for one generation, in batch order.
type run struct {
	coll  *mongo.Collection
	stmts []statement
}

// applyStats counts what Apply did with a batch's writes.
type applyStats struct {
	// written counts the writes that landed.
	written int
	// skipped counts the writes whose version was not above the stored
	// one. Against FerretDB, which reports every failed statement of a
	// bulk write at index 0, a write that landed just before a racing
	// writer's may be counted here rather than in written.
	skipped int
}

// Apply writes the batch's documents, each under its version guard, and
// then its checkpoint. Every write is checked (collection ensured, data a
// JSON object of the declared types) before any is sent. On an error some
// writes may have landed and the checkpoint has not moved.
func (s *Store) Apply(ctx context.Context, b readstore.Batch) error {
	_, err := s.apply(ctx, b)
	return err
}

func (s *Store) apply(ctx context.Context, b readstore.Batch) (applyStats, error) {
	var stats applyStats
	if s.closed.Load() {
		return stats, readstore.ErrClosed
	}
	runs, err := s.encodeBatch(ctx, b.Writes)
	if err != nil {
		return stats, fmt.Errorf("apply: %w", err)
	}
	for _, r := range runs {
		for start := 0; start < len(r.stmts); start += maxStatements {
			chunk := r.stmts[start:min(start+maxStatements, len(r.stmts))]
			if err := s.writeChunk(ctx, r.coll, chunk, &stats); err != nil {
				return stats, fmt.Errorf("apply to %s: %w", r.coll.Name(), err)
			}
		}
	}
	if b.Checkpoint != nil {
		if err := s.writeCheckpoint(ctx, *b.Checkpoint); err != nil {
			return stats, fmt.Errorf("apply checkpoint %s: %w", b.Checkpoint.Name, err)
		}
	}
	return stats, nil
}

// encodeBatch resolves and encodes every write, grouping the writes by
// generation. Writes to different generations touch different documents,
// so grouping them changes no outcome, and a batch that alternates
// between collections (a ticket and its comments) still goes out in
// chunks of up to 99 rather than one command per switch.
func (s *Store) encodeBatch(ctx context.Context, writes []readstore.Write) ([]run, error) {
	type resolved struct {
		dc  docCodec
		run int // index in runs
	}
	seen := map[string]resolved{} // by the name the write gives
	runOf := map[string]int{}     // by MongoDB collection: two names may address one generation
	var runs []run
	for i, w := range writes {
		r, ok := seen[w.Collection]
		if !ok {
			t, c, err := s.declared(ctx, w.Collection)
			if err != nil {
				return nil, fmt.Errorf("write %d: %w", i, err)
			}
			ri, ok := runOf[t.coll.Name()]
			if !ok {
				ri = len(runs)
				runOf[t.coll.Name()] = ri
				runs = append(runs, run{coll: t.coll})
			}
			r = resolved{dc: newDocCodec(c), run: ri}
			seen[w.Collection] = r
		}
		doc, err := r.dc.encode(w)
		if err != nil {
			return nil, fmt.Errorf("write %d (%s %q): %w", i, w.Collection, w.Doc.ID, err)
		}
		runs[r.run].stmts = append(runs[r.run].stmts, statement{id: w.Doc.ID, version: w.Doc.Version, doc: doc})
	}
	return runs, nil
}

// writeChunk writes at most maxStatements statements. It reads the
// stored versions of their ids in one query and drops the statements
// those make stale, so that replaying a batch costs one read rather than
// a failed command per write. It sends the rest as one ordered bulk
// write: first an insert of each id not stored yet, then a guarded upsert
// (filtered on {_id, _version: {$lt: new}}) of every other statement, in
// batch order. Statements on different ids commute, so only the order per
// id matters, and an insert needs no lookup: on FerretDB, which scans the
// collection for every _id filter, this makes a catch-up of new
// documents several times faster.
//
// A duplicate-key error means another writer stored the id since the
// read: an insert met the new document, or an upsert found no document
// below its version and tried to insert. The bulk write stopped there;
// the statements before it landed, and the loop reads the versions again
// and goes on from the one that failed, which is then dropped as stale or
// sent again as an upsert.
func (s *Store) writeChunk(ctx context.Context, coll *mongo.Collection, chunk []statement, stats *applyStats) error {
	pending := chunk
	var stoppedAt string // the statement the last bulk write stopped at
	for {
		send, inserts, err := s.plan(ctx, coll, pending, stats)
		if err != nil {
			return err
		}
		if len(send) == 0 {
			return nil
		}
		if s.testHookBeforeWrite != nil {
			ids := make([]string, len(send))
			for i, st := range send {
				ids[i] = st.id
			}
			s.testHookBeforeWrite(ctx, coll.Name(), ids)
		}
		models := make([]mongo.WriteModel, len(send))
		for i, st := range send {
			if i < inserts {
				doc := append(bson.D{{Key: fieldID, Value: st.id}}, st.doc...)
				models[i] = mongo.NewInsertOneModel().SetDocument(doc)
				continue
			}
			models[i] = mongo.NewReplaceOneModel().
				SetFilter(bson.D{{Key: fieldID, Value: st.id}, {Key: fieldVersion, Value: bson.D{{Key: "$lt", Value: st.version}}}}).
				SetReplacement(st.doc).
				SetUpsert(true)
		}
		_, werr := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true))
		if werr == nil {
			stats.written += len(send)
			return nil
		}
		failed, ok := duplicateAt(werr, len(send))
		if !ok {
			return werr
		}
		// The statements before the failed one landed. (FerretDB reports
		// index 0 for any failed upsert; those that landed after it are
		// dropped by the next read as stale.)
		stats.written += failed
		pending = send[failed:]
		stop := fmt.Sprintf("%s\x00%s\x00%t", pending[0].id, pending[0].version, failed < inserts)
		if stop == stoppedAt {
			// Twice in a row, and its stored version does not make it
			// stale: the key clash is something else (a document this
			// store did not write), and it would fail forever.
			return fmt.Errorf("write %q: %w", pending[0].id, werr)
		}
		stoppedAt = stop
	}
}

// duplicateAt returns the index of the statement a bulk write of n
// statements stopped at, if it stopped on a duplicate key and nothing
// else.
func duplicateAt(err error, n int) (int, bool) {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) != 1 {
		return 0, false
	}
	we := bwe.WriteErrors[0]
	if we.Code != codeDuplicateKey || we.Index < 0 || we.Index >= n {
		return 0, false
	}
	return we.Index, true
}

// plan drops the statements whose version is not above the stored one
// (or an earlier statement's on the same id), counting them as skipped,
// and orders the rest: first the inserts, one per id not stored, then
// the others in their order.
func (s *Store) plan(ctx context.Context, coll *mongo.Collection, stmts []statement, stats *applyStats) (send []statement, inserts int, err error) {
	ids := make([]string, 0, len(stmts))
	seen := make(map[string]bool, len(stmts))
	for _, st := range stmts {
		if !seen[st.id] {
			seen[st.id] = true
			ids = append(ids, st.id)
		}
	}
	cur, err := coll.Find(ctx, bson.D{{Key: fieldID, Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: fieldVersion, Value: 1}}))
	if err != nil {
		return nil, 0, fmt.Errorf("read versions: %w", err)
	}
	var rows []storedDoc
	if err := cur.All(ctx, &rows); err != nil {
		return nil, 0, fmt.Errorf("read versions: %w", err)
	}
	stored := make(map[string]string, len(rows))
	for _, r := range rows {
		stored[r.ID] = r.Version
	}
	var updates []statement
	for _, st := range stmts {
		v, ok := stored[st.id]
		switch {
		case !ok:
			send = append(send, st)
		case st.version <= v:
			stats.skipped++
			continue
		default:
			updates = append(updates, st)
		}
		stored[st.id] = st.version
	}
	return append(send, updates...), len(send), nil
}

// writeCheckpoint stores a position unless a position at or above it is
// stored: a checkpoint never moves backwards (positions compare byte by
// byte, like versions).
func (s *Store) writeCheckpoint(ctx context.Context, cp readstore.Checkpoint) error {
	_, err := s.db.Collection(checkpointsColl).ReplaceOne(ctx,
		bson.D{{Key: fieldID, Value: cp.Name}, {Key: "position", Value: bson.D{{Key: "$lt", Value: cp.Position}}}},
		bson.D{{Key: "position", Value: cp.Position}},
		options.Replace().SetUpsert(true))
	if err != nil && !isCode(err, codeDuplicateKey) {
		return err
	}
	return nil
}

// Checkpoint returns the stored position of the named projection, or "".
func (s *Store) Checkpoint(ctx context.Context, name string) (string, error) {
	if s.closed.Load() {
		return "", readstore.ErrClosed
	}
	var row struct {
		Position string `bson:"position"`
	}
	err := s.db.Collection(checkpointsColl).FindOne(ctx, bson.D{{Key: fieldID, Value: name}}).Decode(&row)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return row.Position, nil
}
