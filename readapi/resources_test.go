package readapi

import (
	"encoding/json"
	"testing"

	segjson "github.com/segmentio/encoding/json"

	"agentdesk/domain"
)

// FuzzScopeFields holds the decoder visible uses for a document's scope
// fields (segmentio's) to encoding/json's answers: the same error or
// not, and the same fields.
func FuzzScopeFields(f *testing.F) {
	for _, seed := range []string{
		`{"id":"t1","company_id":"c1","requester_id":"u1","status":"open","title":"Printer","tags":["a"],"comment_count":3}`,
		`{"id":"t1","company_id":null}`, `{"company_id":"c1","company_id":"c2"}`, `{"Company_ID":"c1"}`,
		`{"company_id":"c\u00e9\n"}`, `{"company_id":1}`, `{"user_id":"u","x":{"company_id":"nested"}}`,
		`{"status":"open"} `, `{"status":"open"}x`, `[]`, `null`, ``, `{"id":"t1"`, "{\"id\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want scopeFields
		gotErr := segjson.Unmarshal(data, &got)
		wantErr := json.Unmarshal(data, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("decode %q: error %v, want %v", data, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		for _, name := range []string{"id", "company_id", "requester_id", "status", "user_id"} {
			if g, w := got.get(name), want.get(name); g != w {
				t.Fatalf("decode %q: %s = %q, want %q", data, name, g, w)
			}
		}
	})
}

// BenchmarkVisible measures the scope check of a ticket read back for a
// company admin: its company's id decoded from the stored document. It
// took 3.7 µs and 15 allocations with encoding/json, 1.0 µs and 10 with
// segmentio's decoder.
func BenchmarkVisible(b *testing.B) {
	tickets, _ := resourceNamed("tickets")
	doc := []byte(`{"id":"0193a1b2-7c9f-73b4-9ccd-a0f3b179bbe1","company_id":"0193a1b2-7c9f-73b4-9ccd-a0f3b179bbe2","title":"Printer on fire","description":"It smokes","status":"open","priority":"high","requester_id":"0193a1b2-7c9f-73b4-9ccd-a0f3b179bbe3","assignee_id":null,"tags":["hardware"],"comment_count":0,"created_at":"2026-12-02T03:50:00.123456789Z","updated_at":"2026-12-02T03:50:00.123456789Z","last_activity_at":"2026-12-02T03:50:00.123456789Z","revision":1}`)
	p := domain.Principal{UserID: "0193a1b2-7c9f-73b4-9ccd-a0f3b179bbe3", CompanyID: "0193a1b2-7c9f-73b4-9ccd-a0f3b179bbe2", Role: domain.CompanyAdmin}
	b.ReportAllocs()
	for b.Loop() {
		ok, err := tickets.visible(p, doc)
		if err != nil || !ok {
			b.Fatalf("visible = %v, %v; want true", ok, err)
		}
	}
}
