// Package readstore defines the store of read models: collections of JSON
// documents with declared, typed, indexed fields that the query API filters,
// sorts and pages on. It holds the Store contract, an embedded SQLite
// implementation and an acceptance suite every implementation passes.
//
// Read models are derived data: projectors write them in batches, each
// batch together with its projection's checkpoint, and any collection can
// be thrown away and rebuilt from the event log.
package readstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
	}
	return fmt.Sprintf("FieldType(%d)", int(t))
}

// Field declares a top-level document field that can be filtered and sorted on.
type Field struct {
	Name string
	Type FieldType
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
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Validate reports every problem with c, joined.
func (c Collection) Validate() error {
	var errs []error
	if !namePattern.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("collection name %q: want %s", c.Name, namePattern))
	}
	types := map[string]FieldType{}
	for _, f := range c.Fields {
		if !namePattern.MatchString(f.Name) || f.Name == "id" || f.Name == "version" || f.Name == "data" {
			errs = append(errs, fmt.Errorf("field name %q is not allowed", f.Name))
		}
		if _, dup := types[f.Name]; dup {
			errs = append(errs, fmt.Errorf("field %q declared twice", f.Name))
		}
		types[f.Name] = f.Type
	}
	for _, idx := range c.Indexes {
		if len(idx) == 0 {
			errs = append(errs, errors.New("empty index"))
		}
		for _, name := range idx {
			if _, ok := types[name]; !ok && name != "id" {
				errs = append(errs, fmt.Errorf("index on undeclared field %q", name))
			}
		}
	}
	for _, name := range c.TextFields {
		if t, ok := types[name]; !ok || t != String {
			errs = append(errs, fmt.Errorf("text field %q must be a declared string field", name))
		}
	}
	return errors.Join(errs...)
}

// FieldType returns the type of the named field and whether it is declared.
func (c Collection) FieldType(name string) (FieldType, bool) {
	if name == "id" {
		return String, true
	}
	for _, f := range c.Fields {
		if f.Name == name {
			return f.Type, true
		}
	}
	return 0, false
}

// Doc is a stored document.
type Doc struct {
	// ID is unique within the collection.
	ID string
	// Version is the global event position that last changed the document;
	// writes carrying a version not above the stored one are ignored.
	Version uint64
	// Data is the document as a JSON object.
	Data json.RawMessage
}

// Op is a filter operator.
type Op string

// Filter operators.
const (
	Eq   Op = "eq"
	Ne   Op = "ne"
	In   Op = "in" // Value is a []any (or []string)
	Gt   Op = "gt"
	Gte  Op = "gte"
	Lt   Op = "lt"
	Lte  Op = "lte"
	Text Op = "text" // Field is ignored; Value is the search string
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
	Delete bool
}

// Checkpoint is a projection's progress, stored with its batch.
type Checkpoint struct {
	Name     string
	Position uint64
}

// Batch is applied atomically: all writes and the checkpoint, or nothing.
type Batch struct {
	Writes     []Write
	Checkpoint *Checkpoint
}

// Store is a document store for read models. Implementations are safe for
// concurrent use.
type Store interface {
	// Ensure creates the collection and its indexes if missing; it is
	// idempotent and adds missing fields and indexes on a later call.
	Ensure(ctx context.Context, c Collection) error
	// Get returns a document by id, or ErrNotFound.
	Get(ctx context.Context, collection, id string) (Doc, error)
	// Query returns the matching page and, if q.Count, the total number of
	// matching documents (else -1). Unknown fields are ErrUnknownField.
	Query(ctx context.Context, collection string, q Query) (docs []Doc, total int64, err error)
	// Apply writes a batch with its checkpoint atomically, where the
	// implementation can; see the implementation's notes otherwise.
	Apply(ctx context.Context, b Batch) error
	// Checkpoint returns a projection's stored position, or 0.
	Checkpoint(ctx context.Context, name string) (uint64, error)
	// Drop deletes a collection and everything in it.
	Drop(ctx context.Context, collection string) error
	// Close releases the store.
	Close() error
}

// TimeKey formats t the way stores keep Time fields: UTC with a fixed
// width, so that text order is chronological order.
func TimeKey(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }
