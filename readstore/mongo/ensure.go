package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"agentdesk/readstore"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// layoutVersion changes when the way documents are stored changes; Ensure
// rewrites a generation stored under another layout.
const layoutVersion = 1

// declDoc is a generation's declaration as stored in collectionsColl.
type declDoc struct {
	Key     string      `bson:"_id"`
	Layout  int         `bson:"layout"`
	Fields  []declField `bson:"fields"`
	Indexes []declIndex `bson:"indexes"`
	Text    []string    `bson:"text"`
}

// declIndex wraps an index's fields in a document: FerretDB stores no
// arrays directly inside arrays.
type declIndex struct {
	Fields []string `bson:"fields"`
}

// declField stores the type by name, not by its Go constant's value.
type declField struct {
	Name string `bson:"name"`
	Type string `bson:"type"`
}

var fieldTypes = []readstore.FieldType{readstore.String, readstore.Number, readstore.Bool, readstore.Time, readstore.StringList, readstore.Enum}

// enumPrefix starts the stored type of an Enum, followed by its values in
// order, so that a declaration with reordered values differs.
const enumPrefix = "enum:"

// storedType is how a declaration stores a field's type.
func storedType(f readstore.Field) string {
	if f.Type == readstore.Enum {
		return enumPrefix + strings.Join(f.Values, ",")
	}
	return f.Type.String()
}

func toDeclDoc(key string, c readstore.Collection) declDoc {
	d := declDoc{Key: key, Layout: layoutVersion, Text: c.TextFields}
	for _, idx := range c.Indexes {
		d.Indexes = append(d.Indexes, declIndex{Fields: idx})
	}
	for _, f := range c.Fields {
		d.Fields = append(d.Fields, declField{Name: f.Name, Type: storedType(f)})
	}
	return d
}

func (d declDoc) collection() (readstore.Collection, error) {
	c := readstore.Collection{Name: d.Key, TextFields: d.Text}
	for _, idx := range d.Indexes {
		c.Indexes = append(c.Indexes, idx.Fields)
	}
	for _, f := range d.Fields {
		if values, ok := strings.CutPrefix(f.Type, enumPrefix); ok {
			c.Fields = append(c.Fields, readstore.Field{Name: f.Name, Type: readstore.Enum, Values: strings.Split(values, ",")})
			continue
		}
		i := slices.IndexFunc(fieldTypes, func(t readstore.FieldType) bool { return t.String() == f.Type })
		if i < 0 {
			return readstore.Collection{}, fmt.Errorf("stored declaration of %s: field %q has unknown type %q", d.Key, f.Name, f.Type)
		}
		c.Fields = append(c.Fields, readstore.Field{Name: f.Name, Type: fieldTypes[i]})
	}
	return c, nil
}

// readDecl returns the stored declaration of a generation, and whether
// there is one.
func (s *Store) readDecl(ctx context.Context, key string) (readstore.Collection, bool, error) {
	d, ok, err := s.readDeclDoc(ctx, key)
	if err != nil || !ok {
		return readstore.Collection{}, false, err
	}
	c, err := d.collection()
	return c, err == nil, err
}

func (s *Store) readDeclDoc(ctx context.Context, key string) (declDoc, bool, error) {
	var d declDoc
	err := s.db.Collection(collectionsColl).FindOne(ctx, bson.D{{Key: fieldID, Value: key}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return declDoc{}, false, nil
	}
	if err != nil {
		return declDoc{}, false, fmt.Errorf("read declaration of %s: %w", key, err)
	}
	return d, true, nil
}

// Ensure creates the generation c.Name addresses (the live one for a
// plain name) with its indexes, or brings an existing one in line with
// c: when the declared fields differ from the stored declaration, every
// live document's field values are derived again from its stored JSON,
// so a field declared later is queryable for documents written before
// (this rewrites the whole collection, 99 documents per command); indexes
// that are no longer declared are dropped and new ones built. The
// declaration is stored last, so an Ensure cut short is redone in full by
// the next one.
func (s *Store) Ensure(ctx context.Context, c readstore.Collection) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("ensure %s: %w", c.Name, err)
	}
	t, err := s.resolve(ctx, c.Name)
	if err != nil {
		return fmt.Errorf("ensure %s: %w", c.Name, err)
	}
	decl := c
	decl.Name = t.key
	if err := s.ensure(ctx, t, decl); err != nil {
		return fmt.Errorf("ensure %s: %w", t.key, err)
	}
	s.declMu.Lock()
	s.decls[t.key] = decl
	s.declMu.Unlock()
	return nil
}

func (s *Store) ensure(ctx context.Context, t target, c readstore.Collection) error {
	if err := s.db.CreateCollection(ctx, t.coll.Name()); err != nil && !isCode(err, codeNamespaceExists) {
		return fmt.Errorf("create collection: %w", err)
	}
	old, ok, err := s.readDeclDoc(ctx, t.key)
	if err != nil {
		return err
	}
	want := toDeclDoc(t.key, c)
	if !ok || old.Layout != want.Layout || !sameFields(old.Fields, want.Fields) {
		if err := s.rederive(ctx, t.coll, c); err != nil {
			return err
		}
	}
	if err := syncIndexes(ctx, t.coll, c); err != nil {
		return err
	}
	_, err = s.db.Collection(collectionsColl).ReplaceOne(ctx, bson.D{{Key: fieldID, Value: t.key}}, want, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store declaration: %w", err)
	}
	return nil
}

// sameFields reports whether two declarations have the same fields, in
// any order: the stored values depend on nothing else.
func sameFields(a, b []declField) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !slices.Contains(b, f) {
			return false
		}
	}
	return true
}

// Server error codes the store handles.
const (
	codeNamespaceExists = 48
	codeDuplicateKey    = 11000
)

// rederive rewrites every live document of coll from its stored JSON
// under declaration c. Each replacement is guarded by the version it was
// read at, so a write that lands meanwhile is never undone. Documents are
// read a page at a time in id order rather than through one long cursor,
// so that no cursor stays open across the writes.
func (s *Store) rederive(ctx context.Context, coll *mongo.Collection, c readstore.Collection) error {
	dc := newDocCodec(c)
	last := ""
	for {
		filter := bson.D{{Key: fieldDeleted, Value: false}, {Key: fieldID, Value: bson.D{{Key: "$gt", Value: last}}}}
		cur, err := coll.Find(ctx, filter, options.Find().
			SetSort(bson.D{{Key: fieldID, Value: 1}}).
			SetLimit(maxStatements).
			SetProjection(bson.D{{Key: fieldVersion, Value: 1}, {Key: fieldData, Value: 1}}))
		if err != nil {
			return fmt.Errorf("rederive fields: %w", err)
		}
		var page []storedDoc
		if err := cur.All(ctx, &page); err != nil {
			return fmt.Errorf("rederive fields: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		models := make([]mongo.WriteModel, len(page))
		for i, d := range page {
			doc, err := dc.encode(readstore.Write{Doc: readstore.Doc{ID: d.ID, Version: d.Version, Data: d.Data}})
			if err != nil {
				return fmt.Errorf("rederive document %q: %w", d.ID, err)
			}
			models[i] = mongo.NewReplaceOneModel().
				SetFilter(bson.D{{Key: fieldID, Value: d.ID}, {Key: fieldVersion, Value: d.Version}}).
				SetReplacement(doc)
		}
		if _, err := coll.BulkWrite(ctx, models); err != nil {
			return fmt.Errorf("rederive fields: %w", err)
		}
		last = page[len(page)-1].ID
	}
}

// indexPrefix marks the indexes Ensure manages.
const indexPrefix = "rsx__"

// index is a managed index.
type index struct {
	name string
	keys bson.D
}

// wantIndexes returns the declared indexes. Each starts with _deleted,
// which every query pins to false, so the declared keys after it still
// serve equality, range and sort, and a count over them never touches a
// tombstone; each ends with _id, the tie-breaker of every sort. Field
// names cannot contain "__", so two indexes cannot share a name.
func wantIndexes(c readstore.Collection) []index {
	var want []index
	for _, idx := range c.Indexes {
		keys := bson.D{{Key: fieldDeleted, Value: 1}}
		hasID := false
		for _, f := range idx {
			keys = append(keys, bson.E{Key: storedField(f), Value: 1})
			hasID = hasID || f == "id"
		}
		if !hasID {
			keys = append(keys, bson.E{Key: fieldID, Value: 1})
		}
		want = append(want, index{name: indexPrefix + strings.Join(idx, "__"), keys: keys})
	}
	return want
}

// syncIndexes drops the managed indexes c no longer declares (or whose
// keys changed) and creates the missing ones. It sends only the missing
// ones: FerretDB v1 drops the connection (a panic in its handler) on a
// createIndexes naming several indexes that all exist.
func syncIndexes(ctx context.Context, coll *mongo.Collection, c readstore.Collection) error {
	want := wantIndexes(c)
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	have := map[string]bool{}
	for _, spec := range specs {
		if !strings.HasPrefix(spec.Name, indexPrefix) {
			continue
		}
		i := slices.IndexFunc(want, func(i index) bool { return i.name == spec.Name })
		if i >= 0 && sameKeys(spec.KeysDocument, want[i].keys) {
			have[spec.Name] = true
			continue
		}
		if err := coll.Indexes().DropOne(ctx, spec.Name); err != nil {
			return fmt.Errorf("drop index %s: %w", spec.Name, err)
		}
	}
	var models []mongo.IndexModel
	for _, idx := range want {
		if !have[idx.name] {
			models = append(models, mongo.IndexModel{Keys: idx.keys, Options: options.Index().SetName(idx.name)})
		}
	}
	if len(models) == 0 {
		return nil
	}
	if _, err := coll.Indexes().CreateMany(ctx, models); err != nil {
		return fmt.Errorf("create indexes: %w", err)
	}
	return nil
}

// sameKeys reports whether an index's key document lists the fields of
// want in order, all ascending.
func sameKeys(have bson.Raw, want bson.D) bool {
	elems, err := have.Elements()
	if err != nil || len(elems) != len(want) {
		return false
	}
	for i, e := range elems {
		n, ok := e.Value().AsInt64OK()
		if e.Key() != want[i].Key || !ok || n != 1 {
			return false
		}
	}
	return true
}

// Drop deletes the generation the name addresses and its stored
// declaration. The collection goes even if this process never ensured it;
// dropping a missing one is not an error. Dropping the live generation
// leaves the plain name unusable until it is ensured again or switched.
func (s *Store) Drop(ctx context.Context, collection string) error {
	t, err := s.resolve(ctx, collection)
	if err != nil {
		return fmt.Errorf("drop %s: %w", collection, err)
	}
	s.declMu.Lock()
	delete(s.decls, t.key)
	s.declMu.Unlock()
	if err := t.coll.Drop(ctx); err != nil {
		return fmt.Errorf("drop %s: %w", t.key, err)
	}
	if _, err := s.db.Collection(collectionsColl).DeleteOne(ctx, bson.D{{Key: fieldID, Value: t.key}}); err != nil {
		return fmt.Errorf("drop %s: forget declaration: %w", t.key, err)
	}
	return nil
}
