package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"agentdesk/readstore"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// storedDoc is what reads decode.
type storedDoc struct {
	ID      string `bson:"_id"`
	Version string `bson:"_version"`
	Data    []byte `bson:"_data"`
}

func (d storedDoc) doc() readstore.Doc {
	return readstore.Doc{ID: d.ID, Version: d.Version, Data: json.RawMessage(d.Data)}
}

// readProjection leaves the derived field values on the server.
var readProjection = bson.D{{Key: fieldVersion, Value: 1}, {Key: fieldData, Value: 1}}

// Get returns the live document with the given id, or
// readstore.ErrNotFound.
func (s *Store) Get(ctx context.Context, collection, id string) (readstore.Doc, error) {
	t, _, err := s.declared(ctx, collection)
	if err != nil {
		return readstore.Doc{}, fmt.Errorf("get %s %q: %w", collection, id, err)
	}
	var d storedDoc
	err = t.coll.FindOne(ctx, bson.D{{Key: fieldID, Value: id}, {Key: fieldDeleted, Value: false}},
		options.FindOne().SetProjection(readProjection)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return readstore.Doc{}, fmt.Errorf("%w: %s %q", readstore.ErrNotFound, collection, id)
	}
	if err != nil {
		return readstore.Doc{}, fmt.Errorf("get %s %q: %w", collection, id, err)
	}
	return d.doc(), nil
}

// Query returns a page of live documents and, if q.Count, how many match
// in all. The query is checked with readstore.Check first and only its
// canonical form is translated, so every value reaches the server as a
// plain string, double or bool, never as an operator.
//
// The count is taken before the page, in a separate command (there is no
// snapshot across the two): while documents are only added, the page
// then never falls short of the total.
func (s *Store) Query(ctx context.Context, collection string, q readstore.Query) ([]readstore.Doc, int64, error) {
	t, c, err := s.declared(ctx, collection)
	if err != nil {
		return nil, 0, fmt.Errorf("query %s: %w", collection, err)
	}
	q, err = readstore.Check(c, q)
	if err != nil {
		return nil, 0, fmt.Errorf("query %s: %w", collection, err)
	}
	filter := buildFilter(c, q.Where)
	total := int64(-1)
	if q.Count {
		if total, err = t.coll.CountDocuments(ctx, filter); err != nil {
			return nil, 0, fmt.Errorf("query %s: count: %w", collection, err)
		}
	}
	opts := options.Find().SetSort(buildSort(q.Sort)).SetProjection(readProjection)
	if q.Skip > 0 {
		opts.SetSkip(int64(q.Skip))
	}
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	cur, err := t.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("query %s: %w", collection, err)
	}
	var rows []storedDoc
	if err := cur.All(ctx, &rows); err != nil {
		return nil, 0, fmt.Errorf("query %s: %w", collection, err)
	}
	docs := make([]readstore.Doc, len(rows))
	for i, r := range rows {
		docs[i] = r.doc()
	}
	return docs, total, nil
}

// buildFilter translates checked conditions. Fields are never stored as
// null, so "not set" is a missing field.
func buildFilter(c readstore.Collection, where []readstore.Condition) bson.D {
	filter := bson.D{{Key: fieldDeleted, Value: false}}
	if len(where) == 0 {
		return filter
	}
	// $and rather than one document keyed by field, so two conditions
	// on one field (a range) stay two conditions.
	and := make(bson.A, 0, len(where))
	for _, cond := range where {
		and = append(and, condition(c, cond))
	}
	return append(filter, bson.E{Key: "$and", Value: and})
}

var operators = map[readstore.Op]string{
	readstore.Eq: "$eq", readstore.Ne: "$ne", readstore.In: "$in",
	readstore.Gt: "$gt", readstore.Gte: "$gte", readstore.Lt: "$lt", readstore.Lte: "$lte",
}

func condition(c readstore.Collection, cond readstore.Condition) bson.D {
	if cond.Op == readstore.Text {
		// Every word must begin a word of some text field: a regex per
		// word, anchored at the start or after a character that is not a
		// letter or digit, which is how readstore.Words splits. The words
		// are quoted, so they match literally.
		words := cond.Value.([]string)
		and := make(bson.A, len(words))
		for i, w := range words {
			pattern := `(?:^|[^\p{L}\p{N}])` + regexp.QuoteMeta(w)
			or := make(bson.A, len(c.TextFields))
			for j, f := range c.TextFields {
				or[j] = bson.D{{Key: storedField(f), Value: bson.D{{Key: "$regex", Value: pattern}, {Key: "$options", Value: "i"}}}}
			}
			and[i] = bson.D{{Key: "$or", Value: or}}
		}
		return bson.D{{Key: "$and", Value: and}}
	}
	field := storedField(cond.Field)
	if cond.Value == nil {
		// Check lets nil through only with Eq ("not set") and Ne ("set").
		return bson.D{{Key: field, Value: bson.D{{Key: "$exists", Value: cond.Op == readstore.Ne}}}}
	}
	// Eq, Ne and In on a StringList match any element, which is what
	// MongoDB does with an array; Ne also matches a missing field.
	return bson.D{{Key: field, Value: bson.D{{Key: operators[cond.Op], Value: cond.Value}}}}
}

// buildSort orders by the sort keys and then by id in the direction of
// the last key (ascending without keys), so that pages are stable and a
// single-direction index can serve the whole order.
func buildSort(sorts []readstore.Sort) bson.D {
	order := make(bson.D, 0, len(sorts)+1)
	dir, byID := 1, false
	for _, s := range sorts {
		dir = 1
		if s.Desc {
			dir = -1
		}
		key := storedField(s.Field)
		if slices.ContainsFunc(order, func(e bson.E) bool { return e.Key == key }) {
			continue // a repeated key adds nothing, and a sort document cannot repeat it
		}
		order = append(order, bson.E{Key: key, Value: dir})
		byID = byID || s.Field == "id"
	}
	if !byID {
		order = append(order, bson.E{Key: fieldID, Value: dir})
	}
	return order
}
