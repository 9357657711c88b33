package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"agentdesk/domain"
)

func TestValidationErrorMessage(t *testing.T) {
	for _, c := range []struct {
		name   string
		fields map[string]string
		want   string
	}{
		{
			name:   "one field",
			fields: map[string]string{"title": "must not be empty"},
			want:   "validation failed: title: must not be empty",
		},
		{
			name: "fields sorted by name",
			fields: map[string]string{
				"title": "must not be empty", "company_id": "must be a UUID",
				"body": "too long", "tags": "at most 20 tags",
			},
			want: "validation failed: body: too long; company_id: must be a UUID; tags: at most 20 tags; title: must not be empty",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Map order is random; repeat so an unsorted join would show.
			for range 20 {
				err := &domain.ValidationError{Fields: c.fields}
				if got := err.Error(); got != c.want {
					t.Fatalf("got %q, want %q", got, c.want)
				}
			}
		})
	}
}

func TestProblems(t *testing.T) {
	if err := (domain.Problems{}).Err(); err != nil {
		t.Fatalf("got %v from no problems, want nil", err)
	}

	p := domain.Problems{}
	p.Add("title", "must not be empty")
	p.Add("title", "must be at most 200 characters")
	p.Add("id", "must be a UUID")
	err := fmt.Errorf("open ticket: %w", p.Err())

	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a wrapped *domain.ValidationError", err)
	}
	want := map[string]string{"title": "must not be empty", "id": "must be a UUID"}
	if !reflect.DeepEqual(ve.Fields, want) {
		t.Fatalf("got fields %v, want %v (the first message per field)", ve.Fields, want)
	}
}

func TestValidID(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"0A1B2C3D-4E5F-4A7B-8C9D-0E1F2A3B4C5D", false},
		{"0a1b2c3d4e5f4a7b8c9d0e1f2a3b4c5d", false},
		{"{0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d}", false},
		{" 0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d", false},
		{"0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d\n", false},
		{"0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5", false},
		{"0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5g", false},
		{"", false},
	} {
		if got := domain.ValidID(c.id); got != c.want {
			t.Errorf("got ValidID(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}

type pinged struct {
	Target string `json:"target"`
	Count  int    `json:"count"`
}

func (*pinged) EventType() string { return "test.pinged" }

type ponged struct{}

func (*ponged) EventType() string { return "test.ponged" }

func TestRegistryDecode(t *testing.T) {
	r := domain.NewRegistry(
		func() domain.Event { return &ponged{} },
		func() domain.Event { return &pinged{} },
	)
	for _, c := range []struct {
		name      string
		eventType string
		data      string
		want      domain.Event
		wantErr   string
	}{
		{name: "fills a fresh event", eventType: "test.pinged", data: `{"target":"a","count":2}`, want: &pinged{Target: "a", Count: 2}},
		{name: "empty object", eventType: "test.ponged", data: `{}`, want: &ponged{}},
		{name: "unknown type", eventType: "test.exploded", data: `{}`, wantErr: `unknown event type "test.exploded"`},
		{name: "bad JSON", eventType: "test.pinged", data: `{"count":"two"}`, wantErr: "decode test.pinged"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.Decode(c.eventType, 1, []byte(c.data))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, %v, want an error containing %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}

	// Each decode starts from a new value: nothing leaks between events.
	first, _ := r.Decode("test.pinged", 1, []byte(`{"target":"a","count":2}`))
	second, _ := r.Decode("test.pinged", 1, []byte(`{"count":3}`))
	if want := (&pinged{Count: 3}); !reflect.DeepEqual(second, want) {
		t.Fatalf("got %#v after decoding %#v, want %#v", second, first, want)
	}

	if got, want := r.Types(), []string{"test.pinged", "test.ponged"}; !slices.Equal(got, want) {
		t.Fatalf("got types %v, want %v", got, want)
	}
}

func TestRegistryDuplicatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("got no panic, want one for a type registered twice")
		}
	}()
	domain.NewRegistry(
		func() domain.Event { return &pinged{} },
		func() domain.Event { return &pinged{Count: 1} },
	)
}

// renamed is at schema version 3: version 1 called the field "who",
// version 2 "name", version 3 "full_name".
type renamed struct {
	FullName string `json:"full_name"`
}

func (*renamed) EventType() string  { return "test.renamed" }
func (*renamed) SchemaVersion() int { return 3 }

func TestRegistryUpcasts(t *testing.T) {
	r := domain.NewRegistry(func() domain.Event { return &renamed{} })
	move := func(from, to string) domain.Upcaster {
		return func(data []byte) ([]byte, error) {
			return []byte(strings.Replace(string(data), `"`+from+`"`, `"`+to+`"`, 1)), nil
		}
	}
	r.Upcast("test.renamed", 1, move("who", "name"))
	r.Upcast("test.renamed", 2, move("name", "full_name"))
	for _, c := range []struct {
		version int
		data    string
	}{
		{1, `{"who":"Ada"}`},
		{2, `{"name":"Ada"}`},
		{3, `{"full_name":"Ada"}`},
	} {
		got, err := r.Decode("test.renamed", c.version, []byte(c.data))
		if err != nil || !reflect.DeepEqual(got, &renamed{FullName: "Ada"}) {
			t.Fatalf("version %d: got %#v, %v; want full_name Ada", c.version, got, err)
		}
	}
	if _, err := r.Decode("test.renamed", 4, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("a version from the future: err = %v, want one saying it is newer", err)
	}
	if got := domain.SchemaVersion(&renamed{}); got != 3 {
		t.Fatalf("SchemaVersion = %d, want 3", got)
	}

	gap := domain.NewRegistry(func() domain.Event { return &renamed{} })
	gap.Upcast("test.renamed", 2, move("name", "full_name"))
	if _, err := gap.Decode("test.renamed", 1, []byte(`{"who":"Ada"}`)); err == nil || !strings.Contains(err.Error(), "no upcaster from schema version 1") {
		t.Fatalf("a missing step: err = %v, want it named", err)
	}
	failing := domain.NewRegistry(func() domain.Event { return &renamed{} })
	failing.Upcast("test.renamed", 1, func([]byte) ([]byte, error) { return nil, errors.New("boom") })
	failing.Upcast("test.renamed", 2, move("name", "full_name"))
	if _, err := failing.Decode("test.renamed", 1, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("a failing step: err = %v, want its error", err)
	}
}

func TestTags(t *testing.T) {
	many := make([]string, 100_000)
	for i := range many {
		many[i] = fmt.Sprintf("tag%d", i)
	}
	for _, c := range []struct {
		name    string
		tags    []string
		want    []string
		problem string
	}{
		{"trimmed, lower-cased, de-duplicated in order", []string{" VPN", "wifi", "vpn ", "WiFi"}, []string{"vpn", "wifi"}, ""},
		{"an empty tag", []string{"a", "  "}, []string{"a"}, "must not contain empty tags"},
		{"a long tag", []string{strings.Repeat("x", 6)}, []string{}, "each tag must be at most 5 characters"},
		{"duplicates do not count against the limit", []string{"a", "b", "A", "B", "c"}, []string{"a", "b", "c"}, ""},
		{"one past the limit", []string{"a", "b", "c", "d"}, []string{"a", "b", "c"}, "at most 3 tags"},
		{"a hundred thousand", many, many[:3], "at most 3 tags"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := domain.Problems{}
			got := domain.Tags(p, c.tags, 3, 5)
			if !slices.Equal(got, c.want) || p["tags"] != c.problem {
				t.Errorf("Tags = %q, problem %q; want %q, %q", got, p["tags"], c.want, c.problem)
			}
		})
	}
}
