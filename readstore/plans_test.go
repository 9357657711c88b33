package readstore_test

import (
	"strings"
	"testing"

	"agentdesk/domain/resource"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// TestEverySortReadsAnIndex: for every declared resource and sortable
// field, a page of a list narrowed to one partition (a company, a parent
// record, or a declared Partition) is read off an index in order, in both directions,
// never sorted whole: the plan SQLite picks has no temporary b-tree.
func TestEverySortReadsAnIndex(t *testing.T) {
	s := openTestSQLite(t, "")
	for _, p := range projections.All() {
		if err := s.Ensure(t.Context(), p.Collection()); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range resource.All() {
		partition := "company_id"
		switch {
		case r.Parent != nil:
			partition = r.ParentField
		case r.Partition != "":
			partition = r.Partition
		case r == resource.Companies:
			partition = ""
		}
		for _, f := range r.Sorts() {
			for _, desc := range []bool{false, true} {
				q := readstore.Query{Limit: 25, Count: true}
				for _, k := range r.SortKeys(f) {
					q.Sort = append(q.Sort, readstore.Sort{Field: k, Desc: desc})
				}
				if partition != "" {
					q.Where = []readstore.Condition{{Field: partition, Op: readstore.Eq, Value: "p1"}}
				}
				page, plan, _, _, err := s.QueryPlan(r.CollectionName(), q)
				if err != nil {
					t.Fatalf("%s by %s: %v", r.Name, f, err)
				}
				if strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, "INDEX") {
					t.Errorf("%s sorted by %s (desc %v):\n%s\nplan:\n%s\nwant it read off an index", r.Name, f, desc, page, plan)
				}
			}
		}
	}
}
