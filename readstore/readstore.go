// Package readstore defines the store of read models: collections of JSON
// documents with declared, typed, indexed fields that the query API filters,
// sorts and pages on. It holds the Store contract, the query rules every
// backend shares (Check validates and coerces a query once; a backend only
// translates the result), and the embedded SQLite implementation. The
// MongoDB implementation is in the subpackage mongo, and the acceptance
// suite every implementation passes in readstoretest.
//
// Read models are derived data: projectors write them in batches, every
// write guarded by the document's version so that applying a batch twice
// is harmless, and the batch's checkpoint written after its documents. Any
// collection can be thrown away and rebuilt from the event log, into a new
// generation while the live one keeps serving (see Generation).
package readstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors returned by every Store. Callers test them with errors.Is.
var (
	// ErrNotFound means no document has the id asked for.
	ErrNotFound = errors.New("document not found")
	// ErrUnknownField means a query names a field the collection does not
	// declare; such queries never reach the database.
	ErrUnknownField = errors.New("unknown field")
	// ErrInvalidQuery means a query is malformed (bad operator, a value of
	// the wrong type, a negative limit).
	ErrInvalidQuery = errors.New("invalid query")
	// ErrUnknownCollection means a collection was used before Ensure.
	ErrUnknownCollection = errors.New("unknown collection")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("read store closed")
)

// FieldType is the type of a declared field; it decides how values are
// compared and sorted.
type FieldType int

// Field types.
const (
	// String compares as text.
	String FieldType = iota
	// Number compares numerically (JSON numbers).
	Number
	// Bool is true or false.
	Bool
	// Time is an RFC 3339 timestamp; compares chronologically.
	Time
	// StringList is a JSON array of strings; Eq and In match if any
	// element matches.
	StringList
	// Enum is a string from the field's Values, which are in domain
	// order: it compares and sorts by its place in that list (priority
	// low < normal < high < urgent), not alphabetically.
	Enum
)

// String names the type.
func (t FieldType) String() string {
	switch t {
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	case Time:
		return "time"
	case StringList:
		return "string list"
	case Enum:
		return "enum"
	}
	return fmt.Sprintf("FieldType(%d)", int(t))
}

// Field declares a top-level document field that can be filtered and sorted on.
type Field struct {
	Name string
	Type FieldType
	// Values are an Enum field's values in domain order.
	Values []string
}

// Rank returns the place of an Enum value in f.Values, or false.
func (f Field) Rank(value string) (int, bool) {
	for i, v := range f.Values {
		if v == value {
			return i, true
		}
	}
	return 0, false
}

