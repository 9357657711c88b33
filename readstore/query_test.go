package readstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	segjson "github.com/segmentio/encoding/json"
)

// checkCollection declares one field of each type, and text search.
func checkCollection() Collection {
	return Collection{
		Name: "items",
		Fields: []Field{
			{Name: "title", Type: String},
			{Name: "score", Type: Number},
			{Name: "active", Type: Bool},
			{Name: "at", Type: Time},
			{Name: "tags", Type: StringList},
		},
		TextFields: []string{"title"},
	}
}

func where(field string, op Op, v any) Query {
	return Query{Where: []Condition{{Field: field, Op: op, Value: v}}}
}

func TestCheck(t *testing.T) {
	at := time.Date(2026, 1, 1, 22, 0, 0, 0, time.UTC)
	key := TimeKey(at)
	tests := []struct {
		name string
		q    Query
		want Query
	}{
		{"empty", Query{}, Query{}},
		{"page kept", Query{Skip: 5, Limit: 10, Count: true}, Query{Skip: 5, Limit: 10, Count: true}},
		{"string", where("title", Eq, "x"), where("title", Eq, "x")},
		{"id", where("id", Gt, "d1"), where("id", Gt, "d1")},
		{"list element", where("tags", Ne, "a"), where("tags", Ne, "a")},
		{"number float", where("score", Gt, 2.5), where("score", Gt, 2.5)},
		{"number int", where("score", Eq, 10), where("score", Eq, 10.0)},
		{"number int64", where("score", Eq, int64(-3)), where("score", Eq, -3.0)},
		{"number uint8", where("score", Eq, uint8(7)), where("score", Eq, 7.0)},
		{"number float32", where("score", Eq, float32(0.5)), where("score", Eq, 0.5)},
		{"number string", where("score", Lte, " 2.5 "), where("score", Lte, 2.5)},
		{"number json", where("score", Lt, json.Number("1e3")), where("score", Lt, 1000.0)},
		{"bool", where("active", Eq, true), where("active", Eq, true)},
		{"bool string", where("active", Ne, "false"), where("active", Ne, false)},
		{"bool string 1", where("active", Eq, "1"), where("active", Eq, true)},
		{"time string", where("at", Gte, "2026-01-02T00:00:00+02:00"), where("at", Gte, key)},
		{"time value", where("at", Lt, at.In(time.FixedZone("", -3600))), where("at", Lt, key)},
		{"time key", where("at", Eq, key), where("at", Eq, key)},
		{"in strings", where("title", In, []string{"a", "b"}), where("title", In, []any{"a", "b"})},
		{"in mixed numbers", where("score", In, []any{1, "10", 2.5}), where("score", In, []any{1.0, 10.0, 2.5})},
		{"in array", where("active", In, [2]string{"true", "f"}), where("active", In, []any{true, false})},
		{"in empty", where("tags", In, []bool{}), where("tags", In, []any{})},
		{"in nil slice", where("title", In, []string(nil)), where("title", In, []any{})},
		{"eq nil", where("score", Eq, nil), where("score", Eq, nil)},
		{"ne nil", where("tags", Ne, nil), where("tags", Ne, nil)},
		{"text", where("ignored", Text, "Floor 10"), where("", Text, []string{"floor", "10"})},
		{"text words", where("", Text, "  Gamma_ray, GAMMA! "), where("", Text, []string{"gamma", "ray"})},
		{"text empty dropped", where("", Text, ""), Query{}},
		{"text empty among others",
			Query{Where: []Condition{{Op: Text, Value: ""}, {Field: "score", Op: Eq, Value: "1"}}},
			where("score", Eq, 1.0)},
		{"sort", Query{Sort: []Sort{{Field: "at", Desc: true}, {Field: "id"}}}, Query{Sort: []Sort{{Field: "at", Desc: true}, {Field: "id"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Check(checkCollection(), tt.q)
			if err != nil {
				t.Fatalf("Check(%+v) = %v", tt.q, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Check(%+v) = %#v; want %#v", tt.q, got, tt.want)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		name    string
		q       Query
		want    error
		mention string // a substring the message must have
	}{
		{"unknown filter field", where("nope", Eq, "x"), ErrUnknownField, "nope"},
		{"unknown field with nil", where("nope", Eq, nil), ErrUnknownField, "nope"},
		{"unknown field before bad operator", where("nope", Op("like"), "x"), ErrUnknownField, "nope"},
		{"fixed column", where("version", Eq, "x"), ErrUnknownField, "version"},
		{"unknown sort field", Query{Sort: []Sort{{Field: "data"}}}, ErrUnknownField, "data"},
		{"negative skip", Query{Skip: -1}, ErrInvalidQuery, "skip"},
		{"negative limit", Query{Limit: -5}, ErrInvalidQuery, "limit"},
		{"sort on list", Query{Sort: []Sort{{Field: "tags"}}}, ErrInvalidQuery, "tags"},
		{"unknown operator", where("title", Op("like"), "x"), ErrInvalidQuery, "like"},
		{"range on list", where("tags", Lte, "a"), ErrInvalidQuery, "tags"},
		{"range on nil", where("score", Gt, nil), ErrInvalidQuery, "score"},
		{"in nil", where("score", In, nil), ErrInvalidQuery, "score"},
		{"in not a list", where("title", In, "a"), ErrInvalidQuery, "title"},
		{"in bytes", where("title", In, []byte("a")), ErrInvalidQuery, "title"},
		{"in nil element", where("title", In, []any{"a", nil}), ErrInvalidQuery, "title"},
		{"in bad element", where("score", In, []any{1, "x"}), ErrInvalidQuery, "score"},
		{"string from number", where("title", Eq, 3), ErrInvalidQuery, "title"},
		{"string from pointer", where("title", Eq, new(string)), ErrInvalidQuery, "title"},
		{"list from list", where("tags", Eq, []string{"a"}), ErrInvalidQuery, "tags"},
		{"number from text", where("score", Eq, "abc"), ErrInvalidQuery, "score"},
		{"number from bool", where("score", Eq, true), ErrInvalidQuery, "score"},
		{"number NaN text", where("score", Eq, "NaN"), ErrInvalidQuery, "score"},
		{"number Inf", where("score", Eq, "-Inf"), ErrInvalidQuery, "score"},
		{"number overflow", where("score", Eq, "1e400"), ErrInvalidQuery, "score"},
		{"number json overflow", where("score", Eq, json.Number("1e400")), ErrInvalidQuery, "score"},
		{"bool from text", where("active", Eq, "maybe"), ErrInvalidQuery, "active"},
		{"bool from number", where("active", Eq, 1), ErrInvalidQuery, "active"},
		{"time from text", where("at", Eq, "yesterday"), ErrInvalidQuery, "at"},
		{"time without zone", where("at", Eq, "2026-01-01T00:00:00"), ErrInvalidQuery, "at"},
		{"time from number", where("at", Eq, 5), ErrInvalidQuery, "at"},
		{"time offset past 9999", where("at", Eq, "9999-12-31T23:00:00-02:00"), ErrInvalidQuery, "year"},
		{"time offset before 0000", where("at", Eq, "0000-01-01T00:30:00+01:00"), ErrInvalidQuery, "year"},
		{"time value past 9999", where("at", Eq, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), ErrInvalidQuery, "year"},
		{"text not a string", where("", Text, 5), ErrInvalidQuery, "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Check(checkCollection(), tt.q)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check(%+v) = %+v, %v; want %v", tt.q, got, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("Check(%+v) error %q; want it to mention %q", tt.q, err, tt.mention)
			}
		})
	}

	noText := checkCollection()
	noText.TextFields = nil
	for _, text := range []string{"x", ""} {
		if _, err := Check(noText, where("", Text, text)); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("text %q without text fields: err = %v; want ErrInvalidQuery", text, err)
		}
	}
}

// TestCheckCopies checks that Check leaves the caller's query alone.
func TestCheckCopies(t *testing.T) {
	list := []any{"1", 2}
	q := Query{
		Where: []Condition{{Field: "score", Op: In, Value: list}, {Op: Text, Value: ""}},
		Sort:  []Sort{{Field: "score"}},
	}
	got, err := Check(checkCollection(), q)
	if err != nil {
		t.Fatal(err)
	}
	got.Sort[0].Desc = true
	got.Where[0].Value.([]any)[0] = "changed"
	if list[0] != "1" || len(q.Where) != 2 || q.Where[1].Op != Text || q.Sort[0].Desc {
		t.Fatalf("Check changed its argument: %+v", q)
	}
}

// canonical reports whether cond is in the form Check returns.
func canonical(c Collection, cond Condition) error {
	if cond.Op == Text {
		if w, ok := cond.Value.([]string); !ok || len(w) == 0 || len(w) > MaxWords || cond.Field != "" || !slices.Equal(Words(strings.Join(w, " ")), w) {
			return fmt.Errorf("text condition %+v", cond)
		}
		return nil
	}
	t, ok := c.FieldType(cond.Field)
	if !ok {
		return fmt.Errorf("undeclared field in %+v", cond)
	}
	one := func(v any) error {
		var ok bool
		switch t {
		case String, StringList:
			_, ok = v.(string)
		case Number:
			_, ok = v.(float64)
		case Bool:
			_, ok = v.(bool)
		case Time:
			var s string
			if s, ok = v.(string); ok {
				tm, err := time.Parse(time.RFC3339Nano, s)
				ok = err == nil && TimeKey(tm) == s
			}
		}
		if !ok {
			return fmt.Errorf("value %#v is not canonical for %s field %q", v, t, cond.Field)
		}
		return nil
	}
	switch cond.Op {
	case In:
		list, ok := cond.Value.([]any)
		if !ok || list == nil {
			return fmt.Errorf("in value %#v", cond.Value)
		}
		for _, v := range list {
			if err := one(v); err != nil {
				return err
			}
		}
		return nil
	case Eq, Ne:
		if cond.Value == nil {
			return nil
		}
	case Gt, Gte, Lt, Lte:
		if t == StringList {
			return fmt.Errorf("range on a list: %+v", cond)
		}
	default:
		return fmt.Errorf("operator in %+v", cond)
	}
	return one(cond.Value)
}

// FuzzCheck feeds Check filter values decoded from JSON, as they arrive
// from URLs. Check must not panic, must fail only with its two errors,
// and must return a canonical query that it accepts again unchanged.
func FuzzCheck(f *testing.F) {
	for _, seed := range []struct {
		field, op, value string
		number           bool
		sort             string
		skip, limit      int
	}{
		{"title", "eq", `"x"`, false, "title", 0, 25},
		{"score", "in", `[1, "2.5", 1e308]`, true, "score", 10, 0},
		{"score", "gt", `"-0"`, false, "", 0, 0},
		{"active", "ne", `"T"`, false, "active", 0, 0},
		{"at", "lte", `"2026-01-02T00:00:00.5+02:00"`, false, "at", 0, 0},
		{"at", "in", `["0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"]`, false, "id", 0, 0},
		{"tags", "eq", `null`, false, "tags", 0, 0},
		{"", "text", `"100%_"`, false, "", 0, 0},
		{"nope", "eq", `{}`, false, "", -1, 0},
		{"title", "in", `[null]`, false, "", 0, -1},
	} {
		f.Add(seed.field, seed.op, seed.value, seed.number, seed.sort, seed.skip, seed.limit)
	}
	c := checkCollection()
	decode := func(s string, number bool) (any, bool) {
		d := json.NewDecoder(strings.NewReader(s))
		if number {
			d.UseNumber()
		}
		var v any
		return v, d.Decode(&v) == nil
	}
	f.Fuzz(func(t *testing.T, field, op, value string, number bool, sortField string, skip, limit int) {
		v, ok := decode(value, number)
		if !ok {
			return
		}
		q := Query{Where: []Condition{{Field: field, Op: Op(op), Value: v}}, Skip: skip, Limit: limit}
		if sortField != "" {
			q.Sort = []Sort{{Field: sortField}}
		}
		got, err := Check(c, q)
		if err != nil {
			if !errors.Is(err, ErrUnknownField) && !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("Check(%+v) = %v; want ErrUnknownField or ErrInvalidQuery", q, err)
			}
			return
		}
		for _, cond := range got.Where {
			if err := canonical(c, cond); err != nil {
				t.Fatalf("Check(%+v) = %+v: %v", q, got, err)
			}
		}
		again, err := Check(c, got)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("Check(Check(%+v)) = %+v, %v; want %+v", q, again, err, got)
		}
		// The argument is untouched: the same text decodes to it still.
		if fresh, _ := decode(value, number); !reflect.DeepEqual(fresh, v) {
			t.Fatalf("Check changed its argument's value: %#v; was %#v", v, fresh)
		}
	})
}

// BenchmarkCheck measures the rules every Query pays for before the
// database: the tickets list with a text search.
func BenchmarkCheck(b *testing.B) {
	c := Collection{
		Name: "tickets",
		Fields: []Field{
			{Name: "company_id", Type: String}, {Name: "status", Type: String},
			{Name: "title", Type: String}, {Name: "created_at", Type: Time},
		},
		TextFields: []string{"title"},
	}
	q := Query{
		Where: []Condition{
			{Field: "company_id", Op: Eq, Value: "0c0e0000-0000-4000-8000-b16b16b16b16"},
			{Field: "status", Op: In, Value: []any{"open", "in_progress"}},
			{Field: "created_at", Op: Gte, Value: "2025-01-01T00:00:00Z"},
			{Op: Text, Value: "printer"},
		},
		Sort:  []Sort{{Field: "created_at", Desc: true}},
		Limit: 25, Count: true,
	}
	for b.Loop() {
		if _, err := Check(c, q); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCollectionValidate(t *testing.T) {
	fields := []Field{{Name: "title", Type: String}, {Name: "tags", Type: StringList}, {Name: "labels", Type: StringList}}
	for _, c := range []struct {
		name string
		coll Collection
		want string // a part of the error; "" means valid
	}{
		{"valid", Collection{Name: "tickets", Fields: fields, Indexes: [][]string{{"title", "tags"}}, TextFields: []string{"title"}}, ""},
		{"bad name", Collection{Name: "Tickets"}, "collection name"},
		{"double underscore", Collection{Name: "a__b"}, "collection name"},
		{"reserved field", Collection{Name: "t", Fields: []Field{{Name: "version"}}}, "not allowed"},
		{"undeclared index field", Collection{Name: "t", Fields: fields, Indexes: [][]string{{"nope"}}}, "undeclared"},
		{"two lists in one index", Collection{Name: "t", Fields: fields, Indexes: [][]string{{"tags", "labels"}}}, "more than one string list"},
		{"text on a list", Collection{Name: "t", Fields: fields, TextFields: []string{"tags"}}, "text field"},
	} {
		err := c.coll.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Validate() = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCheckCapsIn(t *testing.T) {
	c := Collection{Name: "t", Fields: []Field{{Name: "title", Type: String}}}
	values := make([]any, MaxIn+1)
	for i := range values {
		values[i] = "x"
	}
	if _, err := Check(c, Query{Where: []Condition{{Field: "title", Op: In, Value: values}}}); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("In with %d values: err = %v, want ErrInvalidQuery", len(values), err)
	}
	if _, err := Check(c, Query{Where: []Condition{{Field: "title", Op: In, Value: values[:MaxIn]}}}); err != nil {
		t.Fatalf("In with %d values: %v", MaxIn, err)
	}
}

// FuzzIsTimeKey holds the write path's shortcut to TimeKey: a time it
// keeps as given is one TimeKey writes the same.
func FuzzIsTimeKey(f *testing.F) {
	for _, s := range []string{"2026-12-01T01:48:18.330084494Z", "2026-12-01T01:48:18.33008449Z", "2026-12-01T02:48:18.330084494+01:00",
		"2026-02-30T01:48:18.330084494Z", "0000-01-01T00:00:00.000000000Z", "2026-12-01T01:48:18,330084494Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !isTimeKey(s) {
			return
		}
		if got := TimeKey(tm); got != s {
			t.Fatalf("isTimeKey(%q) but TimeKey gives %q", s, got)
		}
	})
}

// FuzzValidMatchesStandardLibrary holds the stores' JSON check
// (github.com/segmentio/encoding/json's Valid, several times faster) to
// encoding/json's answer on any input.
func FuzzValidMatchesStandardLibrary(f *testing.F) {
	for _, s := range []string{`{"id":"a","n":1.5e3,"tags":["x"],"ok":true,"z":null}`, `{"a":1}x`, "{\"a\":\"\x01\"}", `{"a":"\u00e9\ud800"}`,
		`[1,2`, `{"a":-}`, `{"a":01}`, " {} ", `"\xff"`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := segjson.Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}
