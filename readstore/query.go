package readstore

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// check implements Check. It never changes q: the canonical query it
// returns has its own Where and Sort slices.
func check(c Collection, q Query) (Query, error) {
	if q.Skip < 0 || q.Limit < 0 {
		return Query{}, fmt.Errorf("%w: negative skip %d or limit %d", ErrInvalidQuery, q.Skip, q.Limit)
	}
	out := Query{Skip: q.Skip, Limit: q.Limit, Count: q.Count}
	for _, cond := range q.Where {
		cc, keep, err := checkCondition(c, cond)
		if err != nil {
			return Query{}, err
		}
		if keep {
			if out.Where == nil {
				out.Where = make([]Condition, 0, len(q.Where))
			}
			out.Where = append(out.Where, cc)
		}
	}
	for _, srt := range q.Sort {
		t, ok := c.FieldType(srt.Field)
		if !ok {
			return Query{}, fmt.Errorf("%w %q in sort", ErrUnknownField, srt.Field)
		}
		if t == StringList {
			return Query{}, fmt.Errorf("%w: cannot sort on list field %q", ErrInvalidQuery, srt.Field)
		}
	}
	if len(q.Sort) > 0 {
		out.Sort = slices.Clone(q.Sort)
	}
	return out, nil
}

// checkCondition returns cond in canonical form, or keep false when it
// matches every document (an empty text search).
func checkCondition(c Collection, cond Condition) (_ Condition, keep bool, _ error) {
	if cond.Op == Text {
		var text string
		switch v := cond.Value.(type) {
		case string:
			text = v
		case []string: // already checked: its words
			text = strings.Join(v, " ")
		default:
			return Condition{}, false, fmt.Errorf("%w: text search wants a string, got %T", ErrInvalidQuery, cond.Value)
		}
		if len(c.TextFields) == 0 {
			return Condition{}, false, fmt.Errorf("%w: collection %s has no text fields", ErrInvalidQuery, c.Name)
		}
		words := Words(text)
		if len(words) > MaxWords {
			return Condition{}, false, fmt.Errorf("%w: a text search takes at most %d words, got %d", ErrInvalidQuery, MaxWords, len(words))
		}
		return Condition{Op: Text, Value: words}, len(words) > 0, nil
	}

	f, ok := c.Field(cond.Field)
	if !ok {
		return Condition{}, false, fmt.Errorf("%w %q in filter", ErrUnknownField, cond.Field)
	}
	t := f.Type
	out := Condition{Field: cond.Field, Op: cond.Op}
	switch cond.Op {
	case Eq, Ne:
		if cond.Value == nil {
			// nil asks about presence: Eq nil matches a missing or null
			// field, Ne nil a present one (MongoDB's meaning of null).
			return out, true, nil
		}
	case Gt, Gte, Lt, Lte:
		if t == StringList {
			return Condition{}, false, fmt.Errorf("%w: %s on list field %q", ErrInvalidQuery, cond.Op, cond.Field)
		}
	case In:
		list := reflect.ValueOf(cond.Value)
		if list.Kind() != reflect.Slice && list.Kind() != reflect.Array || list.Type().Elem().Kind() == reflect.Uint8 {
			return Condition{}, false, fmt.Errorf("%w: in on %q wants a list, got %T", ErrInvalidQuery, cond.Field, cond.Value)
		}
		if list.Len() > MaxIn {
			return Condition{}, false, fmt.Errorf("%w: in on %q holds %d values, at most %d", ErrInvalidQuery, cond.Field, list.Len(), MaxIn)
		}
		values := make([]any, list.Len())
		for i := range values {
			v, err := queryValue(f, list.Index(i).Interface())
			if err != nil {
				return Condition{}, false, err
			}
			values[i] = v
		}
		out.Value = values
		return out, true, nil
	default:
		return Condition{}, false, fmt.Errorf("%w: unknown operator %q on %q", ErrInvalidQuery, cond.Op, cond.Field)
	}
	if cond.Value == nil {
		return Condition{}, false, fmt.Errorf("%w: %s on %q needs a value", ErrInvalidQuery, cond.Op, cond.Field)
	}
	v, err := queryValue(f, cond.Value)
	if err != nil {
		return Condition{}, false, err
	}
	out.Value = v
	return out, true, nil
}

// queryValue converts a filter value to its field type's canonical Go
// value: string, float64 (an Enum's rank), bool, or the TimeKey of a time.
func queryValue(fd Field, v any) (any, error) {
	field, t := fd.Name, fd.Type
	bad := func(why string) error {
		return fmt.Errorf("%w: field %q (%s): %.40v: %s", ErrInvalidQuery, field, t, v, why)
	}
	switch t {
	case String, StringList:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, bad("want a string")
	case Enum:
		if s, ok := v.(string); ok {
			if rank, ok := fd.Rank(s); ok {
				return float64(rank), nil
			}
		}
		return nil, bad("want one of " + strings.Join(fd.Values, ", "))
	case Number:
		switch n := v.(type) {
		case float64:
			// The common case, from JSON: no reflection.
			if math.IsNaN(n) || math.IsInf(n, 0) {
				return nil, bad("not a finite number")
			}
			return n, nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, bad("not a number")
			}
			return f, nil
		case json.Number:
			f, err := n.Float64()
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, bad("not a number")
			}
			return f, nil
		}
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return float64(rv.Int()), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return float64(rv.Uint()), nil
		case reflect.Float32, reflect.Float64:
			f := rv.Float()
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, bad("not a finite number")
			}
			return f, nil
		}
		return nil, bad("want a number")
	case Bool:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			parsed, err := strconv.ParseBool(b)
			if err != nil {
				return nil, bad("not a boolean")
			}
			return parsed, nil
		}
		return nil, bad("want a boolean")
	case Time:
		var tm time.Time
		switch tv := v.(type) {
		case time.Time:
			tm = tv
		case string:
			parsed, err := time.Parse(time.RFC3339Nano, tv)
			if err != nil {
				// A date alone (what a date input sends) is its midnight UTC.
				if parsed, err = time.Parse(time.DateOnly, tv); err != nil {
					return nil, bad("not an RFC 3339 time or a date (2006-01-02)")
				}
			}
			tm = parsed
		default:
			return nil, bad("want an RFC 3339 time")
		}
		// TimeKey's text order is chronological only for four-digit
		// years; an offset can push a parsed time out of them.
		if y := tm.UTC().Year(); y < 0 || y > 9999 {
			return nil, bad("year outside 0000-9999")
		}
		return TimeKey(tm), nil
	}
	return nil, bad("unsupported field type")
}

// MaxWords bounds the words of a text search, which each cost an index
// lookup.
const MaxWords = 16

// Words splits a text search into its words: runs of letters and digits,
// lower-cased, each at most 64 bytes (longer ones are cut), repeats
// dropped. Everything else separates words, as SQLite's unicode61
// tokenizer does, so "gamma_ray" is the words "gamma" and "ray".
func Words(text string) []string {
	var words []string
	for w := range strings.FieldsFuncSeq(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		w = strings.ToLower(w)
		if len(w) > 64 {
			w = strings.ToValidUTF8(w[:64], "")
		}
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}