// Collection declares a collection: its fields, the composite indexes
// that make its common queries fast, and the fields text search looks in.
type Collection struct {
	// Name is the collection's name: lower-case letters, digits and '_'.
	Name string
	// Fields are the queryable top-level fields. "id" is always queryable.
	Fields []Field
	// Indexes are lists of field names, each one composite index.
	Indexes [][]string
	// TextFields are String fields searched by the Text operator.
	TextFields []string
	// Counts are groups of String, Enum or Bool fields, and at most one
	// StringList field (a document counts under each of its values),
	// whose exact totals a backend may keep as documents are written, so
	// that a counted query whose conditions are exactly equalities on one
	// group's fields costs a lookup rather than a scan. A backend that keeps no
	// counts counts as it always does; the result is the same.
	Counts [][]string
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Validate reports every problem with c, joined.
func (c Collection) Validate() error {
	var errs []error
	if _, _, err := SplitGeneration(c.Name); err != nil {
		errs = append(errs, err)
	}
	types := map[string]FieldType{}
	for _, f := range c.Fields {
		if !namePattern.MatchString(f.Name) || strings.Contains(f.Name, "__") || f.Name == "id" || f.Name == "version" || f.Name == "data" {
			errs = append(errs, fmt.Errorf("field name %q is not allowed", f.Name))
		}
		if _, dup := types[f.Name]; dup {
			errs = append(errs, fmt.Errorf("field %q declared twice", f.Name))
		}
		switch {
		case f.Type == Enum && len(f.Values) == 0:
			errs = append(errs, fmt.Errorf("enum field %q has no values", f.Name))
		case f.Type != Enum && len(f.Values) > 0:
			errs = append(errs, fmt.Errorf("field %q has values but is not an enum", f.Name))
		}
		for i, v := range f.Values {
			if v == "" || strings.ContainsAny(v, ",") || slices.Contains(f.Values[:i], v) {
				errs = append(errs, fmt.Errorf("enum field %q: value %q is empty, holds a comma or repeats", f.Name, v))
			}
		}
		types[f.Name] = f.Type
	}
	for _, idx := range c.Indexes {
		if len(idx) == 0 {
			errs = append(errs, errors.New("empty index"))
		}
		lists := 0
		for _, name := range idx {
			t, ok := types[name]
			if !ok && name != "id" {
				errs = append(errs, fmt.Errorf("index on undeclared field %q", name))
			}
			if ok && t == StringList {
				lists++
			}
		}
		if lists > 1 {
			// MongoDB refuses to index a document whose compound index
			// holds two arrays.
			errs = append(errs, fmt.Errorf("index %v holds more than one string list field", idx))
		}
	}
	for _, name := range c.TextFields {
		if t, ok := types[name]; !ok || t != String {
			errs = append(errs, fmt.Errorf("text field %q must be a declared string field", name))
		}
	}
	for _, group := range c.Counts {
		if len(group) == 0 {
			errs = append(errs, errors.New("empty count group"))
		}
		lists := 0
		for i, name := range group {
			t, ok := types[name]
			if !ok || (t != String && t != Enum && t != Bool && t != StringList) {
				errs = append(errs, fmt.Errorf("count group %v: %q must be a declared string, enum, bool or string list field", group, name))
			}
			if t == StringList {
				if lists++; lists > 1 {
					errs = append(errs, fmt.Errorf("count group %v holds more than one list field", group))
				}
			}
			if slices.Contains(group[:i], name) {
				errs = append(errs, fmt.Errorf("count group %v names %q twice", group, name))
			}
		}
	}
	return errors.Join(errs...)
}

// FieldType returns the type of the named field and whether it is declared.
func (c Collection) FieldType(name string) (FieldType, bool) {
	f, ok := c.Field(name)
	return f.Type, ok
}

// Field returns the declaration of the named field ("id" is a String).
func (c Collection) Field(name string) (Field, bool) {
	if name == "id" {
		return Field{Name: "id", Type: String}, true
	}
	for _, f := range c.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Doc is a stored document.
type Doc struct {
	// ID is unique within the collection.
	ID string
	// Version orders the writes to a document: a write whose Version is not
	// above the stored one (compared as strings, byte by byte) is ignored.
	// Projections use the key of the last event's global position; ""
	// sorts before every other version.
	Version string
	// Data is the document as a JSON object.
	Data json.RawMessage
}

// Op is a filter operator.
type Op string

// Filter operators.
const (
	Eq  Op = "eq"
	Ne  Op = "ne"
	In  Op = "in" // Value is a []any (or []string)
	Gt  Op = "gt"
	Gte Op = "gte"
	Lt  Op = "lt"
	Lte Op = "lte"
	// Text is a full-text search of the TextFields: every word of Value
	// (see Words) must begin a word of one of them, case-insensitively,
	// so "rep al" finds "Alpha report". Field is ignored.
	Text Op = "text"
)

// Condition is one filter term; a query's conditions are all required.
type Condition struct {
	Field string
	Op    Op
	Value any
}

// Sort orders results by a declared field.
type Sort struct {
	Field string
	Desc  bool
}

// Query selects, orders and pages documents.
type Query struct {
	Where []Condition
	// Sort is applied in order; ties are broken by id.
	Sort []Sort
	// Skip and Limit page the results; Limit 0 means no limit.
	Skip, Limit int
	// Count asks for the total number of matching documents, ignoring the page.
	Count bool
}

// Write is a change to one document in a batch.
type Write struct {
	Collection string
	// Doc is stored if its Version is above the stored one (or nothing is stored).
	Doc Doc
	// Delete removes the document instead, under the same version guard:
	// a tombstone keeps the version so a stale write cannot resurrect it.
	// The stores ignore a deletion's Doc.Data: a projector may leave the
	// document as it was there, for whoever is told of the write (the
	// realtime feed decides with it who may hear of the deletion).
	Delete bool
	// Created tells whoever is told of the write that no document was
	// stored before it (a deletion with Created removes a document that
	// nobody could read). The stores ignore it; a projector that cannot
	// tell leaves it false.
	Created bool
}

// Checkpoint is a projection's progress, stored after its batch.
type Checkpoint struct {
	Name string
	// Position is opaque to the store (projections store a position key).
	Position string
}

// Batch is a projection's unit of work: its writes, then its checkpoint.
// A batch need not be atomic. Every write is version-guarded, so when a
// batch is cut short (a crash, a failed chunk) and applied again from the
// old checkpoint, the writes that had landed are skipped and the rest land:
// the outcome is the same as one clean application.
type Batch struct {
	Writes     []Write
	Checkpoint *Checkpoint
}

// MaxIn is the most values an In condition may hold: beyond it a query
// would outgrow a backend's statement limits (SQLite's 32,766 variables).
const MaxIn = 1000

// Check validates q against collection c and returns it in canonical form,
// so that every backend applies the same rules and only translates:
//   - every field is declared (else ErrUnknownField), every operator known,
//     Skip and Limit not negative, sorts not on StringList fields (else
//     ErrInvalidQuery);
//   - every value is coerced to its field's canonical Go type: string for
//     String and StringList fields, float64 for Number and for Enum (the
//     value's rank in Values), bool for Bool, the TimeKey string for Time
//     (a date alone, 2006-01-02, is its midnight UTC); an In value becomes a []any of those (an
//     empty one matches nothing); a Text value becomes its Words, a
//     non-empty []string, and the collection has TextFields (a search
//     without words matches everything and is dropped; Field is cleared);
//   - a nil value with Eq means "not set" (missing or null), with Ne "set";
//     any other operator needs a value, and In's elements are never nil.
//
// Strings are accepted for every type because filters arrive from URLs.
func Check(c Collection, q Query) (Query, error) {
	return check(c, q)
}

// Store is a document store for read models. Implementations are safe for
// concurrent use and need no transactions.
//
// A collection name given to any method is either a plain name, which
// means the collection's live generation, or a name made by Generation,
// which means that generation whatever is live.
type Store interface {
	// Ensure creates the collection and its indexes if missing; it is
	// idempotent and adds missing fields and indexes on a later call.
	Ensure(ctx context.Context, c Collection) error
	// Get returns a document by id, or ErrNotFound.
	Get(ctx context.Context, collection, id string) (Doc, error)
	// Query returns the matching page and, if q.Count, the total number of
	// matching documents (else -1). A query that Check refuses returns
	// Check's error and never reaches the database. The total need not be
	// a snapshot with the page: without transactions (MongoDB) it is
	// counted by its own command, so a concurrent write may fall between.
	Query(ctx context.Context, collection string, q Query) (docs []Doc, total int64, err error)
	// Apply writes a batch's documents, each under its version guard, and
	// then, once they are all stored, its checkpoint. On an error some
	// writes may have landed and the checkpoint has not moved.
	Apply(ctx context.Context, b Batch) error
	// Checkpoint returns a projection's stored position, or "".
	Checkpoint(ctx context.Context, name string) (string, error)
	// LiveGeneration returns the generation served under the plain name:
	// 1 until SwitchGeneration is called.
	LiveGeneration(ctx context.Context, name string) (int, error)
	// SwitchGeneration makes generation gen (already ensured) the one
	// served under the plain name: for every reader of this process from
	// the next call on, and for other processes sharing the store within
	// the implementation's refresh interval (MongoDB: 2 s by default).
	SwitchGeneration(ctx context.Context, name string, gen int) error
	// Drop deletes a collection (the generation the name addresses) and
	// everything in it; dropping a missing one is not an error.
	Drop(ctx context.Context, collection string) error
	// Close releases the store.
	Close() error
}

// generationSep separates a collection's name from its generation; plain
// names may not contain it.
const generationSep = "__g"

// Generation returns the name that addresses generation gen of
// collection name, whether or not it is live; a gen below 1 gives the
// plain name, which addresses the live generation. Generation 1 is where
// a collection lives until it is first rebuilt: backends keep it in the
// plain name's own table or collection, so a store that has never been
// rebuilt keeps its data where it always was. (Generation 1 still needs
// a name of its own: once generation 2 is live, the plain name means 2,
// and generation 1 must stay addressable to be dropped.)
func Generation(name string, gen int) string {
	if gen < 1 {
		return name
	}
	return name + generationSep + strconv.Itoa(gen)
}

// SplitGeneration splits a collection name into its plain name and
// generation (0 when the name is plain, meaning "the live one"), or
// reports why it is not a valid collection name.
func SplitGeneration(collection string) (name string, gen int, err error) {
	name = collection
	if i := strings.Index(collection, generationSep); i >= 0 {
		n, convErr := strconv.Atoi(collection[i+len(generationSep):])
		if convErr != nil || n < 1 || strconv.Itoa(n) != collection[i+len(generationSep):] {
			return "", 0, fmt.Errorf("%w: collection name %q has a malformed generation", ErrUnknownCollection, collection)
		}
		name, gen = collection[:i], n
	}
	// The length limit is the plain name's (namePattern), so that every
	// generation of a valid name is valid too.
	if !namePattern.MatchString(name) || strings.Contains(name, "__") {
		return "", 0, fmt.Errorf("%w: collection name %q: want %s without \"__\"", ErrUnknownCollection, collection, namePattern)
	}
	return name, gen, nil
}

// TimeKey formats t the way stores keep Time fields: UTC with a fixed
// width, so that text order is chronological order.
func TimeKey(t time.Time) string { return t.UTC().Format(timeKeyLayout) }

// timeKeyLayout is TimeKey's layout.
const timeKeyLayout = "2006-01-02T15:04:05.000000000Z"
