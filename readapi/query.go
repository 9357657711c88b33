package readapi

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"agentdesk/readstore"
)

// Paging limits of list endpoints.
const (
	DefaultLimit = 25
	MaxLimit     = 1000
)

// operator suffixes of filter keys, longest first so "_gte" wins over "_gt".
var suffixes = []struct {
	suffix string
	op     readstore.Op
}{
	{"_gte", readstore.Gte}, {"_lte", readstore.Lte}, {"_gt", readstore.Gt}, {"_lt", readstore.Lt}, {"_ne", readstore.Ne},
}

// parseListQuery reads React Admin's list parameters: skip/limit or
// range=[a,b]; sort=field&order=ASC|DESC or sort=["field","ASC"]; and
// filter={json}. Fields outside the resource's allow-lists are a 400.
func parseListQuery(v url.Values, res *resource) (readstore.Query, error) {
	q := readstore.Query{Count: true}
	var err error
	if q.Skip, q.Limit, err = parsePage(v); err != nil {
		return q, err
	}
	sortField, order := v.Get("sort"), v.Get("order")
	if strings.HasPrefix(sortField, "[") {
		var pair []string
		if err := json.Unmarshal([]byte(sortField), &pair); err != nil || len(pair) != 2 {
			return q, badRequestf(`sort must be a field name or ["field","ASC|DESC"]`)
		}
		sortField, order = pair[0], pair[1]
	}
	if sortField == "" {
		sortField, order = res.DefaultSort, "ASC"
		if res.DefaultDesc {
			order = "DESC"
		}
	}
	if sortField != "id" && !slices.Contains(res.sorts, sortField) {
		return q, badRequestf("cannot sort %s by %q; sortable fields: %s", res.name, sortField, strings.Join(res.sorts, ", "))
	}
	var desc bool
	switch strings.ToUpper(order) {
	case "", "ASC":
	case "DESC":
		desc = true
	default:
		return q, badRequestf("order must be ASC or DESC")
	}
	for _, f := range res.SortKeys(sortField) {
		q.Sort = append(q.Sort, readstore.Sort{Field: f, Desc: desc})
	}
	// null is no filter, as an empty object (a client's JSON.stringify of
	// a filter it does not have); {} is what React Admin sends most.
	if s := v.Get("filter"); s != "" && s != "{}" && strings.TrimSpace(s) != "null" {
		where, err := parseFilter(s, res)
		if err != nil {
			return q, err
		}
		q.Where = where
	}
	// getMany: a list of ids with no paging asked for returns every one.
	if !v.Has("range") && !v.Has("limit") && !v.Has("skip") {
		for _, c := range q.Where {
			if ids, ok := c.Value.([]any); ok && c.Field == "id" && c.Op == readstore.In {
				if len(ids) > MaxLimit {
					return q, badRequestf("at most %d ids at once", MaxLimit)
				}
				q.Limit = max(q.Limit, len(ids))
			}
		}
	}
	return q, nil
}

// parsePage reads skip/limit or range=[first,last]; the limit defaults to
// DefaultLimit and is at most MaxLimit.
func parsePage(v url.Values) (skip, limit int, err error) {
	limit = DefaultLimit
	if s := v.Get("range"); s != "" {
		var rng []*int // null would read as 0
		if err := json.Unmarshal([]byte(s), &rng); err != nil || len(rng) != 2 || rng[0] == nil || rng[1] == nil || *rng[0] < 0 || *rng[1] < *rng[0] {
			return 0, 0, badRequestf("range must be [first, last] with 0 <= first <= last")
		}
		first, last := *rng[0], *rng[1]
		if last-first >= MaxLimit { // before adding 1, which may overflow
			return 0, 0, badRequestf("at most %d records per page", MaxLimit)
		}
		skip, limit = first, last-first+1
	}
	if s := v.Get("skip"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, 0, badRequestf("skip must be a non-negative integer")
		}
		skip = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, 0, badRequestf("limit must be a positive integer")
		}
		limit = n
	}
	if limit > MaxLimit {
		return 0, 0, badRequestf("at most %d records per page", MaxLimit)
	}
	return skip, limit, nil
}

// FilterSuffixes returns the suffixes that make a filter key compare
// rather than match (created_at_gte), for the API's description.
func FilterSuffixes() []string {
	out := make([]string, len(suffixes))
	for i, s := range suffixes {
		out[i] = s.suffix
	}
	return out
}

func parseFilter(s string, res *resource) ([]readstore.Condition, error) {
	// One JSON object, each key once (the last of two would win), valid
	// UTF-8 (invalid bytes would read as U+FFFD): as every body.
	if !utf8.ValidString(s) {
		return nil, badRequestf("filter must be UTF-8 JSON")
	}
	if _, err := objectKeys([]byte(s), nil); err != nil {
		return nil, badRequestf("filter must be a JSON object, each key given once: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, badRequestf("filter must be a JSON object")
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var where []readstore.Condition
	for _, key := range keys {
		val := raw[key]
		if key == "q" {
			text, ok := val.(string)
			if !ok {
				return nil, badRequestf("filter q must be a string")
			}
			if strings.TrimSpace(text) != "" {
				where = append(where, readstore.Condition{Op: readstore.Text, Value: strings.TrimSpace(text)})
			}
			continue
		}
		field, op := key, readstore.Eq
		if !allowedFilter(res, field) {
			for _, s := range suffixes {
				if base, ok := strings.CutSuffix(key, s.suffix); ok && allowedFilter(res, base) {
					field, op = base, s.op
					break
				}
			}
		}
		if !allowedFilter(res, field) {
			return nil, badRequestf("cannot filter %s by %q; filterable fields: id, q, %s (with _gte, _lte, _gt, _lt, _ne)", res.name, key, strings.Join(res.filters, ", "))
		}
		c, err := condition(field, op, val)
		if err != nil {
			return nil, err
		}
		where = append(where, c)
	}
	return where, nil
}

func allowedFilter(res *resource, field string) bool {
	return field == "id" || slices.Contains(res.filters, field)
}

// condition converts a JSON filter value: arrays mean "in", scalars keep
// their JSON type; the store checks them against the field's type.
func condition(field string, op readstore.Op, val any) (readstore.Condition, error) {
	switch v := val.(type) {
	case []any:
		if op != readstore.Eq {
			return readstore.Condition{}, badRequestf("filter %s: a list only works with equality", field)
		}
		items := make([]any, len(v))
		for i, item := range v {
			s, err := scalar(field, item)
			if err != nil {
				return readstore.Condition{}, err
			}
			if s == nil {
				return readstore.Condition{}, badRequestf("filter %s: a list cannot hold null", field)
			}
			items[i] = s
		}
		return readstore.Condition{Field: field, Op: readstore.In, Value: items}, nil
	default:
		s, err := scalar(field, v)
		if err != nil {
			return readstore.Condition{}, err
		}
		return readstore.Condition{Field: field, Op: op, Value: s}, nil
	}
}

func scalar(field string, v any) (any, error) {
	switch v := v.(type) {
	case nil:
		// null means "not set" (with _ne: "set").
		return nil, nil
	case string, bool:
		return v, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return nil, badRequestf("filter %s: %q is not a number", field, v)
		}
		return f, nil
	}
	return nil, badRequestf("filter %s: values must be strings, numbers, booleans or lists of them", field)
}
