package eventstoretest

import (
	"encoding/hex"
	"testing"

	"github.com/google/uuid"

	"agentdesk/eventstore"
)

// testHashChain checks tamper evidence: the store sets every event's hash,
// chained per stream to the previous event (the first to GenesisHash),
// whatever hash the caller passed; a retry keeps the first attempt's
// hashes; reads and subscriptions return them; and VerifyChain passes.
func testHashChain(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	a, b := newStream("chain"), newStream("chain")

	first := newEvents(2, "acc.created", company)
	mustAppend(ctx, t, store, a, eventstore.NoStream, first...)
	forged := newEvent("acc.renamed", company)
	forged.Metadata.Hash = eventstore.GenesisHash // the store's to set, not the caller's
	mustAppend(ctx, t, store, a, eventstore.Exact(1), forged)
	mustAppend(ctx, t, store, a, eventstore.Any, newEvent("acc.renamed", company))
	mustAppend(ctx, t, store, b, eventstore.NoStream, newEvent("acc.created", company))
	mustAppend(ctx, t, store, b, eventstore.Exact(0), newEvents(3, "acc.renamed", company)...)

	streamA := mustReadStream(ctx, t, store, a, 0, 0)
	assertChained(t, streamA)
	assertChained(t, mustReadStream(ctx, t, store, b, 0, 0))
	if streamA[2].Metadata.Hash == eventstore.GenesisHash {
		t.Fatalf("event %s kept the hash its caller passed", streamA[2].ID)
	}

	// Retries write nothing, so the hashes stay those of the first attempt.
	for _, expected := range []eventstore.ExpectedRevision{eventstore.NoStream, eventstore.Any} {
		if _, err := store.Append(ctx, a, expected, first); err != nil {
			t.Fatalf("retry with %s: %v", expected, err)
		}
	}
	if _, err := store.Append(ctx, a, eventstore.Exact(1), []eventstore.EventData{forged}); err != nil {
		t.Fatalf("retry with revision 1: %v", err)
	}
	again := mustReadStream(ctx, t, store, a, 0, 0)
	if len(again) != len(streamA) {
		t.Fatalf("after the retries stream %s has %d events, want %d", a, len(again), len(streamA))
	}
	for i := range again {
		if again[i].Metadata.Hash != streamA[i].Metadata.Hash {
			t.Fatalf("revision %d: hash %s after the retries, want %s", i, again[i].Metadata.Hash, streamA[i].Metadata.Hash)
		}
	}

	filter := eventstore.Filter{CompanyID: company}
	all := readAll(ctx, t, store, eventstore.Start, filter, 0)
	for _, ev := range all {
		if ev.StreamID == a && ev.Metadata.Hash != streamA[ev.Revision].Metadata.Hash {
			t.Fatalf("subscription: revision %d hash %s, stream read %s", ev.Revision, ev.Metadata.Hash, streamA[ev.Revision].Metadata.Hash)
		}
	}
	report, err := eventstore.VerifyChain(ctx, store, filter)
	if err != nil {
		t.Fatalf("verify chain: %v", err)
	}
	if !report.Intact() || report.Events != 8 || report.Streams != 2 || report.Unchained != 0 || report.BrokenStreams != 0 {
		t.Fatalf("verify chain: %+v (broken: %v); want 8 events in 2 streams, intact", report, report.Broken)
	}
	if _, err := eventstore.VerifyChain(ctx, store, eventstore.Filter{Types: []string{"acc.created"}}); err == nil {
		t.Fatalf("verify chain with a type filter: no error; it cannot check whole streams")
	}
}

// assertChained checks that events, a whole stream in revision order,
// carry hashes chained from GenesisHash.
func assertChained(tb testing.TB, events []eventstore.RecordedEvent) {
	tb.Helper()
	prev := eventstore.GenesisHash
	for _, ev := range events {
		if raw, err := hex.DecodeString(ev.Metadata.Hash); err != nil || len(raw) != 32 {
			tb.Fatalf("stream %s revision %d: hash %q, want 64 hex digits", ev.StreamID, ev.Revision, ev.Metadata.Hash)
		}
		if want := eventstore.EventHash(prev, ev); ev.Metadata.Hash != want {
			tb.Fatalf("stream %s revision %d: hash %s, want %s chained to %s", ev.StreamID, ev.Revision, ev.Metadata.Hash, want, prev)
		}
		prev = ev.Metadata.Hash
	}
}
