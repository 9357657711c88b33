package projections

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/user"
	"agentdesk/eventstore"
)

// fakePII "seals" by a prefix; a forgotten subject's values read erased.
type fakePII struct{ forgotten map[string]bool }

func (f fakePII) Open(_ context.Context, subject, value string) (string, error) {
	plain, ok := strings.CutPrefix(value, "sealed:")
	switch {
	case !ok:
		return value, nil
	case f.forgotten[subject]:
		return domain.Erased, nil
	}
	return plain, nil
}

func foldUser(t *testing.T, opener Opener, evs ...domain.Event) User {
	t.Helper()
	var opts []Option
	if opener != nil {
		opts = append(opts, WithPII(opener))
	}
	recs := make([]eventstore.RecordedEvent, len(evs))
	for i, e := range evs {
		recs[i] = recorded(t, user.Stream("u1"), uint64(i), time.Now(), e)
	}
	// The batch starts with user.created: Fold reads no stored document.
	writes, err := UsersProjector(opts...).Fold(context.Background(), nil, recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(writes) != 1 {
		t.Fatalf("got %d writes, want 1", len(writes))
	}
	var doc User
	if err := json.Unmarshal(writes[0].Doc.Data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestUsersOpenPersonalData(t *testing.T) {
	created := &user.Created{UserID: "u1", Username: "ada", Role: domain.Client, CompanyID: "c1",
		Email: "sealed:ada@example.org", FullName: "sealed:Ada Lovelace"}
	renamed := &user.Updated{FullName: new("sealed:Ada King")}

	doc := foldUser(t, fakePII{}, created, renamed)
	if doc.Email != "ada@example.org" || doc.FullName != "Ada King" || doc.Username != "ada" {
		t.Fatalf("got %q, %q, %q; want the opened email and latest name", doc.Email, doc.FullName, doc.Username)
	}

	doc = foldUser(t, fakePII{forgotten: map[string]bool{"u1": true}}, created, renamed)
	if doc.Email != domain.Erased || doc.FullName != domain.Erased || doc.Username != "ada" {
		t.Fatalf("key forgotten: got %q, %q, %q; want both erased, the username kept", doc.Email, doc.FullName, doc.Username)
	}

	// user.forgotten erases the fields whatever the key store says: the
	// event lands before the store is read again, and it is what a rebuild
	// of events written before sealing (plain values) relies on.
	plain := &user.Created{UserID: "u1", Username: "ada", Role: domain.Client, CompanyID: "c1", Email: "ada@example.org", FullName: "Ada"}
	doc = foldUser(t, fakePII{}, plain, &user.Forgotten{})
	if doc.Email != domain.Erased || doc.FullName != domain.Erased {
		t.Fatalf("after user.forgotten: got %q, %q; want both erased", doc.Email, doc.FullName)
	}
	noEmail := &user.Created{UserID: "u1", Username: "ada", Role: domain.Client, CompanyID: "c1", FullName: "sealed:Ada"}
	if doc = foldUser(t, fakePII{}, noEmail, &user.Forgotten{}); doc.Email != "" {
		t.Fatalf("got email %q, want a field never set to stay empty", doc.Email)
	}

	// Without an opener the log's values are stored as they are.
	if doc = foldUser(t, nil, created); doc.Email != "sealed:ada@example.org" {
		t.Fatalf("got %q without an opener, want the stored value", doc.Email)
	}
}
